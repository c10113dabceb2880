// XEP-0352: Client State Indication — https://xmpp.org/extensions/xep-0352.html
// §1 and §3 leave it to the server what it does for an inactive client; this file decides, for
// one stanza on its way to such a client, whether it may wait, and what it supersedes. The
// examples of §1 are followed: presence updates wait and only the latest from each sender
// reaches the client (folded), XEP-0085 chat states wait folded the same way, and PEP
// notifications wait, one per item. XEP-0184 receipts and XEP-0333 markers wait unfolded (each
// names its own message). Everything else is urgent: iq of any kind (a request must be
// answered; a result is what the client is waiting for), subscription requests, presence
// errors and MUC self-presence, messages with a body or a subject, encrypted messages,
// invitations, calls, and any payload not known here to be harmless.

import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** What may be held back (the module's configuration turns each off). */
export interface HoldPolicy {
  readonly presence: boolean;
  readonly chatStates: boolean;
  /** XEP-0184 receipts and XEP-0333 chat markers without a body. */
  readonly receipts: boolean;
  readonly pep: boolean;
}

/**
 * The fate of a stanza for an inactive client: urgent (sent at once, after everything held),
 * or held back. A held stanza with a `fold` key supersedes an earlier held one with the same key.
 */
export type Importance =
  | { readonly urgent: true }
  | { readonly urgent: false; readonly fold: string | undefined };

export const URGENT: Importance = Object.freeze({ urgent: true });
/** Held, superseding nothing. */
export const HELD: Importance = Object.freeze({ urgent: false, fold: undefined });

// Fold keys: a kind, then addresses and names separated by NUL, which no XML text may contain.
const PRESENCE_KEY = 'presence\0';
const CHAT_STATE_KEY = 'chatstate\0';
const PEP_KEY = 'pep\0';

// What a message carries, as bits.
const CHAT_STATE = 1;
const RECEIPT = 2;
const PEP = 4;

/**
 * Classifies a stanza sent to a client of `account` (a bare JID) while the client is inactive.
 */
export function importance(stanza: Element, account: string, policy: HoldPolicy): Importance {
  switch (stanza.name) {
    case 'presence':
      return presenceImportance(stanza, policy);
    case 'message':
      return messageImportance(stanza, account, policy, true);
    default:
      return URGENT;
  }
}

function presenceImportance(presence: Element, policy: HoldPolicy): Importance {
  const { type, from } = presence.attrs;
  // Subscription requests and answers, and errors (a room refusing a join), need the user.
  if (!policy.presence || (type !== undefined && type !== 'unavailable') || from === undefined) return URGENT;
  if (isMucSelfPresence(presence)) return URGENT;
  return { urgent: false, fold: PRESENCE_KEY + from };
}

/** XEP-0045 §7.2.3: status 110 marks the client's own occupant presence (joined, left, kicked). */
function isMucSelfPresence(presence: Element): boolean {
  for (const child of presence.children) {
    if (typeof child === 'string' || child.localName !== 'x' || child.getNS() !== NS.MUC_USER) continue;
    for (const status of child.children) {
      if (typeof status !== 'string' && status.localName === 'status' && status.attrs.code === '110')
        return true;
    }
  }
  return false;
}

/**
 * `outer`: the message as sent to the client. A XEP-0280 copy from the client's own account is
 * judged by the message it carries.
 */
function messageImportance(
  message: Element,
  account: string,
  policy: HoldPolicy,
  outer: boolean,
): Importance {
  if (message.attrs.type === 'error') return URGENT;
  let kinds = 0;
  let event: Element | undefined;
  let carried: Element | undefined;
  for (const child of message.children) {
    if (typeof child === 'string') continue;
    const ns = child.getNS();
    switch (ns) {
      case NS.CHATSTATES:
        kinds |= CHAT_STATE;
        break;
      case NS.RECEIPTS:
      case NS.CHAT_MARKERS:
        kinds |= RECEIPT;
        break;
      case NS.PUBSUB_EVENT:
        if (event !== undefined || child.localName !== 'event') return URGENT;
        event = child;
        kinds |= PEP;
        break;
      case NS.CARBONS:
        if (child.localName === 'private') break;
        if (!outer || carried !== undefined || message.attrs.from !== account) return URGENT;
        carried = child.getChild('forwarded', NS.FORWARD)?.getChild('message');
        if (carried === undefined) return URGENT;
        break;
      case NS.DELAY:
      case NS.SID:
      case NS.HINTS:
        break;
      default:
        // <thread/> is bookkeeping; <body/>, <subject/> and every other payload make it urgent.
        if (child.localName === 'thread' && isStanzaNamespace(ns)) break;
        return URGENT;
    }
  }
  if (carried !== undefined) {
    return kinds === 0 ? messageImportance(carried, account, policy, false) : URGENT;
  }
  if (
    (kinds & CHAT_STATE && !policy.chatStates) ||
    (kinds & RECEIPT && !policy.receipts) ||
    (kinds & PEP && !policy.pep)
  ) {
    return URGENT;
  }
  if (kinds === CHAT_STATE) return chatStateImportance(message);
  if (kinds === PEP) return pepImportance(event!, message.attrs.from);
  return HELD;
}

/** The stanza's own namespace: unstated on a client stream, or stated as the stream's. */
function isStanzaNamespace(ns: string | undefined): boolean {
  return ns === undefined || ns === NS.CLIENT || ns === NS.SERVER;
}

/**
 * A chat state supersedes the previous one of the same sender in the same conversation. The
 * sender's full JID, because the occupants of a room share its bare JID (in private messages as
 * in the room); the recipient's bare JID, because a carbon copy says what another resource of
 * the account was told.
 */
function chatStateImportance(message: Element): Importance {
  const { from, to } = message.attrs;
  if (from === undefined || to === undefined) return HELD;
  const slash = to.indexOf('/');
  return { urgent: false, fold: `${CHAT_STATE_KEY}${from}\0${slash < 0 ? to : to.slice(0, slash)}` };
}

/**
 * XEP-0060 §7.1.2.1: a notification of one published or retracted item supersedes an earlier one
 * about the same item of the same node. Notifications of several items wait unfolded; purges,
 * node deletions and the like are rare and go at once.
 */
function pepImportance(event: Element, from: string | undefined): Importance {
  let items: Element | undefined;
  for (const child of event.children) {
    if (typeof child === 'string') continue;
    if (child.localName !== 'items' || items !== undefined) return URGENT;
    items = child;
  }
  const node = items?.attrs.node;
  if (node === undefined) return URGENT;
  let id: string | undefined;
  let count = 0;
  for (const child of items!.children) {
    if (typeof child === 'string') continue;
    if (child.localName !== 'item' && child.localName !== 'retract') return URGENT;
    id = child.attrs.id;
    count++;
  }
  if (count !== 1 || id === undefined || from === undefined) return HELD;
  return { urgent: false, fold: `${PEP_KEY}${from}\0${node}\0${id}` };
}
