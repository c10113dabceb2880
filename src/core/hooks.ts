// The event bus that modules hook into. Events are named by where a stanza is going
// (`message/bare`, `iq/host`…) or by what happened (`session/bound`), and each name is tied
// to its payload type in HookEvents, so a misspelt event or a wrong payload fails to compile.
//
// Handlers run by descending priority. A handler that returns true has taken the event:
// later handlers do not run. Handlers may be async; dispatch stays synchronous until the
// first handler returns a promise, so the common all-synchronous path allocates nothing.

import type { JID } from '../jid.js';
import type { Logger } from '../log.js';
import type { Element } from '../xml/element.js';
import type { ClientSession, Session } from './session.js';

export type StanzaKind = 'message' | 'presence' | 'iq';
export type Destination = 'host' | 'bare' | 'full';

/** A stanza on its way to a local destination, or from a local client before routing. */
export interface StanzaEvent {
  stanza: Element;
  /** The session the stanza arrived on, when it came from a connection of ours. */
  origin: Session | undefined;
  from: JID;
  /** Where it is going. For a client stanza without `to`, the sender's bare JID (RFC 6120 §10.3). */
  to: JID;
  /**
   * Set when the stanza was routed once already and comes back because its recipient went
   * away before acknowledging it (XEP-0198): archives and copies were made the first time.
   */
  redelivery?: true;
}

export interface HookEvents extends Record<`${StanzaKind}/${Destination}`, StanzaEvent> {
  /** A stanza from a bound local client, before routing: blocking, rate limits, rewriting. */
  'pre-route': StanzaEvent;
  /** A stanza for a domain that is neither served here nor a registered service. */
  'route/remote': StanzaEvent;
  /** A presence from a client without `to`: its broadcast presence (RFC 6121 §4.2, §4.4). */
  'presence/broadcast': StanzaEvent;
  /** A message for a local account none of whose resources can take it now. */
  'message/offline': StanzaEvent;
  /** A message was handed to these sessions of the account it was for (after the fact). */
  'message/delivered': StanzaEvent & { sessions: readonly ClientSession[] };
  'session/bound': { session: ClientSession };
  /**
   * A hibernating or moved session was taken over by a new connection (XEP-0198 §5). The
   * stream is new: state that belongs to a stream, like XEP-0352 client state, starts afresh.
   */
  'session/resumed': { session: ClientSession };
  'session/closed': { session: ClientSession; error: string | undefined };
  'account/created': { jid: JID };
  /**
   * An account is about to be deleted, its data all still there: for what must be done in its
   * name first (cancelling its presence subscriptions, XEP-0077 §3.2). Awaited; a handler that
   * throws stops the deletion.
   */
  'account/deleting': { jid: JID };
  'account/deleted': { jid: JID };
  'server/started': Record<string, never>;
  'server/stopping': Record<string, never>;
}

export type HookName = keyof HookEvents;
export type HookResult = boolean | undefined;
export type HookHandler<K extends HookName> = (
  event: HookEvents[K],
) => HookResult | void | Promise<HookResult | void>;

interface Registration {
  handler: (event: never) => HookResult | void | Promise<HookResult | void>;
  priority: number;
  seq: number;
}

export class Hooks {
  private readonly handlers = new Map<HookName, Registration[]>();
  private seq = 0;

  /** Where a failing notification handler is reported (see notify). */
  constructor(private readonly log?: Logger) {}

  /** Registers a handler; returns the function that removes it. */
  on<K extends HookName>(name: K, handler: HookHandler<K>, priority = 0): () => void {
    const list = this.handlers.get(name) ?? [];
    const reg: Registration = { handler: handler as Registration['handler'], priority, seq: this.seq++ };
    list.push(reg);
    // Stable: equal priorities run in registration order.
    list.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.handlers.set(name, list);
    return () => {
      const current = this.handlers.get(name);
      if (!current) return;
      const i = current.indexOf(reg);
      if (i >= 0) current.splice(i, 1);
    };
  }

  has(name: HookName): boolean {
    return (this.handlers.get(name)?.length ?? 0) > 0;
  }

  /**
   * Runs the handlers of `name`. Returns whether one of them took the event — synchronously
   * when every handler was synchronous, else as a promise.
   */
  fire<K extends HookName>(name: K, event: HookEvents[K]): boolean | Promise<boolean> {
    const list = this.handlers.get(name);
    if (!list || list.length === 0) return false;
    // A snapshot, so that a handler removing itself does not skip its neighbour.
    const snapshot = list.length === 1 ? list : list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      const result = (snapshot[i]!.handler as HookHandler<K>)(event);
      if (result === true) return true;
      if (result instanceof Promise) return this.continueAsync(snapshot, i, result, event);
    }
    return false;
  }

  /**
   * Tells every handler of a notification event ('session/closed', 'presence/broadcast'…),
   * in priority order, waiting for each asynchronous one. A handler that fails is logged and
   * the others still run: one module's bug must not cost another module its event, nor
   * escape into the connection that fired it. Synchronous when every handler is.
   */
  notify<K extends HookName>(name: K, event: HookEvents[K]): void | Promise<void> {
    const list = this.handlers.get(name);
    if (!list || list.length === 0) return;
    const snapshot = list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      let result: HookResult | void | Promise<HookResult | void>;
      try {
        result = (snapshot[i]!.handler as HookHandler<K>)(event);
      } catch (err) {
        this.report(name, err);
        continue;
      }
      if (result instanceof Promise) return this.notifyAsync(name, event, snapshot, i, result);
    }
  }

  private async notifyAsync<K extends HookName>(
    name: K,
    event: HookEvents[K],
    list: Registration[],
    index: number,
    pending: Promise<HookResult | void>,
  ): Promise<void> {
    try {
      await pending;
    } catch (err) {
      this.report(name, err);
    }
    for (let i = index + 1; i < list.length; i++) {
      try {
        await (list[i]!.handler as HookHandler<K>)(event);
      } catch (err) {
        this.report(name, err);
      }
    }
  }

  private report(name: HookName, err: unknown): void {
    if (this.log) this.log.error('hook handler failed', { hook: name, error: err });
    else throw err;
  }

  private async continueAsync<K extends HookName>(
    list: Registration[],
    index: number,
    pending: Promise<HookResult | void>,
    event: HookEvents[K],
  ): Promise<boolean> {
    if ((await pending) === true) return true;
    for (let i = index + 1; i < list.length; i++) {
      if ((await (list[i]!.handler as HookHandler<K>)(event)) === true) return true;
    }
    return false;
  }
}
