// Which messages go into a user's archive.
//
// XEP-0313 §7.1.1 (user archives): chat and normal messages with a <body/> SHOULD be archived;
// headlines are not suggested; groupchat messages are left to the rooms, which archive their
// own. XEP-0334 §4: <no-permanent-store/> and <no-store/> keep a message out of the archive,
// <store/> asks for it to be kept. XEP-0085 §5.5: chat states alone are not worth keeping.
//
// The archive is permanent and a phone replays it on every catch-up, so beyond a body only
// payloads that a client needs from history are kept (listed below), not everything unknown:
// receipts, chat states and the like would double the archive and the catch-up traffic.
//
// XEP-0441 (archiving preferences) §2.1, §2.3: the always/never lists and the default mode.

import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/**
 * Namespaces of payloads that make a message worth archiving without a body: end-to-end
 * encrypted messages (whose body, if any, is only a fallback), reactions, retractions, read
 * markers (other devices learn from them what was read), and direct room invitations.
 */
const CONTENT_NAMESPACES: ReadonlyMap<string, string | undefined> = new Map([
  // XEP-0384 OMEMO (the legacy namespace most clients speak, and the current one)
  ['eu.siacs.conversations.axolotl', 'encrypted'],
  ['urn:xmpp:omemo:2', 'encrypted'],
  // XEP-0373 OpenPGP for XMPP, XEP-0027 (legacy)
  ['urn:xmpp:openpgp:0', 'openpgp'],
  ['jabber:x:encrypted', 'x'],
  // XEP-0444 message reactions
  ['urn:xmpp:reactions:0', 'reactions'],
  // XEP-0424 message retraction (0.x as a XEP-0422 fastening, 1.x on its own)
  ['urn:xmpp:message-retract:1', 'retract'],
  ['urn:xmpp:fasten:0', 'apply-to'],
  // XEP-0333: only 'displayed' says something other devices act on
  [NS.CHAT_MARKERS, 'displayed'],
  // XEP-0249 direct invitations (often without a body)
  [NS.CONFERENCE, 'x'],
]);

function isStanzaChild(ns: string | undefined): boolean {
  return ns === undefined || ns === NS.CLIENT || ns === NS.SERVER;
}

/** Whether a message routed to or from a local account belongs in its archive. */
export function isArchivable(message: Element): boolean {
  const type = message.attrs.type;
  const headline = type === 'headline';
  if (type !== undefined && type !== 'chat' && type !== 'normal' && !headline) return false;
  let content = false;
  let storeHint = false;
  for (const child of message.children) {
    if (typeof child === 'string') continue;
    const ns = child.getNS();
    const name = child.localName;
    if (isStanzaChild(ns)) {
      if (name === 'body') content = true;
    } else if (ns === NS.HINTS) {
      if (name === 'no-store' || name === 'no-permanent-store') return false;
      if (name === 'store') storeHint = true;
    } else if (ns === NS.MUC_USER) {
      // A room's mediated invitation (XEP-0045 §7.8.2); other muc#user payloads ride along.
      if (name === 'x' && child.getChild('invite', NS.MUC_USER)) content = true;
    } else if (ns !== undefined && CONTENT_NAMESPACES.get(ns) === name) {
      content = true;
    }
  }
  // A headline only when it asks to be kept: XEP-0313 does not suggest them, XEP-0334 <store/> does.
  return headline ? storeHint : content || storeHint;
}

/** XEP-0441 §2.1.1. */
export type DefaultMode = 'always' | 'never' | 'roster';

export const DEFAULT_MODES: readonly DefaultMode[] = ['always', 'never', 'roster'];

export function isDefaultMode(value: string | undefined): value is DefaultMode {
  return value === 'always' || value === 'never' || value === 'roster';
}

/** What the lists say of one contact: always, never, or nothing (the default applies). */
export type Listing = 'always' | 'never' | undefined;

/**
 * XEP-0441 §2.3.1: a listed full JID matches the contact as is, a listed bare JID matches its
 * bare JID. The more specific entry decides; `entries` maps each listed JID that matched to
 * its list.
 */
export function listingOf(contact: JID, entries: ReadonlyMap<string, boolean>): Listing {
  const exact = contact.resource === '' ? undefined : entries.get(contact.full);
  const listed = exact ?? entries.get(contact.bare);
  return listed === undefined ? undefined : listed ? 'always' : 'never';
}

/**
 * Whether to archive a message with a contact: the lists first, then the default mode
 * ('roster' asks `inRoster` about the contact's bare JID, and only then).
 */
export function shouldArchive(
  mode: DefaultMode,
  listing: Listing,
  inRoster: () => boolean | Promise<boolean>,
): boolean | Promise<boolean> {
  if (listing !== undefined) return listing === 'always';
  if (mode === 'roster') return inRoster();
  return mode === 'always';
}
