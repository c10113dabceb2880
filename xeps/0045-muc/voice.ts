// XEP-0045 §7.13 requesting voice and §8.6 approving voice requests: a visitor of a moderated
// room submits the muc#request form; the room passes it on to every moderator as a form to
// approve; a moderator's submitted approval grants voice as §8.3 would.

import { StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { MucContext } from './context.js';
import { deliver } from './delivery.js';
import { buildForm, parseBoolean, type SubmittedForm } from './forms.js';
import { refuse } from './messages.js';
import { roleChange } from './permissions.js';
import { announceChange } from './presence.js';
import type { Occupant, Room } from './room.js';

/** A visitor's requests are passed on to the moderators at most this often. */
const REQUEST_INTERVAL_MS = 60_000;
const lastRequest = new WeakMap<Occupant, number>();

/** A muc#request form sent to the room: a request for voice, or a moderator's approval. */
export function handleVoiceForm(ctx: MucContext, room: Room, event: StanzaEvent, form: SubmittedForm): void {
  const { stanza, from } = event;
  const occupant = room.occupantOf(from);
  if (occupant === undefined) {
    refuse(ctx, room, stanza, new StanzaError('not-acceptable', 'only occupants may ask for voice'));
    return;
  }
  if (form.fields.has('muc#request_allow')) {
    approve(ctx, room, occupant, form);
    return;
  }
  if (form.fields.get('muc#role')?.[0] !== 'participant') {
    refuse(
      ctx,
      room,
      stanza,
      new StanzaError('bad-request', 'a voice request asks for the participant role'),
    );
    return;
  }
  // A participant has voice already; a repeated request within the interval is dropped.
  if (occupant.role !== 'visitor') return;
  const now = ctx.now();
  const last = lastRequest.get(occupant);
  if (last !== undefined && now - last < REQUEST_INTERVAL_MS) return;
  lastRequest.set(occupant, now);
  const approval = buildForm(
    'form',
    NS.MUC_REQUEST,
    [
      {
        var: 'muc#role',
        type: 'list-single',
        label: 'Requested role',
        values: ['participant'],
        options: [{ value: 'participant' }],
      },
      { var: 'muc#jid', type: 'jid-single', label: 'User ID', values: [from.full] },
      { var: 'muc#roomnick', type: 'text-single', label: 'Room Nickname', values: [occupant.nick] },
      { var: 'muc#request_allow', type: 'boolean', label: 'Grant voice to this person?', values: ['false'] },
    ],
    {
      title: 'Voice request',
      instructions: `To grant voice to ${occupant.nick}, check the box and submit the form.`,
    },
  );
  for (const moderator of room.occupants.values()) {
    if (moderator.role !== 'moderator') continue;
    for (const session of moderator.sessions.values()) {
      deliver(
        ctx,
        x('message', { from: room.jid.bare, to: session.jid.full, id: ctx.nextId() }, approval.clone()),
      );
    }
  }
}

/** §8.6: a moderator submitted the approval form. */
function approve(ctx: MucContext, room: Room, moderator: Occupant, form: SubmittedForm): void {
  if (form.type !== 'submit' || parseBoolean(form.fields.get('muc#request_allow')?.[0]) !== true) return;
  const nick = form.fields.get('muc#roomnick')?.[0];
  const target = nick === undefined ? undefined : room.occupantByNick(nick);
  if (target === undefined || target.role !== 'visitor') return;
  if (roleChange(room.standing(moderator), room.standing(target), 'participant') !== 'ok') return;
  target.role = 'participant';
  announceChange(ctx, room, target, 'visitor', { actor: moderator.nick });
}
