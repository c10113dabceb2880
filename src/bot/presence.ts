// The assistant's presence (RFC 6121 §3–4 from the contact's side): it accepts subscription
// requests from people allowed to use it and shows as online to them — on subscription, to the
// probes their servers send when they log in, and to every subscriber when it (re)connects. It
// never subscribes to anyone's presence itself.

import type { JID } from '../jid.js';
import { type Element, x } from '../xml/element.js';
import type { AllowList } from './allow.js';
import type { BotStore } from './store.js';

export interface PresenceOptions {
  /** The assistant's bare JID. */
  readonly jid: string;
  readonly status: string;
  readonly allow: AllowList;
  readonly store: BotStore;
  readonly send: (stanza: Element) => void;
}

export class Presence {
  constructor(private readonly options: PresenceOptions) {}

  /** A presence stanza addressed to the assistant's own JID. */
  handle(stanza: Element, from: JID): void {
    const { allow, store, send, jid } = this.options;
    switch (stanza.attrs.type) {
      case 'subscribe':
        if (allow.allows(from)) {
          store.addSubscriber(from.bare);
          send(x('presence', { from: jid, to: from.bare, type: 'subscribed' }));
          send(this.available(from.bare));
        } else send(x('presence', { from: jid, to: from.bare, type: 'unsubscribed' }));
        return;
      case 'unsubscribe':
        store.removeSubscriber(from.bare);
        send(x('presence', { from: jid, to: from.bare, type: 'unavailable' }));
        return;
      case 'probe':
        if (allow.allows(from)) send(this.available(from.bare));
        else send(x('presence', { from: jid, to: from.bare, type: 'unsubscribed' }));
        return;
      default:
        // Directed presence, unsubscribed (we never subscribe), errors: nothing to do.
        return;
    }
  }

  /** Tells every subscriber the assistant is online (after each connection). */
  announce(): void {
    for (const subscriber of this.options.store.subscribers()) this.options.send(this.available(subscriber));
  }

  /** Tells every subscriber the assistant goes offline (on a clean stop). */
  goodbye(): void {
    const { jid, send, store } = this.options;
    for (const subscriber of store.subscribers())
      send(x('presence', { from: jid, to: subscriber, type: 'unavailable' }));
  }

  private available(to: string): Element {
    return x('presence', { from: this.options.jid, to }, x('status', null, this.options.status));
  }
}
