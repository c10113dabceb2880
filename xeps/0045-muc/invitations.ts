// XEP-0045 §7.8.2 mediated invitations and their declines. The room sends the invitation from
// its own JID, with the inviter's bare JID and the room's password; in a members-only room an
// invitation by someone who may add members puts the invitee on the member list (§9.5).
// Direct invitations (XEP-0249, §7.8.1) go from user to user and never reach the room.

import { StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { applyAffiliation } from './admin.js';
import { requiredPassword } from './config.js';
import type { MucContext } from './context.js';
import { deliver } from './delivery.js';
import { refuse } from './messages.js';
import { affiliationAtLeast, mayInvite } from './permissions.js';
import type { Room } from './room.js';

/** Sends one invitation from the room to `invitee`. */
export function sendInvitation(
  ctx: MucContext,
  room: Room,
  inviter: JID,
  invitee: JID,
  reason: string | undefined,
  continuation: Element | undefined,
  id: string = ctx.nextId(),
): void {
  const password = requiredPassword(room.config);
  const roomName = room.config.name || room.jid.bare;
  deliver(
    ctx,
    x(
      'message',
      { from: room.jid.bare, to: invitee.full, id },
      x(
        'x',
        { xmlns: NS.MUC_USER },
        x('invite', { from: inviter.bare }, reason !== undefined && x('reason', null, reason), continuation),
        password !== undefined && x('password', null, password),
      ),
      // For clients that do not know mediated invitations.
      x('body', null, `${inviter.bare} invites you to the room ${roomName} (xmpp:${room.jid.bare}?join)`),
    ),
  );
}

/** A message to the room carrying <invite/> or <decline/> elements in a muc#user <x/>. */
export async function handleInvitations(
  ctx: MucContext,
  room: Room,
  event: StanzaEvent,
  userX: Element,
): Promise<void> {
  const { stanza, from } = event;
  const invites = userX.getChildren('invite', NS.MUC_USER);
  const declines = userX.getChildren('decline', NS.MUC_USER);
  if (invites.length > 0) {
    const inviter = room.standingOf(from);
    if (inviter.role === 'none' && !affiliationAtLeast(inviter.affiliation, 'admin')) {
      refuse(ctx, room, stanza, new StanzaError('not-acceptable', 'only occupants may invite others'));
      return;
    }
    if (!mayInvite(inviter, room.config)) {
      refuse(ctx, room, stanza, new StanzaError('forbidden', 'you may not invite others to this room'));
      return;
    }
    const invitees: JID[] = [];
    for (const invite of invites) {
      const invitee = tryParseJID(invite.attrs.to ?? '');
      if (invitee === undefined) {
        refuse(ctx, room, stanza, new StanzaError('jid-malformed', 'an invitation needs the JID to invite'));
        return;
      }
      // "If the inviter supplies a non-existent JID, the room SHOULD return item-not-found":
      // known only of this server's own accounts.
      if (ctx.router.isLocalHost(invitee.domain) && !(await ctx.accounts.exists(invitee.bareJID()))) {
        refuse(ctx, room, stanza, new StanzaError('item-not-found', `${invitee.bare} does not exist`));
        return;
      }
      invitees.push(invitee);
    }
    // §9.5: in a members-only room the invitation makes the invitee a member.
    const additions = room.config.membersOnly
      ? invitees.filter(
          (j, i) => room.affiliationOf(j) === 'none' && invitees.findIndex((k) => k.bare === j.bare) === i,
        )
      : [];
    if (additions.length > 0) {
      const changes = additions.map((j) => ({ jid: j.bare, record: { affiliation: 'member' as const } }));
      if (room.config.persistent && !room.locked)
        await ctx.store.setAffiliations(ctx.domain, room.name, changes);
      for (const j of additions)
        applyAffiliation(
          ctx,
          room,
          j.bare,
          'none',
          'member',
          { affiliation: 'member' },
          undefined,
          undefined,
          undefined,
        );
    }
    invites.forEach((invite, i) => {
      sendInvitation(
        ctx,
        room,
        from,
        invitees[i]!,
        invite.getChildText('reason', NS.MUC_USER) ?? undefined,
        invite.getChild('continue', NS.MUC_USER)?.clone(),
        invites.length === 1 ? stanza.attrs.id : undefined,
      );
    });
  }
  for (const decline of declines) {
    const inviter = tryParseJID(decline.attrs.to ?? '');
    if (inviter === undefined) continue;
    const reason = decline.getChildText('reason', NS.MUC_USER);
    deliver(
      ctx,
      x(
        'message',
        { from: room.jid.bare, to: inviter.full, id: stanza.attrs.id ?? ctx.nextId() },
        x(
          'x',
          { xmlns: NS.MUC_USER },
          x('decline', { from: from.bare }, reason !== null && x('reason', null, reason)),
        ),
      ),
    );
  }
}
