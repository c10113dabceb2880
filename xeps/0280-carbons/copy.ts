// XEP-0280 §7 (received copies) and §8 (sent copies): the wrapper, with XEP-0297 forwarding.
//
//   <message from='account (bare)' to='resource (full)' type='same as the original'>
//     <received xmlns='urn:xmpp:carbons:2'>        (or <sent/>)
//       <forwarded xmlns='urn:xmpp:forward:0'>
//         <message xmlns='jabber:client' …the original, as delivered…/>
//
// XEP-0313 §3.5: the sender's archive id never goes to the recipient, but a sent copy carries it
// (a <stanza-id/> by the account inside the forwarded message), so that the account's other
// clients can match the copy with what they later find in the archive.

import { type Attrs, Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { CarbonDirection } from './eligibility.js';

/**
 * A copy of `original` for one resource of `account`. Each copy is a tree of its own (the
 * original is cloned): a session may keep what it was sent for resending (XEP-0198), and
 * the original itself goes on to its recipient. `archivedId`: the id of a sent message in the
 * account's archive.
 */
export function carbonCopy(
  direction: CarbonDirection,
  original: Element,
  account: string,
  resource: string,
  archivedId?: string,
): Element {
  const attrs: Attrs = { from: account, to: resource };
  const type = original.attrs.type;
  if (type !== undefined) attrs.type = type;
  const copy = new Element('message', attrs);
  const forwarded = forwardable(original);
  if (archivedId !== undefined)
    forwarded.append(x('stanza-id', { xmlns: NS.SID, by: account, id: archivedId }));
  copy.c(direction, { xmlns: NS.CARBONS }).c('forwarded', { xmlns: NS.FORWARD }).append(forwarded);
  return copy;
}

/**
 * The original in jabber:client, stated on the element itself: inside <forwarded/> it would
 * otherwise fall into urn:xmpp:forward:0, and a stanza from a server stream is in jabber:server.
 */
function forwardable(original: Element): Element {
  const attrs: Attrs = { xmlns: NS.CLIENT };
  for (const key in original.attrs) {
    if (key !== 'xmlns') attrs[key] = original.attrs[key]!;
  }
  const copy = new Element(original.name, attrs);
  for (const child of original.children) copy.append(typeof child === 'string' ? child : child.clone());
  return copy;
}
