// The router: gives every stanza exactly one fate. It knows nothing of any extension; it
// classifies the destination, fires the matching hook (`message/bare`, `iq/host`, …), and
// when no module takes the stanza, applies the default rules of RFC 6120 §10 and
// RFC 6121 §8.5 registered below at the lowest priority.

import { type JID, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import type { Element } from '../xml/element.js';
import { errorReply, StanzaError, type StanzaErrorCondition } from './errors.js';
import type { Destination, Hooks, StanzaEvent, StanzaKind } from './hooks.js';
import { IqHandlers, type IqScope, PendingRequests, runIqHandler } from './iq.js';
import type { ClientSession, Session } from './session.js';
import type { SessionRegistry } from './sessions.js';

/** Something that takes every stanza for a domain: a component, or a service like MUC. */
export type ServiceHandler = (event: StanzaEvent) => void;

export interface AccountExistence {
  exists(jid: JID): Promise<boolean>;
}

const FALLBACK_PRIORITY = -1000;

export class Router {
  readonly iq = new IqHandlers();
  readonly pending = new PendingRequests();
  private readonly services = new Map<string, ServiceHandler>();

  constructor(
    readonly hosts: ReadonlySet<string>,
    readonly hooks: Hooks,
    readonly sessions: SessionRegistry,
    private readonly accounts: AccountExistence,
    private readonly log: Logger,
  ) {
    this.registerDefaultFates();
  }

  isLocalHost(domain: string): boolean {
    return this.hosts.has(domain);
  }

  /** Routes every stanza for `domain` to `handler`; returns the function that undoes it. */
  registerService(domain: string, handler: ServiceHandler): () => void {
    if (this.services.has(domain)) throw new Error(`a service for ${domain} is already registered`);
    this.services.set(domain, handler);
    return () => {
      if (this.services.get(domain) === handler) this.services.delete(domain);
    };
  }

  hasService(domain: string): boolean {
    return this.services.has(domain);
  }

  serviceDomains(): string[] {
    return [...this.services.keys()];
  }

  /**
   * Routes a stanza whose `from` and `to` the caller has already checked. Returns a promise
   * only when the stanza's fate waits on asynchronous work (storage, async hooks), so that a
   * session can keep its stanzas in order; the promise never rejects — failures are logged
   * and the sender gets internal-server-error.
   */
  route(event: StanzaEvent): void | Promise<void> {
    let result: void | Promise<void>;
    try {
      result = this.dispatch(event);
    } catch (err) {
      this.fail(event, err);
      return;
    }
    if (result instanceof Promise) return result.catch((err: unknown) => this.fail(event, err));
  }

  /**
   * Sends a stanza that the server itself originates (replies, notifications, pushes).
   * `from` and `to` must be set; a malformed one is a bug and is logged.
   */
  send(stanza: Element): void {
    const from = tryParseJID(stanza.attrs.from ?? '');
    const to = tryParseJID(stanza.attrs.to ?? '');
    if (!from || !to) {
      // The addresses and kind only: a log line never carries what was said.
      this.log.error('server tried to send a stanza without valid from/to', {
        kind: stanza.name,
        type: stanza.attrs.type,
        from: stanza.attrs.from,
        to: stanza.attrs.to,
        stack: new Error().stack,
      });
      return;
    }
    void this.route({ stanza, origin: undefined, from, to });
  }

  /**
   * Routes again a stanza that was delivered to a session which ended before acknowledging
   * it (XEP-0198 §4), marked so that modules do not archive or copy it a second time.
   */
  redeliver(stanza: Element): void {
    const from = tryParseJID(stanza.attrs.from ?? '');
    const to = tryParseJID(stanza.attrs.to ?? '');
    if (!from || !to) return;
    void this.route({ stanza, origin: undefined, from, to, redelivery: true });
  }

  /** Sends an iq from the server and resolves with the reply (result or error stanza). */
  request(iq: Element, timeoutMs = 30_000): Promise<Element> {
    if (iq.attrs.id === undefined) iq.attrs.id = this.pending.nextId();
    const reply = this.pending.wait(iq.attrs.id, iq.attrs.to ?? '', timeoutMs);
    this.send(iq);
    return reply;
  }

  /** Answers `stanza` with an error, unless it is itself an error or an iq result. */
  bounce(stanza: Element, condition: StanzaErrorCondition | StanzaError, text?: string): void {
    const error = typeof condition === 'string' ? new StanzaError(condition, text) : condition;
    const reply = errorReply(stanza, error);
    if (reply) this.send(reply);
  }

  private dispatch(event: StanzaEvent): void | Promise<void> {
    const kind = event.stanza.name as StanzaKind;
    const to = event.to;
    let destination: Destination;
    if (this.hosts.has(to.domain)) {
      destination = to.local === '' ? 'host' : to.resource === '' ? 'bare' : 'full';
    } else {
      const service = this.services.get(to.domain);
      if (service) {
        service(event);
        return;
      }
      return this.settle(event, this.hooks.fire('route/remote', event), 'route/remote');
    }
    return this.settle(event, this.hooks.fire(`${kind}/${destination}`, event), `${kind}/${destination}`);
  }

  private settle(
    event: StanzaEvent,
    handled: boolean | Promise<boolean>,
    name: string,
  ): void | Promise<void> {
    if (handled === true) return;
    if (handled === false) return this.unhandled(event, name);
    return handled.then((taken) => {
      if (!taken) this.unhandled(event, name);
    });
  }

  private unhandled(event: StanzaEvent, name: string): void {
    // The fallbacks below take every event they are registered for; reaching this means a
    // module removed one, or a stanza kind slipped past the stream's checks.
    this.log.warn('stanza had no fate; dropped', { hook: name, from: event.from.full, to: event.to.full });
  }

  private fail(event: StanzaEvent, err: unknown): void {
    this.log.error('routing failed', { from: event.from.full, to: event.to.full, error: err });
    this.bounceEvent(event, 'internal-server-error');
  }

  private registerDefaultFates(): void {
    const on = this.hooks.on.bind(this.hooks);
    on('route/remote', (e) => this.unreachable(e), FALLBACK_PRIORITY);

    on('iq/host', (e) => this.handleIq(e, 'host'), FALLBACK_PRIORITY);
    on('iq/bare', (e) => this.handleIq(e, 'account'), FALLBACK_PRIORITY);
    on('iq/full', (e) => this.iqToFull(e), FALLBACK_PRIORITY);

    on('message/host', (e) => this.bounceEvent(e, 'service-unavailable'), FALLBACK_PRIORITY);
    on('message/bare', (e) => this.messageToBare(e), FALLBACK_PRIORITY);
    on('message/full', (e) => this.messageToFull(e), FALLBACK_PRIORITY);
    on('message/offline', (e) => this.bounceEvent(e, 'service-unavailable'), FALLBACK_PRIORITY);

    on('presence/host', () => true, FALLBACK_PRIORITY);
    on('presence/bare', (e) => this.presenceToBare(e), FALLBACK_PRIORITY);
    on('presence/full', (e) => this.presenceToFull(e), FALLBACK_PRIORITY);
    on('presence/broadcast', () => true, FALLBACK_PRIORITY);
  }

  /**
   * No route to the stanza's domain. Messages and requests are bounced; presence is dropped,
   * since every broadcast to a contact there would otherwise come back as an error.
   */
  private unreachable(event: StanzaEvent): true {
    if (event.stanza.name === 'presence') {
      this.log.debug('presence for an unreachable domain dropped', { to: event.to.domain });
      return true;
    }
    return this.bounceEvent(event, 'remote-server-not-found');
  }

  /**
   * Bounces a routed stanza. A client's stanza without `to` was for its own account, and
   * the answer comes from the account's bare JID (RFC 6120 §8.1.2.1).
   */
  private bounceEvent(event: StanzaEvent, condition: StanzaErrorCondition): true {
    const reply = errorReply(event.stanza, new StanzaError(condition));
    if (reply) {
      reply.attrs.from ??= event.to.full;
      this.send(reply);
    }
    return true;
  }

  private handleIq(event: StanzaEvent, scope: IqScope): true | Promise<true> {
    const { stanza } = event;
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      this.pending.settle(stanza, event.from.full);
      return true;
    }
    const payload = stanza.elements[0];
    if (!payload || (type !== 'get' && type !== 'set')) {
      this.bounceEvent(event, 'bad-request');
      return true;
    }
    let handler = this.iq.find(scope, type, payload);
    // A client's iq without `to` is for its own account (RFC 6120 §10.3.3); requests that
    // only the server can answer (ping, disco of the server) are answered by it too.
    if (!handler && scope === 'account' && stanza.attrs.to === undefined)
      handler = this.iq.find('host', type, payload);
    if (!handler) {
      // RFC 6121 §8.5.1, §8.5.2.1.3: the same answer whether or not the account exists.
      this.bounceEvent(event, 'service-unavailable');
      return true;
    }
    return runIqHandler(
      handler,
      { stanza, payload, from: event.from, to: event.to, origin: event.origin },
      this.log,
    ).then((reply) => {
      reply.attrs.from ??= event.to.full;
      this.send(reply);
      return true as const;
    });
  }

  private iqToFull(event: StanzaEvent): true {
    const session = this.sessions.get(event.to);
    if (session) {
      session.send(event.stanza);
      return true;
    }
    const type = event.stanza.attrs.type;
    if (type === 'get' || type === 'set') this.bounceEvent(event, 'service-unavailable');
    return true;
  }

  private messageToFull(event: StanzaEvent): true | Promise<boolean> {
    const session = this.sessions.get(event.to);
    if (session) {
      session.send(event.stanza);
      this.delivered(event, [session]);
      return true;
    }
    // RFC 6121 §8.5.3.2.1: no such resource.
    switch (messageType(event.stanza)) {
      case 'groupchat':
        this.bounceEvent(event, 'service-unavailable');
        return true;
      case 'headline':
      case 'error':
        return true;
      default:
        return this.hooks.fire('message/bare', { ...event, to: event.to.bareJID() }) as
          | true
          | Promise<boolean>;
    }
  }

  private messageToBare(event: StanzaEvent): true | Promise<true> {
    const type = messageType(event.stanza);
    if (type === 'error') return true;
    const resources = this.sessions.resources(event.to);
    if (resources.length === 0) return this.messageToBareWithoutSessions(event, type);
    if (type === 'groupchat') {
      this.bounceEvent(event, 'service-unavailable');
      return true;
    }
    const targets = type === 'headline' ? availableResources(resources) : topResources(resources);
    if (targets.length === 0) return this.messageWhenUnavailable(event, type);
    for (const session of targets) session.send(event.stanza);
    this.delivered(event, targets);
    return true;
  }

  private async messageToBareWithoutSessions(event: StanzaEvent, type: string): Promise<true> {
    if (!(await this.accounts.exists(event.to))) {
      // RFC 6121 §8.5.1: no such account.
      if (type !== 'headline') this.bounceEvent(event, 'service-unavailable');
      return true;
    }
    if (type === 'groupchat') {
      this.bounceEvent(event, 'service-unavailable');
      return true;
    }
    return this.messageWhenUnavailable(event, type);
  }

  /** RFC 6121 §8.5.2.2.1: the account exists but no resource takes messages now. */
  private messageWhenUnavailable(event: StanzaEvent, type: string): true | Promise<true> {
    if (type !== 'normal' && type !== 'chat') return true;
    const handled = this.hooks.fire('message/offline', event);
    return handled instanceof Promise ? handled.then(() => true as const) : true;
  }

  private presenceToBare(event: StanzaEvent): true {
    const type = event.stanza.attrs.type;
    // Subscription management and probes belong to the IM module; without it they end here.
    if (type !== undefined && type !== 'unavailable') return true;
    for (const session of this.sessions.resources(event.to)) {
      if (session.available) session.send(event.stanza);
    }
    return true;
  }

  private presenceToFull(event: StanzaEvent): true | Promise<boolean> {
    const type = event.stanza.attrs.type;
    if (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed') {
      // RFC 6121 §3: subscription stanzas are about the bare JID.
      return this.hooks.fire('presence/bare', { ...event, to: event.to.bareJID() }) as
        | true
        | Promise<boolean>;
    }
    const session = this.sessions.get(event.to);
    if (session && type !== 'probe') session.send(event.stanza);
    return true;
  }

  /** Tells modules (carbons…) which of the account's sessions got a message. */
  private delivered(event: StanzaEvent, sessions: ClientSession[]): void {
    if (!this.hooks.has('message/delivered')) return;
    void this.hooks.notify('message/delivered', { ...event, sessions });
  }
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set(['chat', 'error', 'groupchat', 'headline', 'normal']);

/** RFC 6121 §5.2.2: a message without a type, or of a type not understood, is of type normal. */
function messageType(message: Element): string {
  const type = message.attrs.type;
  return type !== undefined && MESSAGE_TYPES.has(type) ? type : 'normal';
}

/** Resources with available presence and non-negative priority (RFC 6121 §8.5.2.1). */
function availableResources(sessions: ClientSession[]): ClientSession[] {
  return sessions.filter((s) => s.available && s.priority >= 0);
}

/** The available resources sharing the highest non-negative priority. */
function topResources(sessions: ClientSession[]): ClientSession[] {
  let best = -1;
  let out: ClientSession[] = [];
  for (const s of sessions) {
    if (!s.available || s.priority < 0) continue;
    if (s.priority > best) {
      best = s.priority;
      out = [s];
    } else if (s.priority === best) out.push(s);
  }
  return out;
}

export type { Session };
