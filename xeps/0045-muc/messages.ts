// XEP-0045 messages: groupchat to all occupants (§7.4, reflected with the sender's id:
// muc#stable_id), the subject (§8.1: who may change it; §7.2.15: sent after the history on
// entry, with XEP-0203 delay), private messages between occupants (§7.5, muc#roomconfig_allowpm),
// the discussion history on entry (§7.2.12, §7.2.13), and the room's own notices (§10.2.1).

import { StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import type { JID } from '../../src/jid.js';
import { Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { BroadcastEvent, MucContext } from './context.js';
import { deliver, fanOut } from './delivery.js';
import { type HistoryEntry, type HistoryRequest, selectHistory } from './history.js';
import { rolePermits } from './permissions.js';
import { addressed, removeSession } from './presence.js';
import type { Occupant, Room } from './room.js';

/**
 * Errors that tell a room its occupant's client is gone (§18.1.2): the room removes the
 * session that caused them.
 */
const GONE_CONDITIONS: ReadonlySet<string> = new Set([
  'gone',
  'item-not-found',
  'recipient-unavailable',
  'redirect',
  'remote-server-not-found',
  'remote-server-timeout',
  'service-unavailable',
]);

/**
 * A message of type error from an occupant's client, about something the room sent it: when
 * it says the client is gone, its session leaves the room (§18.1.2, status 333).
 */
export function handleError(ctx: MucContext, room: Room, event: StanzaEvent): void {
  const occupant = room.occupantOf(event.from);
  if (occupant === undefined) return;
  const condition = event.stanza.getChild('error')?.elements[0]?.localName;
  if (condition !== undefined && GONE_CONDITIONS.has(condition))
    removeSession(ctx, room, occupant, event.from.full, [333]);
}

/** Refuses a message with an error from the room (or the occupant JID it was sent to). */
export function refuse(ctx: MucContext, room: Room, stanza: Element, error: StanzaError): void {
  ctx.router.bounce(
    stanza,
    new StanzaError(error.condition, error.text, { by: room.jid.bare, type: error.type }),
  );
}

function isSubjectChange(message: Element): boolean {
  // §8.1: a subject without a body or a thread; with either it is an ordinary message.
  let subject = false;
  for (const child of message.children) {
    if (typeof child === 'string') continue;
    const name = child.localName;
    if (name === 'body' || name === 'thread') return false;
    if (name === 'subject') subject = true;
  }
  return subject;
}

function hasBody(message: Element): boolean {
  for (const child of message.children)
    if (typeof child !== 'string' && child.localName === 'body') return true;
  return false;
}

/** The message the room broadcasts for an occupant: from its occupant JID, the sender's id kept. */
function reflected(ctx: MucContext, sender: Occupant, stanza: Element): Element {
  const attrs: Record<string, string> = {
    from: sender.jid.full,
    type: 'groupchat',
    id: stanza.attrs.id ?? ctx.nextId(),
  };
  const lang = stanza.attrs['xml:lang'];
  if (lang !== undefined) attrs['xml:lang'] = lang;
  const message = new Element('message', attrs);
  // The children are the client's, shared; the array is the room's own, for hooks to add to.
  message.children = stanza.children.slice();
  return message;
}

/** A message of type groupchat to the room's JID (§7.4, §8.1). */
export function handleGroupchat(ctx: MucContext, room: Room, event: StanzaEvent): void | Promise<void> {
  const { stanza, from } = event;
  const sender = room.occupantOf(from);
  if (sender === undefined) {
    refuse(
      ctx,
      room,
      stanza,
      new StanzaError('not-acceptable', 'only occupants may send messages to the room'),
    );
    return;
  }
  if (isSubjectChange(stanza)) return changeSubject(ctx, room, sender, from, stanza);
  if (!rolePermits(sender.role, 'send-groupchat', room.config)) {
    refuse(ctx, room, stanza, new StanzaError('forbidden', 'you have no voice in this room'));
    return;
  }
  const message = reflected(ctx, sender, stanza);
  const at = ctx.now();
  broadcast(ctx, room, { kind: 'message', room, sender, real: from, message, at });
  if (hasBody(message)) room.history.push({ stanza: message, at });
}

/** Sends an occupant's message to every occupant, with the extensions' hooks around it. */
function broadcast(ctx: MucContext, room: Room, event: BroadcastEvent): void {
  const { extensions } = ctx;
  for (const handler of extensions.beforeBroadcast) handler(event);
  const gone = fanOut(ctx, room, event.message, event.sender.jid);
  for (const handler of extensions.afterBroadcast) handler(event);
  removeGhosts(ctx, room, gone);
}

/** Occupant sessions the fan-out found unbound leave the room as if by an error (§18.1.2). */
function removeGhosts(ctx: MucContext, room: Room, gone: ReadonlyArray<{ jid: JID }>): void {
  for (const { jid } of gone) {
    const occupant = room.occupantOf(jid);
    if (occupant !== undefined) removeSession(ctx, room, occupant, jid.full, [333]);
  }
}

/** §8.1: a subject change, by a moderator or (muc#roomconfig_changesubject) a participant. */
async function changeSubject(
  ctx: MucContext,
  room: Room,
  sender: Occupant,
  real: JID,
  stanza: Element,
): Promise<void> {
  if (!rolePermits(sender.role, 'change-subject', room.config)) {
    refuse(ctx, room, stanza, new StanzaError('forbidden', 'you may not change the subject of this room'));
    return;
  }
  const subject = { text: stanza.getChildText('subject') ?? '', by: sender.jid.full, at: ctx.now() };
  room.subject = subject;
  if (room.config.persistent && !room.locked) await ctx.store.setSubject(ctx.domain, room.name, subject);
  broadcast(ctx, room, {
    kind: 'subject',
    room,
    sender,
    real,
    message: reflected(ctx, sender, stanza),
    at: subject.at,
  });
}

/** A message of type groupchat from the room itself (§10.2.1 status codes, for instance). */
export function notifyOccupants(ctx: MucContext, room: Room, ...children: Element[]): void {
  const message = new Element('message', { from: room.jid.bare, type: 'groupchat', id: ctx.nextId() });
  for (const child of children) message.append(child);
  sendFromRoom(ctx, room, message);
}

/** A message the room made (from its own JID, without `to`) to every occupant. */
export function sendFromRoom(ctx: MucContext, room: Room, message: Element): void {
  removeGhosts(ctx, room, fanOut(ctx, room, message, room.jid));
}

/** §10.2.1: the status codes of a configuration change, in one notice. */
export function notifyStatus(ctx: MucContext, room: Room, codes: readonly number[]): void {
  if (codes.length === 0 || room.isEmpty()) return;
  notifyOccupants(
    ctx,
    room,
    x(
      'x',
      { xmlns: NS.MUC_USER },
      codes.map((code) => x('status', { code })),
    ),
  );
}

// ---- private messages ----

/** §7.5: a message to an occupant JID. */
export function handlePrivateMessage(ctx: MucContext, room: Room, event: StanzaEvent): void {
  const { stanza, from, to } = event;
  const type = stanza.attrs.type;
  if (type === 'error') {
    handleError(ctx, room, event);
    return;
  }
  const sender = room.occupantOf(from);
  if (sender === undefined) {
    refuse(ctx, room, stanza, new StanzaError('not-acceptable', 'only occupants may send private messages'));
    return;
  }
  if (type === 'groupchat') {
    refuse(
      ctx,
      room,
      stanza,
      new StanzaError('bad-request', 'a private message cannot be of type groupchat'),
    );
    return;
  }
  const target = room.occupantByNick(to.resource);
  if (target === undefined) {
    refuse(ctx, room, stanza, new StanzaError('item-not-found', 'there is no such occupant'));
    return;
  }
  if (!rolePermits(sender.role, 'send-private-messages', room.config)) {
    refuse(ctx, room, stanza, new StanzaError('forbidden', 'you may not send private messages in this room'));
    return;
  }
  const attrs: Record<string, string> = { from: sender.jid.full };
  for (const key of ['type', 'id', 'xml:lang']) {
    const value = stanza.attrs[key];
    if (value !== undefined) attrs[key] = value;
  }
  const message = new Element('message', attrs);
  message.children = stanza.children.slice();
  // §7.5: the <x/> that lets carbons (XEP-0280) tell a private message from a chat.
  if (stanza.getChild('x', NS.MUC_USER) === undefined) message.append(x('x', { xmlns: NS.MUC_USER }));
  ctx.extensions.decorate(room, sender, message);
  // RECOMMENDED (§7.2.8): to every session of a multi-session nickname.
  for (const session of target.sessions.values()) deliver(ctx, addressed(message, session.jid.full));
}

// ---- on entry ----

/** §7.2.12–§7.2.15: the history, then the subject, to a session that just entered. */
export function sendHistoryAndSubject(ctx: MucContext, room: Room, to: JID, request: HistoryRequest): void {
  const stamp = (at: number) =>
    x('delay', { xmlns: NS.DELAY, from: room.jid.bare, stamp: new Date(at).toISOString() });
  const historic = (entry: HistoryEntry): Element => {
    const copy = new Element(entry.stanza.name, { ...entry.stanza.attrs, to: to.full });
    copy.children = [...entry.stanza.children, stamp(entry.at)];
    return copy;
  };
  const now = ctx.now();
  const entries = selectHistory(
    room.history.entries(),
    request,
    room.config.historyLength,
    now,
    (e) => historic(e).toString().length,
  );
  for (const entry of entries) deliver(ctx, historic(entry));
  const subject = room.subject;
  const message = x(
    'message',
    { from: subject?.by || room.jid.bare, to: to.full, type: 'groupchat', id: ctx.nextId() },
    x('subject', null, subject?.text ?? ''),
    subject !== undefined && stamp(subject.at),
  );
  deliver(ctx, message);
}
