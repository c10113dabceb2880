// XEP-0045 muc#admin: the lists (§8.5 voice, §9.2 ban, §9.5 member, §9.8 moderator, §10.5
// owner, §10.8 admin) and the changes to roles (§8.2 kick, §8.3/§8.4 voice, §9.6/§9.7
// moderator status) and affiliations (§9.1 ban, §9.3/§9.4 membership, §10.3–§10.7 owner and
// admin) that moderators, admins and owners make, as the tables of permissions.ts allow.
//
// A request with several items is all or nothing (§9.2: "SHOULD NOT apply any of the requested
// changes"): every item is checked before any is applied. §17.4 #4: an item with both a role
// and an affiliation is bad-request.

import { StanzaError } from '../../src/core/errors.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { MucContext } from './context.js';
import { sendInvitation } from './invitations.js';
import {
  type Affiliation,
  affiliationChange,
  isAffiliation,
  isRole,
  type ListName,
  mayReadList,
  type Role,
  roleAfterAffiliationChange,
  roleChange,
  type Verdict,
} from './permissions.js';
import { afterDeparture, announceChange, removeOccupant } from './presence.js';
import type { AffiliationRecord, Occupant, Room } from './room.js';

const VERDICT_TEXT: Record<Exclude<Verdict, 'ok'>, string> = {
  forbidden: 'you do not have the privilege to do that',
  'not-allowed': 'that occupant or user is protected from that change',
  conflict: 'that change would leave the room in conflict (banning yourself, or removing its last owner)',
  'bad-request': 'that is not a change that can be made',
};

function check(verdict: Verdict): void {
  if (verdict !== 'ok') throw new StanzaError(verdict, VERDICT_TEXT[verdict]);
}

function adminItems(payload: Element): Element[] {
  return payload.getChildren('item', NS.MUC_ADMIN);
}

// ---- lists ----

/** A muc#admin get: the list of one role or affiliation. */
export function adminGet(room: Room, from: JID, payload: Element): Element {
  const items = adminItems(payload);
  if (items.length !== 1)
    throw new StanzaError('bad-request', 'ask for one list: one item with a role or an affiliation');
  const { role, affiliation } = items[0]!.attrs;
  const list = affiliation ?? role;
  if (
    list === undefined ||
    list === 'none' ||
    (affiliation !== undefined ? !isAffiliation(list) : !isRole(list))
  )
    throw new StanzaError('bad-request', `there is no list of ${list ?? 'that'}`);
  if (!mayReadList(room.standingOf(from), list as ListName, room.config))
    throw new StanzaError('forbidden', `you may not read the ${list} list`);
  const query = x('query', { xmlns: NS.MUC_ADMIN });
  if (affiliation !== undefined) {
    // §17.4 #6: bare JIDs, the reserved nickname (not for outcasts), no role.
    for (const jid of room.listOf(affiliation as Exclude<Affiliation, 'none'>)) {
      const record = room.affiliations.get(jid)!;
      query.append(
        x(
          'item',
          { affiliation, jid, nick: affiliation === 'outcast' ? undefined : record.nick },
          record.reason !== undefined && x('reason', null, record.reason),
        ),
      );
    }
  } else {
    // §17.4 #5: nick, role, affiliation and the full JID.
    for (const occupant of room.occupants.values()) {
      if (occupant.role !== role) continue;
      query.append(
        x('item', {
          affiliation: room.affiliationOf(occupant.bare),
          jid: occupant.primary.jid.full,
          nick: occupant.nick,
          role,
        }),
      );
    }
  }
  return query;
}

// ---- changes ----

type Change =
  | { kind: 'role'; target: Occupant; role: Role; reason: string | undefined }
  | {
      kind: 'affiliation';
      jid: string;
      from: Affiliation;
      to: Affiliation;
      record: AffiliationRecord | undefined;
      reason: string | undefined;
    };

/** The bare JID an affiliation item is about: its 'jid' (§17.4 #6), or an occupant's nickname. */
function itemJid(room: Room, item: Element): string {
  const { jid, nick } = item.attrs;
  if (jid !== undefined) {
    const parsed = tryParseJID(jid);
    if (parsed === undefined) throw new StanzaError('jid-malformed', `${jid} is not a JID`);
    // §10.3: a full JID stands for its bare JID.
    return parsed.bare;
  }
  const occupant = nick === undefined ? undefined : room.occupantByNick(nick);
  if (occupant === undefined) throw new StanzaError('bad-request', 'an affiliation item needs a jid');
  return occupant.bare.bare;
}

function itemOccupant(room: Room, item: Element): Occupant {
  const { nick, jid } = item.attrs;
  let occupant: Occupant | undefined;
  if (nick !== undefined) occupant = room.occupantByNick(nick);
  else if (jid !== undefined) {
    const parsed = tryParseJID(jid);
    occupant =
      parsed === undefined ? undefined : (room.occupantOf(parsed) ?? room.occupantsOf(parsed.bare)[0]);
  } else throw new StanzaError('bad-request', 'a role item needs a nick');
  if (occupant === undefined) throw new StanzaError('item-not-found', `${nick ?? jid} is not in the room`);
  return occupant;
}

