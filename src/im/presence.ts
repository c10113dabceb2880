// RFC 6121 §4: exchanging presence.
//
//   §4.2  initial presence: broadcast to subscribers ('from'/'both') and to the account's own
//         available resources, probes for the contacts ('to'/'both'), and the subscription
//         requests still waiting (§3.1.3 #4), stamped with when they arrived (XEP-0203)
//   §4.3  probes: answered with the last presence of each available resource (full JIDs,
//         original ids), unavailable from the bare JID when none is, "unsubscribed" to an
//         entity not allowed to see it; a probe to a full JID gets that resource alone
//   §4.4  subsequent presence: the same broadcast, without probes
//   §4.5  unavailable presence, sent by the client or made up by the server when the stream
//         ends without it; also to every entity the resource sent directed presence to
//   §4.6  directed presence: remembered per resource until it goes unavailable
//   §8.5.2.1.2, §8.5.3  inbound presence: to all available resources of a bare JID, to the
//         one resource of a full JID; the 'to' is never rewritten
//
// A local contact's presence is read from its sessions rather than probed (§4.3.1). Every
// stanza made here goes through the router, so that blocking and, later, server-to-server
// links see it like any other; only final delivery to a session happens here.

import type { StanzaEvent } from '../core/hooks.js';
import type { Router } from '../core/router.js';
import type { ClientSession } from '../core/session.js';
import type { SessionRegistry } from '../core/sessions.js';
import { type JID, parseJID, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import { Element, x } from '../xml/element.js';
import { parseStored, StoredXmlError } from '../xml/fragment.js';
import { NS } from '../xml/ns.js';
import type { Contact, Rosters } from './rosters.js';

/** What this module knows of one resource's presence session. */
interface ResourcePresence {
  /** Initial presence was broadcast and not withdrawn since. */
  available: boolean;
  /** Where the resource sent directed presence (§4.6), as addressed. */
  readonly directed: Set<string>;
}

/** A resource that sends directed presence to more entities stops being tracked beyond this. */
const MAX_DIRECTED = 1000;

export class Presences {
  private readonly resources = new WeakMap<ClientSession, ResourcePresence>();
  private ids = 0;

  constructor(
    private readonly router: Router,
    private readonly sessions: SessionRegistry,
    private readonly rosters: Rosters,
    private readonly log: Logger,
    /** Whether the user blocks the contact (XEP-0191, when loaded). */
    private readonly blocks: (user: JID, contact: JID) => boolean | Promise<boolean> = () => false,
  ) {}

  // ---- what the account's own resources send ----

  /** A presence without 'to' (§4.2, §4.4, §4.5): the router's 'presence/broadcast'. */
  async broadcast(session: ClientSession, stanza: Element): Promise<void> {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return;
    const state = this.stateOf(session);
    if (type === 'unavailable') {
      const wasAvailable = state.available;
      state.available = false;
      await this.withdraw(session, stanza, wasAvailable, state);
      return;
    }
    const initial = !state.available;
    state.available = true;
    const user = session.jid.bareJID();
    const roster = await this.rosters.contacts(user);
    const out = new Outbox(this.router);
    for (const item of roster.values()) {
      if (item.subscription === 'from' || item.subscription === 'both') {
        out.send(readdressed(stanza, item.contact), session.jid, item.jid);
      }
    }
    // §4.2.2, §4.4.2: every available resource of the account, the sender included.
    for (const own of this.sessions.resources(user)) {
      if (own.available) out.send(readdressed(stanza, own.jid.full), session.jid, own.jid);
    }
    await out.done();
    if (initial) {
      await this.probeContacts(session, roster);
      await this.deliverRequests(session);
    }
  }

  /** A presence with 'to' from one of the account's resources, before routing (§4.6.3). */
  trackDirected(session: ClientSession, to: JID, type: string | undefined): void {
    if (to.bare === session.jid.bare) return;
    const { directed } = this.stateOf(session);
    if (type === 'unavailable') directed.delete(to.full);
    else if (directed.size < MAX_DIRECTED) directed.add(to.full);
  }

  /** The resource's stream ended (§4.5.2: gracefully or not). */
  async closed(session: ClientSession): Promise<void> {
    const state = this.resources.get(session);
    this.resources.delete(session);
    const user = session.jid.bareJID();
    if (state && (state.available || state.directed.size > 0)) {
      // The server speaks for a client that left without saying so.
      const unavailable = x('presence', { type: 'unavailable', from: session.jid.full });
      await this.withdraw(session, unavailable, state.available, state);
    }
    if (!this.sessions.hasResources(user)) this.rosters.forget(user);
  }

  /**
   * §4.5.2: unavailable to the subscribers and own resources (if the resource was available)
   * and to every entity it sent directed presence to and was not told already (§4.6.3 #2).
   */
  private async withdraw(
    session: ClientSession,
    stanza: Element,
    wasAvailable: boolean,
    state: ResourcePresence,
  ): Promise<void> {
    const user = session.jid.bareJID();
    const out = new Outbox(this.router);
    const told = new Set<string>();
    if (wasAvailable) {
      for (const item of (await this.rosters.contacts(user)).values()) {
        if (item.subscription !== 'from' && item.subscription !== 'both') continue;
        out.send(readdressed(stanza, item.contact), session.jid, item.jid);
        told.add(item.contact);
      }
      // The sender too, when it is still there to hear it (§4.5.2).
      for (const own of this.sessions.resources(user)) {
        if (own.available || own === session)
          out.send(readdressed(stanza, own.jid.full), session.jid, own.jid);
      }
    }
    for (const target of state.directed) {
      const to = parseJID(target);
      if (told.has(to.bare) || to.bare === user.bare) continue;
      out.send(readdressed(stanza, target), session.jid, to);
    }
    state.directed.clear();
    await out.done();
  }

  /** §4.2.2, §4.3.1: the presence of the contacts 'to'/'both' and of the account's other resources. */
  private async probeContacts(session: ClientSession, roster: ReadonlyMap<string, Contact>): Promise<void> {
    const user = session.jid.bareJID();
    const out = new Outbox(this.router);
    for (const own of this.sessions.resources(user)) {
      if (own !== session && own.available && own.presence) {
        out.send(readdressed(own.presence, session.jid.full), own.jid, session.jid);
      }
    }
    for (const item of roster.values()) {
      if (item.subscription !== 'to' && item.subscription !== 'both') continue;
      const contact = item.jid;
      if (this.router.isLocalHost(contact.domain)) {
        // §4.3.1: no probe needed for an account of this server; answer it in place.
        await this.answerProbe(contact, session.jid, undefined, true);
      } else {
        const probe = x('presence', { type: 'probe', id: this.nextId(), from: user.bare, to: contact.bare });
        out.send(probe, user, contact);
      }
    }
    await out.done();
  }

  /**
   * §3.1.3 #4: the requests that wait for an answer, again at each new available resource,
   * with a XEP-0203 notation of when they arrived — but none from a JID the user has blocked
   * since (XEP-0191 §3.3).
   */
  private async deliverRequests(session: ClientSession): Promise<void> {
    const user = session.jid.bareJID();
    for (const request of await this.rosters.requests(user)) {
      const contact = tryParseJID(request.contact);
      if (contact === undefined || (await this.blocks(user, contact))) continue;
      try {
        const stanza = parseStored(request.stanza);
        stanza.append(
          x('delay', {
            xmlns: NS.DELAY,
            from: user.domain,
            stamp: new Date(request.receivedAt).toISOString(),
          }),
        );
        session.send(stanza);
      } catch (err) {
        if (!(err instanceof StoredXmlError)) throw err;
        this.log.warn('stored subscription request does not parse; skipped', {
          from: request.contact,
          error: err,
        });
      }
    }
  }

  // ---- presence for local accounts ----

  /** 'presence/bare' without a subscription type or probe (§8.5.2.1.2, §8.5.2.2.2). */
  deliverToBare(event: StanzaEvent): void {
    const { stanza } = event;
    const unavailable = stanza.attrs.type === 'unavailable';
    for (const session of this.sessions.resources(event.to)) {
      if (unavailable) this.forgetDirected(session, event.from);
      if (session.available) session.send(stanza);
    }
  }

  /** 'presence/full' without a subscription type or probe (§8.5.3.1, §8.5.3.2.2). */
  deliverToFull(event: StanzaEvent): void {
    const session = this.sessions.get(event.to);
    if (!session) return;
    if (event.stanza.attrs.type === 'unavailable') this.forgetDirected(session, event.from);
    session.send(event.stanza);
  }

  /** §4.6.1: an entity that says it is unavailable no longer needs to be told so. */
  private forgetDirected(session: ClientSession, from: JID): void {
    const state = this.resources.get(session);
    if (!state || state.directed.size === 0) return;
    state.directed.delete(from.full);
    state.directed.delete(from.bare);
  }

  /**
   * §4.3.2: answers `prober`'s probe of the local account `user` (bare). `quiet` leaves out the
   * unavailable answer for an account with no available resource (the initial-presence case,
   * where silence means the same).
   */
  async answerProbe(user: JID, prober: JID, id: string | undefined, quiet = false): Promise<void> {
    const available = this.sessions.resources(user).filter((s) => s.available && s.presence);
    if (quiet && available.length === 0) return;
    // An account is implicitly subscribed to its own presence (§4.2.2).
    if (prober.bare !== user.bare && !(await this.rosters.isSubscriber(user, prober))) {
      // §4.3.2 #1, §8.5.1: the same answer whether or not the account exists.
      const unsubscribed = x('presence', { type: 'unsubscribed', id, from: user.bare, to: prober.bare });
      await this.route(unsubscribed, user, prober.bareJID());
      return;
    }
    const out = new Outbox(this.router);
    if (available.length === 0) {
      // §4.3.2 #3, from the bare JID, mirroring the probe's id (§4.3.2.1).
      out.send(x('presence', { type: 'unavailable', id, from: user.bare, to: prober.full }), user, prober);
    }
    // §4.3.2 #4: the full presence of each resource, with its own id.
    for (const s of available) out.send(readdressed(s.presence!, prober.full), s.jid, prober);
    await out.done();
  }

  /** §4.3.2 (probe of a full JID) and §4.6.6: that resource alone, and only whether it is there. */
  async answerFullProbe(event: StanzaEvent): Promise<void> {
    const resource = event.to;
    const user = resource.bareJID();
    const prober = event.from;
    const id = event.stanza.attrs.id;
    const session = this.sessions.get(resource);
    const directed = session !== undefined && this.sentDirectedTo(session, prober);
    if (!directed && prober.bare !== user.bare && !(await this.rosters.isSubscriber(user, prober))) {
      const unsubscribed = x('presence', { type: 'unsubscribed', id, from: user.bare, to: prober.bare });
      await this.route(unsubscribed, user, prober.bareJID());
      return;
    }
    const type = session?.available ? undefined : 'unavailable';
    await this.route(x('presence', { type, id, from: resource.full, to: prober.full }), resource, prober);
  }

  private sentDirectedTo(session: ClientSession, entity: JID): boolean {
    const directed = this.resources.get(session)?.directed;
    return directed !== undefined && (directed.has(entity.full) || directed.has(entity.bare));
  }

  // ---- for subscription changes (§3) ----

  /** §3.1.5: the current presence of each of the account's available resources, to `to`. */
  async sendCurrentPresence(user: JID, to: JID): Promise<void> {
    const out = new Outbox(this.router);
    for (const s of this.sessions.resources(user)) {
      if (s.available && s.presence) out.send(readdressed(s.presence, to.full), s.jid, to);
    }
    await out.done();
  }

  /** §3.2.2, §3.3.3: unavailable from each of the account's available resources, to `to`. */
  async sendUnavailable(user: JID, to: JID): Promise<void> {
    const out = new Outbox(this.router);
    for (const s of this.sessions.resources(user)) {
      if (!s.available) continue;
      out.send(
        x('presence', { type: 'unavailable', id: this.nextId(), from: s.jid.full, to: to.full }),
        s.jid,
        to,
      );
    }
    await out.done();
  }

  route(stanza: Element, from: JID, to: JID): void | Promise<void> {
    return this.router.route({ stanza, origin: undefined, from, to });
  }

  nextId(): string {
    return `p${(++this.ids).toString(36)}`;
  }

  private stateOf(session: ClientSession): ResourcePresence {
    let state = this.resources.get(session);
    if (!state) {
      state = { available: false, directed: new Set() };
      this.resources.set(session, state);
    }
    return state;
  }
}

/**
 * The stanza addressed to `to`, for routing on its own. It shares the original's child
 * elements, which nothing changes once a stanza is on its way, and copies the rest.
 */
export function readdressed(stanza: Element, to: string): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs, to });
  copy.children = stanza.children.slice();
  return copy;
}

/** Routes server-made stanzas and waits for those whose routing is asynchronous. */
export class Outbox {
  private pending: Array<Promise<void>> | undefined;

  constructor(private readonly router: Router) {}

  send(stanza: Element, from: JID, to: JID): void {
    const result = this.router.route({ stanza, origin: undefined, from, to });
    if (!result) return;
    if (this.pending) this.pending.push(result);
    else this.pending = [result];
  }

  done(): Promise<void> | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending && Promise.all(pending).then(() => undefined);
  }
}
