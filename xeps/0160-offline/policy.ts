// Which messages for an offline user are worth keeping: XEP-0160 §3 (handling of message
// types), XEP-0085 §5.5 (standalone chat states are not stored), XEP-0334 §4 (storage hints).
//
// A message is stored when it carries something a client needs later: a body or subject, or
// any payload that is not merely transient. Treating unknown payloads as worth keeping makes
// encrypted messages (OMEMO, OpenPGP), receipts, chat markers, reactions and invitations reach
// the user without this file knowing each of them. Transient are chat states and the
// bookkeeping elements that ride along with every message (thread, hints, stanza ids, delays).
//
// A message that asks not to be stored (<no-store/>) is refused, so the sender learns it was
// not delivered (RFC 6121 §8.5.2.2.1: not stored means service-unavailable). A purely
// transient one is discarded quietly: XEP-0085 §5.5 lets a server drop standalone chat
// states, and an error for every "composing…" would only be noise. <no-permanent-store/>
// does not stop offline storage: it is temporary, which that hint allows (XEP-0334 §4.1).

import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** store: keep for the next login; refuse: service-unavailable to the sender; discard: drop. */
export type OfflineFate = 'store' | 'refuse' | 'discard';

/** Namespaces whose elements say nothing a user reads later. */
const TRANSIENT_NAMESPACES: ReadonlySet<string> = new Set([
  NS.CHATSTATES,
  NS.MESSAGE_EVENTS,
  NS.SID,
  NS.DELAY,
]);

export function offlineFate(message: Element): OfflineFate {
  switch (message.attrs.type) {
    // RFC 6121 §8.5.2.2.1 and XEP-0160 §3: headlines are time-sensitive, errors are not stored.
    case 'error':
    case 'headline':
      return 'discard';
    // A user without presence is in no room (XEP-0160 §3); RFC 6121 §8.5.2.2.1 bounces it.
    case 'groupchat':
      return 'refuse';
  }
  let content = false;
  let storeHint = false;
  let noStore = false;
  for (const child of message.children) {
    if (typeof child === 'string') continue;
    const ns = child.getNS();
    if (ns === NS.HINTS) {
      if (child.localName === 'no-store') noStore = true;
      else if (child.localName === 'store') storeHint = true;
    } else if (ns === undefined || ns === NS.CLIENT || ns === NS.SERVER) {
      // The stanza's own children: <body/> and <subject/> are content; <thread/> is not.
      if (child.localName === 'body' || child.localName === 'subject') content = true;
    } else if (!TRANSIENT_NAMESPACES.has(ns)) {
      content = true;
    }
  }
  if (noStore) return content ? 'refuse' : 'discard';
  return content || storeHint ? 'store' : 'discard';
}