/** Checks every item of a muc#admin set; throws at the first that may not be applied. */
function plan(room: Room, from: JID, items: readonly Element[]): Change[] {
  if (items.length === 0) throw new StanzaError('bad-request', 'a change needs at least one item');
  const actor = room.standingOf(from);
  const changes: Change[] = [];
  // Owners as they will be once the earlier items are applied, for the last-owner rule.
  const owners = new Set(room.listOf('owner'));
  for (const item of items) {
    const { role, affiliation } = item.attrs;
    if ((role === undefined) === (affiliation === undefined))
      throw new StanzaError('bad-request', 'an item changes either a role or an affiliation');
    const reason = item.getChildText('reason', NS.MUC_ADMIN) ?? undefined;
    if (role !== undefined) {
      if (!isRole(role)) throw new StanzaError('bad-request', `unknown role ${role}`);
      const target = itemOccupant(room, item);
      check(roleChange(actor, room.standing(target), role));
      changes.push({ kind: 'role', target, role, reason });
      continue;
    }
    if (!isAffiliation(affiliation))
      throw new StanzaError('bad-request', `unknown affiliation ${affiliation}`);
    const jid = itemJid(room, item);
    const current = room.affiliations.get(jid);
    const fromAffiliation = current?.affiliation ?? 'none';
    const others = owners.has(jid) ? owners.size - 1 : owners.size;
    check(
      affiliationChange(actor.affiliation, fromAffiliation, affiliation, {
        self: jid === from.bare,
        otherOwners: others,
      }),
    );
    let nick = current?.nick;
    if (item.attrs.nick !== undefined && affiliation !== 'outcast' && affiliation !== 'none') {
      // §9.5: the reserved nickname of a member ('' unsets it).
      nick = item.attrs.nick.trim() === '' ? undefined : item.attrs.nick.trim();
      const holder = nick === undefined ? undefined : room.reservedBy(nick);
      if (holder !== undefined && holder !== jid)
        throw new StanzaError('conflict', `${nick} is reserved by someone else`);
    }
    // §9.1: an outcast has no reserved nickname; the reason is kept for the ban list.
    const record: AffiliationRecord | undefined =
      affiliation === 'none'
        ? undefined
        : affiliation === 'outcast'
          ? { affiliation, ...(reason !== undefined && { reason }) }
          : { affiliation, ...(nick !== undefined && { nick }) };
    if (affiliation === 'owner') owners.add(jid);
    else owners.delete(jid);
    changes.push({ kind: 'affiliation', jid, from: fromAffiliation, to: affiliation, record, reason });
  }
  return changes;
}

/** A muc#admin set (§8, §9, §10): checked whole, stored, then applied with its presence. */
export async function adminSet(ctx: MucContext, room: Room, from: JID, payload: Element): Promise<void> {
  const changes = plan(room, from, adminItems(payload));
  const affiliations = changes.filter((c) => c.kind === 'affiliation');
  if (affiliations.length > 0 && room.config.persistent && !room.locked)
    await ctx.store.setAffiliations(
      ctx.domain,
      room.name,
      affiliations.map((c) => ({ jid: c.jid, record: c.record })),
    );
  const actor = room.occupantOf(from)?.nick;
  for (const change of changes) {
    if (change.kind === 'role') applyRole(ctx, room, change.target, change.role, actor, change.reason);
    else
      applyAffiliation(
        ctx,
        room,
        change.jid,
        change.from,
        change.to,
        change.record,
        actor,
        change.reason,
        from,
      );
  }
}

function applyRole(
  ctx: MucContext,
  room: Room,
  target: Occupant,
  role: Role,
  actor: string | undefined,
  reason: string | undefined,
): void {
  if (room.occupantByNick(target.nick) !== target || target.role === role) return;
  if (role === 'none') {
    // §8.2: kicked, 307.
    removeOccupant(ctx, room, target, { codes: [307], actor, reason });
    afterDeparture(ctx, room);
    return;
  }
  const before = target.role;
  target.role = role;
  announceChange(ctx, room, target, before, { actor, reason });
}

/** Sets an affiliation in the room, and brings the occupants it concerns in line (§9, §10). */
export function applyAffiliation(
  ctx: MucContext,
  room: Room,
  jid: string,
  from: Affiliation,
  to: Affiliation,
  record: AffiliationRecord | undefined,
  actor: string | undefined,
  reason: string | undefined,
  by: JID | undefined,
): void {
  room.setAffiliation(jid, record);
  for (const occupant of room.occupantsOf(jid)) {
    const role = roleAfterAffiliationChange(
      occupant.role,
      from,
      room.affiliationOf(occupant.bare),
      room.config,
    );
    if (role === undefined) {
      // §9.1 banned: 301; §9.4 no longer a member of a members-only room: 321.
      removeOccupant(ctx, room, occupant, { codes: [to === 'outcast' ? 301 : 321], actor, reason });
      continue;
    }
    const before = occupant.role;
    occupant.role = role;
    announceChange(ctx, room, occupant, before, { actor, reason });
  }
  afterDeparture(ctx, room);
  // §9.5: someone new on the member list of a members-only room is invited.
  if (
    to === 'member' &&
    from === 'none' &&
    room.config.membersOnly &&
    by !== undefined &&
    room.occupantsOf(jid).length === 0
  ) {
    const invitee = tryParseJID(jid);
    if (invitee !== undefined && invitee.local !== '')
      sendInvitation(ctx, room, by, invitee, undefined, undefined);
  }
}
