// XEP-0045 muc#owner: creating a room (§10.1: instant with an empty submitted form, reserved
// with the configuration form, cancelled), configuring it later (§10.2, with the
// notifications of §10.2.1 and the consequences for occupants: 322 when it turns
// members-only, affiliation changes from the owner and admin lists), and destroying it
// (§10.9, with an alternate venue and a reason).

import { StanzaError } from '../../src/core/errors.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { applyAffiliation } from './admin.js';
import {
  applyConfigForm,
  type ConfigSubmission,
  configChangeCodes,
  configForm,
  serializeConfig,
} from './config.js';
import type { MucContext } from './context.js';
import { formIn, readForm } from './forms.js';
import { notifyStatus } from './messages.js';
import { type Affiliation, affiliationAtLeast } from './permissions.js';
import { afterDeparture, announceChange, dismiss, removeOccupant } from './presence.js';
import type { AffiliationRecord, Room } from './room.js';
import { storedRoom } from './store.js';

function requireOwner(room: Room, from: JID): void {
  if (room.affiliationOf(from) !== 'owner') throw new StanzaError('forbidden', 'only owners may do this');
}

/** §10.1.3, §10.2: the configuration form. */
export function ownerGet(ctx: MucContext, room: Room, from: JID, payload: Element): Element {
  requireOwner(room, from);
  if (payload.elements.length > 0) throw new StanzaError('bad-request', 'ask with an empty query');
  return x(
    'query',
    { xmlns: NS.MUC_OWNER },
    configForm(room.config, {
      roomJid: room.jid.bare,
      owners: room.listOf('owner'),
      admins: room.listOf('admin'),
      limits: ctx.limits,
    }),
  );
}

/** A muc#owner set: a configuration form (submitted or cancelled), or <destroy/>. */
export async function ownerSet(ctx: MucContext, room: Room, from: JID, payload: Element): Promise<void> {
  requireOwner(room, from);
  const destroy = payload.getChild('destroy', NS.MUC_OWNER);
  if (destroy !== undefined) {
    await destroyRoom(ctx, room, destroy);
    return;
  }
  const form = readForm(formIn(payload));
  if (form === undefined) throw new StanzaError('bad-request', 'expected a data form or <destroy/>');
  if (form.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration destroys the room; later, it changes nothing.
    if (room.locked) await destroyRoom(ctx, room, undefined);
    return;
  }
  if (form.type !== 'submit')
    throw new StanzaError('bad-request', 'submit the form (type "submit") or cancel it');
  await configure(ctx, room, from, applyConfigForm(room.config, form, ctx.limits));
}

/** The affiliation changes that make the owner and admin lists what a form says (full lists). */
function listChanges(
  room: Room,
  submission: ConfigSubmission,
): Array<{ jid: string; from: Affiliation; to: Affiliation; record: AffiliationRecord | undefined }> {
  const changes = new Map<string, { from: Affiliation; to: Affiliation }>();
  const set = (jid: string, to: Affiliation) => {
    const from = room.affiliations.get(jid)?.affiliation ?? 'none';
    if (from !== to) changes.set(jid, { from, to });
    else changes.delete(jid);
  };
  const lists: Array<[readonly string[] | undefined, 'owner' | 'admin']> = [
    [submission.admins, 'admin'],
    [submission.owners, 'owner'],
  ];
  for (const [list, affiliation] of lists) {
    if (list === undefined) continue;
    for (const jid of room.listOf(affiliation)) if (!list.includes(jid)) set(jid, 'none');
    for (const jid of list) set(jid, affiliation);
  }
  return [...changes].map(([jid, { from, to }]) => {
    const nick = room.affiliations.get(jid)?.nick;
    const record: AffiliationRecord | undefined =
      to === 'none'
        ? undefined
        : { affiliation: to as 'owner' | 'admin', ...(nick !== undefined && { nick }) };
    return { jid, from, to, record };
  });
}

/** Applies a submitted configuration: stored first, then the room and its occupants follow. */
async function configure(
  ctx: MucContext,
  room: Room,
  from: JID,
  submission: ConfigSubmission,
): Promise<void> {
  const before = room.config;
  const after = submission.config;
  const wasLocked = room.locked;
  const changes = listChanges(room, submission);
  if (after.persistent && (!before.persistent || wasLocked)) {
    const affiliations = new Map(room.affiliations);
    for (const change of changes) {
      if (change.record === undefined) affiliations.delete(change.jid);
      else affiliations.set(change.jid, change.record);
    }
    await ctx.store.put(ctx.domain, storedRoom(room, after, affiliations));
  } else if (after.persistent) {
    await ctx.store.setConfig(ctx.domain, room.name, serializeConfig(after));
    if (changes.length > 0)
      await ctx.store.setAffiliations(
        ctx.domain,
        room.name,
        changes.map((c) => ({ jid: c.jid, record: c.record })),
      );
  } else if (before.persistent && !wasLocked) await ctx.store.delete(ctx.domain, room.name);

  room.config = after;
  room.locked = false;
  room.history.resize(after.historyLength);
  const actor = room.occupantOf(from)?.nick;
  for (const change of changes)
    applyAffiliation(
      ctx,
      room,
      change.jid,
      change.from,
      change.to,
      change.record,
      actor,
      undefined,
      undefined,
    );
  // §10.2: turning members-only removes the non-members, with 322.
  if (after.membersOnly && !before.membersOnly) {
    for (const occupant of [...room.occupants.values()]) {
      if (!affiliationAtLeast(room.affiliationOf(occupant.bare), 'member'))
        removeOccupant(ctx, room, occupant, { codes: [322] });
    }
  }
  // Unmoderated rooms have no visitors: the unaffiliated and members get their voice back.
  if (before.moderated && !after.moderated) {
    for (const occupant of room.occupants.values()) {
      if (occupant.role !== 'visitor') continue;
      occupant.role = 'participant';
      announceChange(ctx, room, occupant, 'visitor', { actor });
    }
  }
  if (!wasLocked) notifyStatus(ctx, room, configChangeCodes(before, after));
  afterDeparture(ctx, room);
}

/**
 * §10.9: every occupant gets one unavailable presence with <destroy/> (and the alternate venue
 * and reason, when given); the room is forgotten and, if persistent, deleted.
 */
export async function destroyRoom(ctx: MucContext, room: Room, destroy: Element | undefined): Promise<void> {
  if (room.config.persistent && !room.locked) await ctx.store.delete(ctx.domain, room.name);
  const venue = destroy?.attrs.jid === undefined ? undefined : tryParseJID(destroy.attrs.jid);
  const reason = destroy?.getChildText('reason', NS.MUC_OWNER) ?? undefined;
  const password = destroy?.getChildText('password', NS.MUC_OWNER) ?? undefined;
  const notice = x(
    'destroy',
    { jid: venue?.bare },
    reason !== undefined && x('reason', null, reason),
    password !== undefined && x('password', null, password),
  );
  for (const occupant of [...room.occupants.values()]) dismiss(ctx, room, occupant, [], notice);
  ctx.discard(room);
}
