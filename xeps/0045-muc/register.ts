// XEP-0045 §7.10 registering with a room (XEP-0077 with the muc#register form): an
// unaffiliated user of an open room becomes a member with a reserved nickname at once; a
// member may change its reserved nickname or (<remove/>) unregister. Members-only rooms take
// their members from their admins (§9.3), so registering there is not-allowed.

import { StanzaError } from '../../src/core/errors.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { applyAffiliation } from './admin.js';
import type { MucContext } from './context.js';
import { buildForm, formIn, readForm } from './forms.js';
import { affiliationAtLeast } from './permissions.js';
import { normalizeNick } from './presence.js';
import type { AffiliationRecord, Room } from './room.js';

function refusedRegistration(room: Room, from: JID): StanzaError | undefined {
  const affiliation = room.affiliationOf(from);
  if (affiliation === 'outcast') return new StanzaError('not-allowed', 'you are banned from this room');
  if (room.config.membersOnly && !affiliationAtLeast(affiliation, 'member'))
    return new StanzaError('not-allowed', "this room's admins decide who is a member");
  return undefined;
}

/** §7.10: the registration form, or the registration one has. */
export function registerGet(room: Room, from: JID): Element {
  const record = room.affiliations.get(from.bare);
  if (record !== undefined && record.affiliation !== 'outcast') {
    return x(
      'query',
      { xmlns: NS.REGISTER },
      x('registered'),
      record.nick !== undefined && x('username', null, record.nick),
    );
  }
  const refusal = refusedRegistration(room, from);
  if (refusal !== undefined) throw refusal;
  return x(
    'query',
    { xmlns: NS.REGISTER },
    x('instructions', null, 'Choose the nickname to reserve in this room.'),
    buildForm(
      'form',
      NS.MUC_REGISTER,
      [{ var: 'muc#register_roomnick', type: 'text-single', label: 'Desired Nickname', required: true }],
      { title: `Registration with ${room.config.name || room.jid.bare}` },
    ),
  );
}

export async function registerSet(ctx: MucContext, room: Room, from: JID, payload: Element): Promise<void> {
  const record = room.affiliations.get(from.bare);
  const current = record?.affiliation ?? 'none';
  if (payload.getChild('remove', NS.REGISTER) !== undefined) {
    if (current === 'none') throw new StanzaError('item-not-found', 'you are not registered with this room');
    if (current !== 'member')
      throw new StanzaError('not-allowed', 'admins and owners cannot unregister themselves');
    await store(ctx, room, from.bare, undefined);
    applyAffiliation(ctx, room, from.bare, 'member', 'none', undefined, undefined, undefined, undefined);
    return;
  }
  const refusal = refusedRegistration(room, from);
  if (refusal !== undefined) throw refusal;
  const form = readForm(formIn(payload));
  if (
    form === undefined ||
    form.type !== 'submit' ||
    (form.formType !== undefined && form.formType !== NS.MUC_REGISTER)
  )
    throw new StanzaError('bad-request', 'submit the muc#register form');
  const nick = normalizeNick(form.fields.get('muc#register_roomnick')?.[0] ?? '');
  if (nick === undefined) throw new StanzaError('not-acceptable', 'a nickname is required');
  const holder = room.reservedBy(nick);
  const occupant = room.occupantByNick(nick);
  if (
    (holder !== undefined && holder !== from.bare) ||
    (occupant !== undefined && occupant.bare.bare !== from.bare)
  )
    throw new StanzaError('conflict', 'that nickname is reserved or in use by someone else');
  const next: AffiliationRecord =
    record !== undefined && affiliationAtLeast(record.affiliation, 'member')
      ? { ...record, nick }
      : { affiliation: 'member', nick };
  await store(ctx, room, from.bare, next);
  applyAffiliation(ctx, room, from.bare, current, next.affiliation, next, undefined, undefined, undefined);
}

async function store(
  ctx: MucContext,
  room: Room,
  jid: string,
  record: AffiliationRecord | undefined,
): Promise<void> {
  if (room.config.persistent && !room.locked)
    await ctx.store.setAffiliations(ctx.domain, room.name, [{ jid, record }]);
}
