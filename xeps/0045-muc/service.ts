// One MUC service domain (conference.example.org): every stanza for the domain arrives here
// from the router and is dispatched by where it is going — the service itself, a room's JID,
// an occupant JID — and what it is. Each room handles its stanzas one at a time, in order
// (room.queue). Rooms are kept in memory; persistent ones are loaded from the store at start.
//
// XEP-0045 §10.1.1 room creation (who may create rooms is the operator's choice; a new room is
// locked until configured, or until the lock times out and it takes the defaults), §17.3 IQs
// to occupant JIDs passed through to the occupant without revealing real JIDs (vCard
// requests to the user's bare JID), §14.2 status 332 for everyone when the service stops.

import { randomBytes } from 'node:crypto';
import { errorReply, StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { type IqAnswer, iqResult } from '../../src/core/iq.js';
import type { ServerContext } from '../../src/core/module.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import { Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { adminGet, adminSet } from './admin.js';
import { parseConfig, type RoomConfig } from './config.js';
import { type MucContext, MucExtensions, type ServiceLimits } from './context.js';
import { deliver } from './delivery.js';
import { roomInfo, roomItems, serviceInfo, serviceItems } from './disco.js';
import { formIn, readForm } from './forms.js';
import { handleInvitations } from './invitations.js';
import { handleError, handleGroupchat, handlePrivateMessage, refuse, sendFromRoom } from './messages.js';
import { ownerGet, ownerSet } from './owner.js';
import { announceChange, dismiss, handleOccupantPresence, refusePresence } from './presence.js';
import { registerGet, registerSet } from './register.js';
import { Room, type RoomObserver } from './room.js';
import { type MucStore, storedRoom } from './store.js';
import { vcardGet, vcardSet } from './vcard.js';
import { handleVoiceForm } from './voice.js';

/** Who may create rooms. */
export type CreationPolicy = 'anyone' | 'local' | 'admins';

export interface ServiceOptions {
  readonly domain: string;
  /** The service's name in disco. */
  readonly name: string;
  readonly creation: CreationPolicy;
  /** Bare JIDs that own every room, and may always create them. */
  readonly admins: ReadonlySet<string>;
  readonly limits: ServiceLimits;
  readonly defaults: RoomConfig;
}

type RoomIq = (room: Room, event: StanzaEvent, payload: Element) => IqAnswer | Promise<IqAnswer>;

/** An iq passed through to an occupant (§17.3), awaiting its answer. */
interface Relay {
  readonly requester: string;
  readonly id: string | undefined;
  /** The occupant JID the request was sent to, which answers. */
  readonly target: string;
  /** Where it went: the occupant's real JID. */
  readonly real: string;
  readonly timer: NodeJS.Timeout;
}

const RELAY_TIMEOUT_MS = 30_000;
/** Requests passed through and awaiting an answer, at most (a flood is refused). */
const MAX_RELAYS = 10_000;

export class MucDomain implements RoomObserver {
  readonly rooms = new Map<string, Room>();
  readonly ctx: MucContext;
  /** The rooms each real session is in, for when it ends. */
  private readonly whereabouts = new Map<string, Set<Room>>();
  private readonly lockTimers = new Map<Room, NodeJS.Timeout>();
  private readonly relays = new Map<string, Relay>();
  private readonly roomIqs: ReadonlyMap<string, RoomIq>;
  private ids = 0;
  private readonly idPrefix = randomBytes(6).toString('base64url');

  constructor(
    private readonly server: ServerContext,
    store: MucStore,
    private readonly log: Logger,
    readonly extensions: MucExtensions,
    private readonly options: ServiceOptions,
  ) {
    this.ctx = {
      domain: options.domain,
      router: server.router,
      sessions: server.sessions,
      services: server.services,
      accounts: server.accounts,
      store,
      log,
      limits: options.limits,
      defaults: options.defaults,
      extensions,
      now: Date.now,
      nextId: () => `${this.idPrefix}-${(++this.ids).toString(36)}`,
      discard: (room) => this.discard(room),
    };
    const ctx = this.ctx;
    const key = MucExtensions.iqKey;
    this.roomIqs = new Map<string, RoomIq>([
      [key('get', NS.DISCO_INFO, 'query'), (room, e, p) => roomInfo(ctx, room, e.from, p.attrs.node)],
      [key('get', NS.DISCO_ITEMS, 'query'), (room, e, p) => roomItems(ctx, room, e.from, p.attrs.node)],
      [key('get', NS.MUC_ADMIN, 'query'), (room, e, p) => adminGet(room, e.from, p)],
      [key('set', NS.MUC_ADMIN, 'query'), (room, e, p) => adminSet(ctx, room, e.from, p)],
      [key('get', NS.MUC_OWNER, 'query'), (room, e, p) => ownerGet(ctx, room, e.from, p)],
      [key('set', NS.MUC_OWNER, 'query'), (room, e, p) => ownerSet(ctx, room, e.from, p)],
      [key('get', NS.VCARD, 'vCard'), (room) => vcardGet(room)],
      [key('set', NS.VCARD, 'vCard'), (room, e, p) => vcardSet(ctx, room, e.from, p)],
      [key('get', NS.REGISTER, 'query'), (room, e) => registerGet(room, e.from)],
      [key('set', NS.REGISTER, 'query'), (room, e, p) => registerSet(ctx, room, e.from, p)],
      // XEP-0199: a room answers pings (XEP-0410 self-pings go to occupant JIDs).
      [key('get', NS.PING, 'ping'), () => undefined],
    ]);
  }

  get domain(): string {
    return this.options.domain;
  }

  /** Brings back the persistent rooms. */
  async load(): Promise<void> {
    for (const stored of await this.ctx.store.rooms(this.domain)) {
      const jid = tryParseJID(`${stored.name}@${this.domain}`);
      if (jid === undefined) {
        this.log.warn('a stored room has an invalid name; skipped', { room: stored.name });
        continue;
      }
      const room = this.newRoom(
        jid,
        parseConfig(stored.config, this.options.defaults),
        stored.createdAt,
        false,
      );
      for (const { jid: user, ...record } of stored.affiliations) room.setAffiliation(user, record);
      room.subject = stored.subject;
      room.vcard = stored.vcard;
      this.rooms.set(room.name, room);
      for (const handler of this.extensions.roomLoaded) handler(room);
    }
  }

  private newRoom(jid: JID, config: RoomConfig, createdAt: number, locked: boolean): Room {
    return new Room(jid, config, createdAt, { locked, serviceAdmins: this.options.admins, observer: this });
  }

  // ---- RoomObserver ----

  entered(room: Room, real: string): void {
    let rooms = this.whereabouts.get(real);
    if (rooms === undefined) {
      rooms = new Set();
      this.whereabouts.set(real, rooms);
    }
    rooms.add(room);
  }

  left(room: Room, real: string): void {
    const rooms = this.whereabouts.get(real);
    if (rooms === undefined) return;
    rooms.delete(room);
    if (rooms.size === 0) this.whereabouts.delete(real);
  }

  // ---- dispatch ----

  /** The router's handler for every stanza to the service's domain. */
  readonly handle = (event: StanzaEvent): void => {
    const { to } = event;
    if (to.local === '') {
      this.toService(event);
      return;
    }
    const room = this.rooms.get(to.local);
    if (room === undefined) {
      this.toMissingRoom(event);
      return;
    }
    const done = room.queue.run(() => this.toRoom(room, event));
    if (done instanceof Promise) done.catch((err: unknown) => this.failed(event, err));
  };

  private failed(event: StanzaEvent, err: unknown): void {
    this.log.error('a room failed to handle a stanza', {
      from: event.from.full,
      to: event.to.full,
      error: err,
    });
    this.ctx.router.bounce(event.stanza, 'internal-server-error');
  }

  private toService(event: StanzaEvent): void {
    const { stanza } = event;
    if (stanza.name === 'iq') {
      const type = stanza.attrs.type;
      if (type === 'result' || type === 'error') {
        this.ctx.router.pending.settle(stanza, event.from.full);
        return;
      }
      const payload = stanza.elements[0];
      const ns = payload?.getNS();
      const name = this.options.name;
      if (type === 'get' && payload?.localName === 'query' && ns === NS.DISCO_INFO)
        this.answer(event, () => serviceInfo(name, payload.attrs.node));
      else if (type === 'get' && payload?.localName === 'query' && ns === NS.DISCO_ITEMS)
        this.answer(event, () => serviceItems(this.rooms.values(), payload.attrs.node));
      else if (type === 'get' && payload?.localName === 'ping' && ns === NS.PING)
        this.answer(event, () => undefined);
      else this.ctx.router.bounce(stanza, 'service-unavailable');
      return;
    }
    if (stanza.name === 'message') this.ctx.router.bounce(stanza, 'service-unavailable');
  }

  private toMissingRoom(event: StanzaEvent): void {
    const { stanza, to } = event;
    switch (stanza.name) {
      case 'presence':
        if (stanza.attrs.type !== undefined) return;
        if (to.resource === '') {
          refusePresence(
            this.ctx,
            undefined,
            stanza,
            'jid-malformed',
            'join a room at room@service/nickname',
          );
          return;
        }
        if (stanza.getChild('x', NS.MUC) === undefined) {
          refusePresence(this.ctx, undefined, stanza, 'item-not-found', 'there is no such room');
          return;
        }
        this.create(event);
        return;
      case 'iq':
        if (stanza.attrs.type === 'result' || stanza.attrs.type === 'error') return;
        this.ctx.router.bounce(stanza, new StanzaError('item-not-found', 'there is no such room'));
        return;
      default:
        this.ctx.router.bounce(stanza, new StanzaError('item-not-found', 'there is no such room'));
    }
  }

  private mayCreate(user: JID): boolean {
    if (this.options.admins.has(user.bare)) return true;
    switch (this.options.creation) {
      case 'anyone':
        return true;
      case 'local':
        return this.server.hosts.has(user.domain);
      case 'admins':
        return false;
    }
  }

  /** §10.1.1: the first presence to a room that does not exist creates it, its sender the owner. */
  private create(event: StanzaEvent): void {
    const { from, to, stanza } = event;
    if (!this.mayCreate(from)) {
      refusePresence(this.ctx, undefined, stanza, 'not-allowed', 'you may not create rooms on this service');
      return;
    }
    const locked = this.options.limits.lockSeconds > 0;
    const room = this.newRoom(to.bareJID(), this.options.defaults, this.ctx.now(), locked);
    room.setAffiliation(from.bare, { affiliation: 'owner' });
    this.rooms.set(room.name, room);
    if (locked) {
      const timer = setTimeout(() => this.lockExpired(room), this.options.limits.lockSeconds * 1000);
      timer.unref();
      this.lockTimers.set(room, timer);
    }
    room.queue.run(() => {
      handleOccupantPresence(this.ctx, room, event, true);
      // Refused (a blank nickname): the room was never entered.
      if (room.isEmpty()) this.discard(room);
    });
  }

  /** §10.1.1: an owner who never configured the room accepts the defaults. */
  private lockExpired(room: Room): void {
    this.lockTimers.delete(room);
    const done = room.queue.run(async () => {
      if (!room.locked || room.destroyed) return;
      if (room.config.persistent) await this.ctx.store.put(this.domain, storedRoom(room));
      room.locked = false;
    });
    if (done instanceof Promise)
      done.catch((error: unknown) =>
        this.log.error('could not store a room', { room: room.jid.bare, error }),
      );
  }

  private discard(room: Room): void {
    room.destroyed = true;
    for (const handler of this.extensions.roomDiscarded) handler(room);
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
    const timer = this.lockTimers.get(room);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.lockTimers.delete(room);
    }
    for (const occupant of room.occupants.values())
      for (const real of occupant.sessions.keys()) this.left(room, real);
  }

  private toRoom(room: Room, event: StanzaEvent): void | Promise<void> {
    if (room.destroyed) {
      // Destroyed while this stanza waited its turn: it goes where a stanza would go now.
      this.handle(event);
      return;
    }
    const { stanza, to } = event;
    switch (stanza.name) {
      case 'presence':
        if (to.resource !== '') return handleOccupantPresence(this.ctx, room, event);
        if (stanza.attrs.type === undefined)
          refusePresence(this.ctx, room, stanza, 'jid-malformed', 'join a room at room@service/nickname');
        return;
      case 'message':
        return to.resource === ''
          ? this.roomMessage(room, event)
          : handlePrivateMessage(this.ctx, room, event);
      case 'iq':
        return to.resource === '' ? this.roomIq(room, event) : this.occupantIq(room, event);
    }
  }

  private roomMessage(room: Room, event: StanzaEvent): void | Promise<void> {
    const { stanza } = event;
    const type = stanza.attrs.type;
    if (type === 'error') return handleError(this.ctx, room, event);
    if (type === 'groupchat') return handleGroupchat(this.ctx, room, event);
    const userX = stanza.getChild('x', NS.MUC_USER);
    if (
      userX !== undefined &&
      (userX.getChild('invite', NS.MUC_USER) || userX.getChild('decline', NS.MUC_USER))
    )
      return handleInvitations(this.ctx, room, event, userX);
    const form = readForm(formIn(stanza));
    if (form?.formType === NS.MUC_REQUEST) return handleVoiceForm(this.ctx, room, event, form);
    if (type === 'headline') return;
    // §17.1 #1: messages to all occupants are of type groupchat.
    refuse(
      this.ctx,
      room,
      stanza,
      new StanzaError('bad-request', 'send messages to the room as type groupchat'),
    );
  }

  private roomIq(room: Room, event: StanzaEvent): void | Promise<void> {
    const { stanza, from } = event;
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      this.ctx.router.pending.settle(stanza, from.full);
      return;
    }
    const payload = stanza.elements[0];
    if (payload === undefined || (type !== 'get' && type !== 'set')) {
      this.ctx.router.bounce(stanza, 'bad-request');
      return;
    }
    const key = MucExtensions.iqKey(type, payload.getNS() ?? '', payload.localName);
    // §10.1.1: a locked room does not exist for anyone but its owner.
    if (room.locked && room.affiliationOf(from) !== 'owner') {
      this.ctx.router.bounce(stanza, new StanzaError('item-not-found', 'there is no such room'));
      return;
    }
    const handler = this.roomIqs.get(key);
    if (handler !== undefined) return this.answer(event, () => handler(room, event, payload));
    const extension = this.extensions.roomIq.get(key);
    if (extension !== undefined)
      return this.answer(event, () =>
        extension({
          room,
          stanza,
          payload,
          from,
          occupant: room.occupantOf(from),
          broadcast: (message) => sendFromRoom(this.ctx, room, message),
          reannounce: (occupant) => announceChange(this.ctx, room, occupant, occupant.role, {}),
        }),
      );
    this.ctx.router.bounce(stanza, 'service-unavailable');
  }

  /** Runs an iq handler and sends its answer (or its StanzaError) back. */
  private answer(event: StanzaEvent, work: () => IqAnswer | Promise<IqAnswer>): void | Promise<void> {
    let result: IqAnswer | Promise<IqAnswer>;
    try {
      result = work();
    } catch (err) {
      this.replyError(event, err);
      return;
    }
    if (result instanceof Promise)
      return result.then(
        (answer) => this.ctx.router.send(iqResult(event.stanza, answer ?? undefined)),
        (err: unknown) => this.replyError(event, err),
      );
    this.ctx.router.send(iqResult(event.stanza, result ?? undefined));
  }

  private replyError(event: StanzaEvent, err: unknown): void {
    if (!(err instanceof StanzaError))
      this.log.error('a room request failed', { from: event.from.full, to: event.to.full, error: err });
    const reply = errorReply(
      event.stanza,
      err instanceof StanzaError ? err : new StanzaError('internal-server-error'),
    );
    if (reply) this.ctx.router.send(reply);
  }

  // ---- §17.3: iq to an occupant ----

  private occupantIq(room: Room, event: StanzaEvent): void {
    const { stanza, from, to } = event;
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      this.relayAnswer(event);
      return;
    }
    const sender = room.occupantOf(from);
    const payload = stanza.elements[0];
    if (payload === undefined || (type !== 'get' && type !== 'set')) {
      this.ctx.router.bounce(stanza, 'bad-request');
      return;
    }
    if (sender === undefined) {
      // §6.6: disco of an occupant by a non-occupant is bad-request.
      const condition =
        payload.getNS() === NS.DISCO_INFO || payload.getNS() === NS.DISCO_ITEMS
          ? 'bad-request'
          : 'not-acceptable';
      this.ctx.router.bounce(
        stanza,
        new StanzaError(condition, 'only occupants may send requests to occupants'),
      );
      return;
    }
    // XEP-0410 §3.2: a self-ping is answered by the room, not passed to another client.
    if (
      type === 'get' &&
      sender.nick === to.resource &&
      payload.localName === 'ping' &&
      payload.getNS() === NS.PING
    ) {
      deliver(this.ctx, iqResult(stanza));
      return;
    }
    const target = room.occupantByNick(to.resource);
    if (target === undefined) {
      this.ctx.router.bounce(stanza, new StanzaError('item-not-found', 'there is no such occupant'));
      return;
    }
    if (this.relays.size >= MAX_RELAYS) {
      this.ctx.router.bounce(stanza, new StanzaError('resource-constraint', 'too many requests in flight'));
      return;
    }
    // A vCard is the account's, answered by its server for the bare JID.
    const vcard = type === 'get' && payload.localName === 'vCard' && payload.getNS() === NS.VCARD;
    const real = vcard ? target.bare.bare : target.primary.jid.full;
    const id = this.ctx.nextId();
    const timer = setTimeout(() => this.relayExpired(id), RELAY_TIMEOUT_MS);
    timer.unref();
    this.relays.set(id, { requester: from.full, id: stanza.attrs.id, target: target.jid.full, real, timer });
    const forwarded = new Element('iq', { from: sender.jid.full, to: real, type, id });
    forwarded.children = stanza.children;
    deliver(this.ctx, forwarded);
  }

  private relayAnswer(event: StanzaEvent): void {
    const { stanza, from } = event;
    const id = stanza.attrs.id;
    const relay = id === undefined ? undefined : this.relays.get(id);
    if (relay === undefined || (relay.real !== from.full && relay.real !== from.bare)) return;
    this.relays.delete(id!);
    clearTimeout(relay.timer);
    const reply = new Element('iq', { from: relay.target, to: relay.requester, type: stanza.attrs.type! });
    if (relay.id !== undefined) reply.attrs.id = relay.id;
    reply.children = stanza.children;
    deliver(this.ctx, reply);
  }

  private relayExpired(id: string): void {
    const relay = this.relays.get(id);
    if (relay === undefined) return;
    this.relays.delete(id);
    const error = new StanzaError('remote-server-timeout', 'the occupant did not answer');
    deliver(
      this.ctx,
      x('iq', { from: relay.target, to: relay.requester, type: 'error', id: relay.id }, error.toElement()),
    );
  }

  // ---- sessions and the service's end ----

  /** A local session ended: it leaves every room it was in, as its server says it went (§7.14). */
  sessionClosed(real: JID): void {
    const rooms = this.whereabouts.get(real.full);
    if (rooms === undefined) return;
    for (const room of [...rooms]) {
      const occupant = room.occupantOf(real);
      if (occupant === undefined) continue;
      const stanza = new Element('presence', { from: real.full, to: occupant.jid.full, type: 'unavailable' });
      const event: StanzaEvent = { stanza, origin: undefined, from: real, to: occupant.jid };
      const done = room.queue.run(() => this.toRoom(room, event));
      if (done instanceof Promise) done.catch((err: unknown) => this.failed(event, err));
    }
  }

  /** §14.2: the service stops; every occupant is told so (332). */
  shutdown(): void {
    for (const room of this.rooms.values()) {
      for (const occupant of [...room.occupants.values()]) dismiss(this.ctx, room, occupant, [332]);
    }
    for (const timer of this.lockTimers.values()) clearTimeout(timer);
    this.lockTimers.clear();
    for (const relay of this.relays.values()) clearTimeout(relay.timer);
    this.relays.clear();
  }
}
