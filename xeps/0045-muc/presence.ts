// XEP-0045 occupant presence: entering (§7.2, with the error conditions of §7.2.6–§7.2.11 and
// the status codes 100, 110, 170, 201, 210), the order of events on entry (§7.1), presence
// changes (§7.7), nickname changes (§7.6, status 303), exiting (§7.14), the groupchat 1.0
// kick (§7.2.24, 110/307/333), and the presence a room sends when someone is removed or their
// role or affiliation changes (§8, §9, §10, status 301, 307, 321, 322, 332, 333).
//
// Every presence the room sends for an occupant carries one muc#user <x/> with the item
// (§7.2.3), the real JID only to those who may see it (§7.2.4, §7.2.5: whois), and 110 in
// the copies for the occupant itself.

import { StanzaError, type StanzaErrorCondition } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { type JID, JidError } from '../../src/jid.js';
import { Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { requiredPassword } from './config.js';
import type { MucContext } from './context.js';
import { deliver, spread } from './delivery.js';
import { readHistoryRequest } from './history.js';
import { sendHistoryAndSubject } from './messages.js';
import {
  type Affiliation,
  defaultRole,
  entryRefusal,
  type PresentRole,
  type Role,
  rolePermits,
  seesRealJids,
} from './permissions.js';
import { Occupant, type OccupantSession, occupantSession, type Recipient, type Room } from './room.js';

// ---- building ----

export interface ItemDetails {
  readonly affiliation: Affiliation;
  readonly role: Role;
  readonly jid?: string;
  /** §7.6: the new nickname, in the unavailable presence of a nickname change. */
  readonly nick?: string;
  /** The nickname of whoever made the change (§8.2, §9.1). */
  readonly actor?: string;
  readonly reason?: string;
}

/** The muc#user <x/> of a presence or message (§17.2): one item, then the status codes. */
export function userX(item: ItemDetails, codes: readonly number[] = [], extra?: Element): Element {
  return x(
    'x',
    { xmlns: NS.MUC_USER },
    x(
      'item',
      { affiliation: item.affiliation, role: item.role, jid: item.jid, nick: item.nick },
      item.actor !== undefined && x('actor', { nick: item.actor }),
      item.reason !== undefined && x('reason', null, item.reason),
    ),
    [...codes].sort((a, b) => a - b).map((code) => x('status', { code })),
    extra,
  );
}

/**
 * A client's presence as the room keeps it: its children without the MUC payloads (§17.2.6:
 * a client's muc#user data is never reflected), no addresses, no type.
 */
export function cleanPresence(stanza: Element): Element {
  const out = new Element('presence');
  const lang = stanza.attrs['xml:lang'];
  if (lang !== undefined) out.attrs['xml:lang'] = lang;
  for (const child of stanza.children) {
    if (typeof child === 'string') continue;
    if (child.localName === 'x') {
      const ns = child.getNS();
      if (ns === NS.MUC || ns === NS.MUC_USER) continue;
    }
    out.children.push(child);
  }
  return out;
}

const EMPTY_PRESENCE = new Element('presence');

/** A presence from `from` with the children of `base` (shared, not copied) and `mucX`. */
function presenceFrom(
  from: string,
  type: string | undefined,
  base: Element,
  mucX: Element,
  id?: string,
): Element {
  const attrs: Record<string, string> = { from };
  if (type !== undefined) attrs.type = type;
  if (id !== undefined) attrs.id = id;
  const lang = base.attrs['xml:lang'];
  if (lang !== undefined) attrs['xml:lang'] = lang;
  const p = new Element('presence', attrs);
  p.children = base.children.slice();
  p.append(mucX);
  return p;
}

/** A copy of a stanza for one recipient, sharing its children. */
export function addressed(template: Element, to: string): Element {
  const copy = new Element(template.name, { ...template.attrs, to });
  copy.children = template.children;
  return copy;
}

// ---- announcing an occupant ----

export interface Announcement {
  readonly type?: 'unavailable';
  readonly role: Role;
  readonly affiliation: Affiliation;
  /** Whether occupants other than the one announced see this presence (presencebroadcast). */
  readonly visible: boolean;
  /** Status codes for everyone. */
  readonly codes?: readonly number[];
  /** Status codes for the occupant's own copies only (besides 110). */
  readonly selfCodes?: readonly number[];
  readonly nick?: string;
  readonly actor?: string;
  readonly reason?: string;
  /** The presence whose children to show (a custom exit status); the primary's otherwise. */
  readonly base?: Element;
  /** An element added to the <x/> (a room's <destroy/>). */
  readonly extra?: Element;
  /** Which of the occupant's sessions get their copy (all by default). */
  readonly selfSessions?: readonly OccupantSession[];
  /** The id of the stanza that caused this, reflected to the session that sent it (§7.2.3). */
  readonly reflect?: { readonly session: string; readonly id: string };
}

/** Sends an occupant's presence to every occupant who sees it, and to its own sessions. */
export function announce(ctx: MucContext, room: Room, occupant: Occupant, a: Announcement): void {
  const from = occupant.jid.full;
  const base = a.base ?? occupant.primary.presence;
  const codes = a.codes ?? [];
  const item = { affiliation: a.affiliation, role: a.role, nick: a.nick, actor: a.actor, reason: a.reason };
  if (a.visible) {
    // Two versions at most: with the real JID for those who may see it, without for the rest.
    const open: Recipient[] = [];
    const anonymous: Recipient[] = [];
    for (const other of room.occupants.values()) {
      if (other === occupant) continue;
      const seesJid = seesRealJids(other.role, room.config) || other.bare.bare === occupant.bare.bare;
      const list = seesJid ? open : anonymous;
      for (const session of other.sessions.values()) list.push(session);
    }
    if (open.length > 0) {
      const x = userX({ ...item, jid: occupant.primary.jid.full }, codes, a.extra);
      spread(ctx, decorated(ctx, room, occupant, presenceFrom(from, a.type, base, x)), open, occupant.jid);
    }
    if (anonymous.length > 0) {
      const x = userX(item, codes, a.extra);
      spread(
        ctx,
        decorated(ctx, room, occupant, presenceFrom(from, a.type, base, x)),
        anonymous,
        occupant.jid,
      );
    }
  }
  const selfCodes = [...codes, 110, ...(a.selfCodes ?? [])];
  for (const session of a.selfSessions ?? occupant.sessions.values()) {
    const id = a.reflect?.session === session.jid.full ? a.reflect.id : undefined;
    const own = presenceFrom(
      from,
      a.type,
      base,
      userX({ ...item, jid: session.jid.full }, selfCodes, a.extra),
      id,
    );
    deliver(ctx, addressed(decorated(ctx, room, occupant, own), session.jid.full));
  }
}

function decorated(ctx: MucContext, room: Room, occupant: Occupant, stanza: Element): Element {
  ctx.extensions.decorate(room, occupant, stanza);
  return stanza;
}

/** §7.2.3: the presence of every other occupant the joiner can see, to one session. */
function sendOccupantList(ctx: MucContext, room: Room, joiner: Occupant, session: OccupantSession): void {
  const seesJids = seesRealJids(joiner.role, room.config);
  for (const other of room.occupants.values()) {
    if (other === joiner || !rolePermits(other.role, 'broadcast-presence', room.config)) continue;
    const item = {
      affiliation: room.affiliationOf(other.bare),
      role: other.role,
      jid: seesJids || other.bare.bare === joiner.bare.bare ? other.primary.jid.full : undefined,
    };
    const p = presenceFrom(other.jid.full, undefined, other.primary.presence, userX(item));
    spread(ctx, decorated(ctx, room, other, p), [session], other.jid);
  }
}

/** The announcement of an occupant as it is now (available). */
function current(room: Room, occupant: Occupant): Announcement {
  return {
    role: occupant.role,
    affiliation: room.affiliationOf(occupant.bare),
    visible: rolePermits(occupant.role, 'broadcast-presence', room.config),
  };
}

// ---- errors ----

/** §7.2.6–§7.2.11: a presence error from the occupant JID asked for, with <x xmlns='…muc'/>. */
export function refusePresence(
  ctx: MucContext,
  room: Room | undefined,
  stanza: Element,
  condition: StanzaErrorCondition,
  text?: string,
): void {
  if (stanza.attrs.type === 'error') return;
  const reply = x('presence', {
    from: stanza.attrs.to,
    to: stanza.attrs.from,
    type: 'error',
    id: stanza.attrs.id,
  });
  reply.append(x('x', { xmlns: NS.MUC }));
  reply.append(new StanzaError(condition, text, { by: room?.jid.bare ?? ctx.domain }).toElement());
  deliver(ctx, reply);
}

/** §7.2.24: a presence update from someone not in the room is answered with a kick. */
function kickStranger(ctx: MucContext, stanza: Element, from: JID): void {
  const reply = new Element('presence', { from: stanza.attrs.to!, to: from.full, type: 'unavailable' });
  reply.append(
    userX({ affiliation: 'none', role: 'none', reason: 'You are not in the room.' }, [110, 307, 333]),
  );
  deliver(ctx, reply);
}

// ---- what occupants send ----

/**
 * A presence to an occupant JID (room@service/nick) of an existing room. `created` is true
 * when the room was made for this very presence (§10.1.1: status 201).
 */
export function handleOccupantPresence(
  ctx: MucContext,
  room: Room,
  event: StanzaEvent,
  created = false,
): void {
  const { stanza, from } = event;
  const type = stanza.attrs.type;
  const occupant = room.occupantOf(from);
  if (type === 'unavailable') {
    // §17.2.5: silently ignored from someone not in the room.
    if (occupant !== undefined) leave(ctx, room, occupant, from.full, stanza);
    return;
  }
  if (type === 'error') {
    // §18.1.2: an error from an occupant's client means it is gone (a ghost).
    if (occupant !== undefined) removeSession(ctx, room, occupant, from.full, [333]);
    return;
  }
  if (type !== undefined) return; // probes and subscriptions are not for rooms (§17.2.1)
  const mucX = stanza.getChild('x', NS.MUC);
  if (occupant === undefined) {
    if (mucX === undefined) {
      kickStranger(ctx, stanza, from);
      return;
    }
    enter(ctx, room, event, mucX, created);
    return;
  }
  const nick = normalizeNick(event.to.resource);
  if (nick === undefined) {
    refusePresence(ctx, room, stanza, 'not-acceptable', 'a nickname cannot be blank');
    return;
  }
  if (nick !== occupant.nick) {
    changeNick(ctx, room, occupant, event, nick);
    return;
  }
  // §7.7, §7.2.1: a presence change; with <x xmlns='…muc'/>, a request to be synchronized.
  const session = occupant.sessions.get(from.full)!;
  session.presence = cleanPresence(stanza);
  occupant.primary = session;
  if (mucX !== undefined) sendOccupantList(ctx, room, occupant, session);
  announce(ctx, room, occupant, { ...current(room, occupant), reflect: reflectOf(stanza, from) });
  if (mucX !== undefined) sendHistoryAndSubject(ctx, room, session.jid, readHistoryRequest(mucX));
}

function reflectOf(stanza: Element, from: JID): Announcement['reflect'] {
  const id = stanza.attrs.id;
  return id === undefined ? undefined : { session: from.full, id };
}

/**
 * A nickname as the room uses it: without surrounding white space (so that "alice " cannot
 * pass for "alice"), and never blank (§17.1). Undefined for a blank one.
 */
export function normalizeNick(requested: string): string | undefined {
  const nick = requested.trim();
  return nick === '' ? undefined : nick;
}

function occupantJid(room: Room, nick: string): JID | undefined {
  try {
    return room.jid.withResource(nick);
  } catch (err) {
    if (err instanceof JidError) return undefined;
    throw err;
  }
}

/** §7.2: a user enters (or, with a nickname its other client uses, joins that occupant). */
function enter(ctx: MucContext, room: Room, event: StanzaEvent, mucX: Element, created: boolean): void {
  const { stanza, from } = event;
  const requested = event.to.resource;
  const nick = normalizeNick(requested);
  const jid = nick === undefined ? undefined : occupantJid(room, nick);
  if (nick === undefined || jid === undefined) {
    refusePresence(ctx, room, stanza, 'not-acceptable', 'a nickname cannot be blank');
    return;
  }
  const affiliation = room.affiliationOf(from);
  const existing = room.occupantByNick(nick);
  const sameUser = existing !== undefined && existing.bare.bare === from.bare;
  const holder = room.reservedBy(nick);
  const refusal = entryRefusal({
    affiliation,
    locked: room.locked,
    membersOnly: room.config.membersOnly,
    password: requiredPassword(room.config),
    givenPassword: mucX.getChildText('password', NS.MUC),
    occupants: sameUser ? 0 : room.occupantCount,
    maxUsers: Math.min(room.config.maxUsers || ctx.limits.maxUsers, ctx.limits.maxUsers),
    adminOverflow: ctx.limits.adminOverflow,
    nickTaken: (existing !== undefined && !sameUser) || (holder !== undefined && holder !== from.bare),
  });
  if (refusal !== undefined) {
    refusePresence(ctx, room, stanza, refusal, ENTRY_TEXT[refusal]);
    return;
  }
  const role = defaultRole(affiliation, room.config);
  if (role === undefined) {
    refusePresence(ctx, room, stanza, 'registration-required', ENTRY_TEXT['registration-required']);
    return;
  }
  const session = occupantSession(from, cleanPresence(stanza));
  const selfCodes: number[] = [];
  if (room.config.whois === 'anyone') selfCodes.push(100);
  if (room.config.logging) selfCodes.push(170);
  if (created) selfCodes.push(201);
  if (nick !== requested) selfCodes.push(210);
  let occupant: Occupant;
  if (sameUser) {
    occupant = existing;
    room.addSession(occupant, session);
  } else {
    occupant = new Occupant(jid, from.bareJID(), role, session);
    room.addOccupant(occupant);
  }
  sendOccupantList(ctx, room, occupant, session);
  announce(ctx, room, occupant, { ...current(room, occupant), selfCodes, reflect: reflectOf(stanza, from) });
  sendHistoryAndSubject(ctx, room, from, readHistoryRequest(mucX));
}

const ENTRY_TEXT: Record<string, string> = {
  'item-not-found': 'the room does not exist (yet)',
  forbidden: 'you are banned from this room',
  'registration-required': 'this room is for members only',
  'not-authorized': 'a password is required',
  'service-unavailable': 'the room is full',
  conflict: 'that nickname is in use or reserved by someone else',
};

/** §7.6: a session asks for another nickname. */
function changeNick(ctx: MucContext, room: Room, occupant: Occupant, event: StanzaEvent, nick: string): void {
  const { stanza, from } = event;
  const jid = occupantJid(room, nick);
  if (jid === undefined) {
    refusePresence(ctx, room, stanza, 'not-acceptable', 'that is not a valid nickname');
    return;
  }
  const existing = room.occupantByNick(nick);
  const holder = room.reservedBy(nick);
  if (
    (existing !== undefined && existing.bare.bare !== from.bare) ||
    (holder !== undefined && holder !== from.bare)
  ) {
    refusePresence(ctx, room, stanza, 'conflict', ENTRY_TEXT.conflict);
    return;
  }
  const session = occupant.sessions.get(from.full)!;
  const presence = cleanPresence(stanza);
  const renamed = nick !== event.to.resource ? [210] : [];
  const affiliation = room.affiliationOf(occupant.bare);
  if (existing === undefined && occupant.sessions.size === 1) {
    // The whole occupant changes nickname: everyone sees 303 then the new nickname.
    const visible = rolePermits(occupant.role, 'broadcast-presence', room.config);
    announce(ctx, room, occupant, {
      type: 'unavailable',
      role: occupant.role,
      affiliation,
      visible,
      codes: [303],
      nick,
    });
    room.rename(occupant, jid);
    session.presence = presence;
    announce(ctx, room, occupant, {
      ...current(room, occupant),
      selfCodes: renamed,
      reflect: reflectOf(stanza, from),
    });
    return;
  }
  // One of several sessions of the occupant moves (or joins its user's other nickname): it
  // alone sees its old nickname go; the room sees the nickname it moves to arrive or change.
  const leaving = { affiliation, role: occupant.role, jid: from.full, nick };
  const gone = presenceFrom(occupant.jid.full, 'unavailable', EMPTY_PRESENCE, userX(leaving, [110, 303]));
  deliver(ctx, addressed(gone, from.full));
  room.removeSession(occupant, from.full);
  const moved = occupantSession(from, presence);
  let target: Occupant;
  if (existing !== undefined) {
    target = existing;
    room.addSession(target, moved);
  } else {
    target = new Occupant(jid, occupant.bare, occupant.role, moved);
    room.addOccupant(target);
  }
  announce(ctx, room, target, {
    ...current(room, target),
    selfCodes: renamed,
    reflect: reflectOf(stanza, from),
  });
}

/** §7.14: a session leaves; the occupant goes with its last session. */
function leave(ctx: MucContext, room: Room, occupant: Occupant, real: string, stanza: Element): void {
  const base = cleanPresence(stanza);
  const affiliation = room.affiliationOf(occupant.bare);
  const session = occupant.sessions.get(real)!;
  if (occupant.sessions.size > 1) {
    room.removeSession(occupant, real);
    const item = { affiliation, role: 'none' as const, jid: real };
    deliver(ctx, addressed(presenceFrom(occupant.jid.full, 'unavailable', base, userX(item, [110])), real));
    return;
  }
  const visible = rolePermits(occupant.role, 'broadcast-presence', room.config);
  room.removeSession(occupant, real);
  // §10.1.3: the owner of a room still awaiting its configuration left: the room goes.
  const abandoned = room.locked && room.isEmpty();
  announce(ctx, room, occupant, {
    type: 'unavailable',
    role: 'none',
    affiliation,
    visible,
    base,
    selfSessions: [session],
    extra: abandoned ? x('destroy', null, x('reason', null, 'The room was never configured.')) : undefined,
  });
  afterDeparture(ctx, room);
}

/** A temporary room is destroyed when its last occupant leaves (§7.14); so is a locked one. */
export function afterDeparture(ctx: MucContext, room: Room): void {
  if (room.isEmpty() && (!room.config.persistent || room.locked) && !room.destroyed) ctx.discard(room);
}

// ---- removals and changes made by others ----

export interface Removal {
  /** 301 ban, 307 kick, 321 affiliation change, 322 members-only, 332 shutdown, 333 error. */
  readonly codes: readonly number[];
  readonly actor?: string;
  readonly reason?: string;
  /** The affiliation to show (the new one, for a ban). */
  readonly affiliation?: Affiliation;
}

/** Removes an occupant with every session (§8.2, §9.1, §9.4, §10.2, §14). */
export function removeOccupant(ctx: MucContext, room: Room, occupant: Occupant, removal: Removal): void {
  const visible = rolePermits(occupant.role, 'broadcast-presence', room.config);
  const sessions = [...occupant.sessions.values()];
  room.removeOccupant(occupant);
  announce(ctx, room, occupant, {
    type: 'unavailable',
    role: 'none',
    affiliation: removal.affiliation ?? room.affiliationOf(occupant.bare),
    visible,
    codes: removal.codes,
    actor: removal.actor,
    reason: removal.reason,
    base: EMPTY_PRESENCE,
    selfSessions: sessions,
  });
}

/** Removes one session, as if it had left with the given codes (a ghost: 333). */
export function removeSession(
  ctx: MucContext,
  room: Room,
  occupant: Occupant,
  real: string,
  codes: number[],
): void {
  if (occupant.sessions.size > 1) {
    room.removeSession(occupant, real);
    const item = { affiliation: room.affiliationOf(occupant.bare), role: 'none' as const, jid: real };
    deliver(
      ctx,
      addressed(
        presenceFrom(occupant.jid.full, 'unavailable', EMPTY_PRESENCE, userX(item, [110, ...codes])),
        real,
      ),
    );
    return;
  }
  removeOccupant(ctx, room, occupant, { codes });
  afterDeparture(ctx, room);
}

/**
 * An occupant's role or affiliation changed (§8.3, §8.4, §9.3, §9.6, §10.3…): everyone who can
 * see it learns of the new item. When the change moves it in or out of the roles whose presence
 * is broadcast, the others see it arrive or leave instead.
 */
export function announceChange(
  ctx: MucContext,
  room: Room,
  occupant: Occupant,
  before: PresentRole,
  change: { actor?: string; reason?: string },
): void {
  const was = rolePermits(before, 'broadcast-presence', room.config);
  const now = current(room, occupant);
  if (was && !now.visible) {
    // The others see it go; it sees its own new role.
    announce(ctx, room, occupant, {
      ...now,
      type: 'unavailable',
      role: 'none',
      visible: true,
      selfSessions: [],
    });
    announce(ctx, room, occupant, { ...now, ...change, visible: false });
    return;
  }
  announce(ctx, room, occupant, { ...now, ...change });
}

/**
 * Sends each session of an occupant its own unavailable presence and removes it, telling
 * nobody else: the room is going (§10.9 destruction, §14.2 shutdown: 332), so is everyone.
 */
export function dismiss(
  ctx: MucContext,
  room: Room,
  occupant: Occupant,
  codes: readonly number[],
  extra?: Element,
): void {
  const affiliation = room.affiliationOf(occupant.bare);
  for (const session of occupant.sessions.values()) {
    const item = { affiliation, role: 'none' as const, jid: session.jid.full };
    const p = presenceFrom(
      occupant.jid.full,
      'unavailable',
      EMPTY_PRESENCE,
      userX(item, [110, ...codes], extra?.clone()),
    );
    deliver(ctx, addressed(p, session.jid.full));
  }
  room.removeOccupant(occupant);
}
