// XEP-0060 event notifications (§7.1.2.1 items with payloads, §7.2.2.1 retractions, §8.4.2
// node deletion, §8.5.2 purge) as a PEP service sends them: from the account's bare JID
// (XEP-0163 §4.3.1), typed as the node is configured (headline by default: notifications do
// not go to offline storage, XEP-0060 §12.7), each with an id of its own (§12.3). Pure.

import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { NotificationType } from './config.js';

/** The <event/> of a publication: the item with its payload, or only its id. */
export function itemsEvent(node: string, id: string, payload: Element | undefined): Element {
  return x('event', { xmlns: NS.PUBSUB_EVENT }, x('items', { node }, x('item', { id }, payload)));
}

export function retractEvent(node: string, ids: readonly string[]): Element {
  return x(
    'event',
    { xmlns: NS.PUBSUB_EVENT },
    x(
      'items',
      { node },
      ids.map((id) => x('retract', { id })),
    ),
  );
}

export function purgeEvent(node: string): Element {
  return x('event', { xmlns: NS.PUBSUB_EVENT }, x('purge', { node }));
}

export function deleteEvent(node: string): Element {
  return x('event', { xmlns: NS.PUBSUB_EVENT }, x('delete', { node }));
}

/**
 * The notification message for one recipient. The <event/> is shared between the messages of
 * one event: nothing changes a stanza's payload once it is on its way.
 */
export function notification(
  from: string,
  to: string,
  id: string,
  type: NotificationType,
  event: Element,
): Element {
  const message = x('message', { from, to, type, id });
  // Shared, not adopted: the event keeps its first parent, which only matters for namespace
  // lookups, and it declares its own namespace.
  message.children.push(event);
  return message;
}
