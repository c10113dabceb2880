// The jabber:iq:roster payloads (RFC 6121 §2.1): reading a roster set with the checks and
// errors of §2.1.5 and §2.3.3, and writing items for roster results and pushes (§2.1.4, §2.1.6).

import { StanzaError } from '../core/errors.js';
import { type JID, tryParseJID } from '../jid.js';
import { type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { ItemState } from './store.js';

export interface RosterTextLimits {
  /** Longest 'name' attribute, in UTF-8 bytes (§2.3.3 "server-configured limit"). */
  readonly maxNameBytes: number;
  /** Longest <group/> text, in UTF-8 bytes. */
  readonly maxGroupBytes: number;
}

/** What a valid roster set asks for. */
export type RosterSetRequest =
  | {
      readonly kind: 'update';
      readonly contact: JID;
      readonly name: string | undefined;
      readonly groups: string[];
    }
  | { readonly kind: 'remove'; readonly contact: JID };

/**
 * Reads the <query/> of a roster set from `user`, or throws the stanza error §2.3.3 names.
 * The 'subscription' attribute counts only as "remove" (§2.1.5 rule 2); 'ask' and 'approved'
 * are the server's to set (§2.1.2.1, §2.1.2.2) and are ignored.
 */
export function parseRosterSet(query: Element, user: JID, limits: RosterTextLimits): RosterSetRequest {
  const items = query.getChildren('item', NS.ROSTER);
  if (items.length !== 1) {
    throw new StanzaError('bad-request', 'a roster set carries exactly one <item/>');
  }
  const item = items[0]!;
  const jidAttr = item.attrs.jid;
  if (jidAttr === undefined) throw new StanzaError('bad-request', 'the item has no jid attribute');
  const contact = tryParseJID(jidAttr);
  if (!contact) throw new StanzaError('jid-malformed', 'the item jid is not a valid JID');
  if (!contact.isBare())
    throw new StanzaError('bad-request', 'a roster item is a bare JID, without resource');
  if (contact.bare === user.bare) {
    // §2.3.3 interoperability note: a roster does not list its own account.
    throw new StanzaError('not-allowed', 'your own JID cannot be in your roster');
  }
  if (item.attrs.subscription === 'remove') return { kind: 'remove', contact };

  const groups: string[] = [];
  const seen = new Set<string>();
  for (const child of item.elements) {
    if (child.localName !== 'group' || child.getNS() !== NS.ROSTER) continue;
    const group = child.text;
    // §2.1.2.6 compares groups as resourceparts would be (RFC 7622 OpaqueString: NFC).
    const key = group.normalize('NFC');
    if (seen.has(key)) throw new StanzaError('bad-request', `the group "${group}" is given twice`);
    seen.add(key);
    groups.push(group);
  }
  for (const group of groups) {
    if (group.length === 0) {
      throw new StanzaError('not-acceptable', 'a group name cannot be empty; leave out <group/> instead');
    }
    if (exceeds(group, limits.maxGroupBytes)) {
      throw new StanzaError('not-acceptable', `a group name is longer than ${limits.maxGroupBytes} bytes`);
    }
  }
  // §2.4.1 implementation note: an empty name is the same as none.
  const name = item.attrs.name || undefined;
  if (name !== undefined && exceeds(name, limits.maxNameBytes)) {
    throw new StanzaError('not-acceptable', `the name is longer than ${limits.maxNameBytes} bytes`);
  }
  return { kind: 'update', contact, name, groups };
}

function exceeds(text: string, maxBytes: number): boolean {
  // A UTF-16 code unit is at most three UTF-8 bytes: short strings need no counting.
  return text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes;
}

/** An <item/> of a roster result or push; `item` undefined is a removal (§2.5.2). */
export function itemElement(contact: string, item: ItemState | undefined): Element {
  if (!item) return x('item', { jid: contact, subscription: 'remove' });
  return x(
    'item',
    {
      jid: contact,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask ? 'subscribe' : undefined,
      approved: item.approved ? 'true' : undefined,
    },
    item.groups.map((group) => x('group', null, group)),
  );
}

export function rosterQuery(ver: string, items: Element[]): Element {
  return x('query', { xmlns: NS.ROSTER, ver }, items);
}
