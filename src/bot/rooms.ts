// The assistant in group chats (XEP-0045 Multi-User Chat): joining the configured rooms and the
// rooms allowed people invite it to, tracking occupants' affiliations (owners may set the room's
// instructions), keeping recent room lines as context (nicknames only), answering when addressed
// with a XEP-0461 reply, and pausing when it has answered the same occupant too many times in a
// row, so that two bots never talk to each other forever.
//
// References: XEP-0045 §7.2 entering a room (history management §7.2.15, status codes 110 and
// 201), §10.1.2 creating an instant room, §7.8 invitations (mediated) and XEP-0249 Direct MUC
// Invitations, §9 kicks and bans (status 307/301), §10.9 destruction; XEP-0359 §3.1 the room's
// stanza-id, which replies refer to; XEP-0203 delayed delivery marks history.

import { type JID, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import { type Element, x } from '../xml/element.js';
import { addressedQuestion, withoutFallback } from './addressing.js';
import type { AllowList } from './allow.js';
import { parseCommand } from './commands.js';
import type { Affiliation, Engine } from './engine.js';
import { type ConversationMemory, roomKey } from './memory.js';
import { BOT_NS, NS } from './ns.js';
import type { AnswerTarget } from './outgoing.js';
import type { BotStore } from './store.js';

export interface RoomsOptions {
  readonly engine: Engine;
  readonly memory: ConversationMemory;
  readonly store: BotStore;
  readonly allow: AllowList;
  readonly log: Logger;
  readonly send: (stanza: Element) => void;
  readonly nextId: () => string;
  /** The assistant's bare JID. */
  readonly jid: string;
  /** The full JID it joins rooms with. */
  readonly occupantJid: string;
  readonly nick: string;
  readonly configured: readonly string[];
  readonly acceptInvites: boolean;
  readonly contextLines: number;
  readonly maxBotTurns: number;
  readonly loopPauseMs: number;
  readonly now?: () => number;
}

type RoomState = 'joining' | 'joined' | 'left';

interface Occupant {
  affiliation: Affiliation;
}

/** The current run of answers to one occupant with nobody else speaking. */
interface Run {
  partner: string;
  answers: number;
  lastAt: number;
  paused: boolean;
}

interface Room {
  readonly jid: string;
  state: RoomState;
  password: string | undefined;
  readonly occupants: Map<string, Occupant>;
  readonly run: Run;
}

const AFFILIATIONS: ReadonlySet<string> = new Set(['owner', 'admin', 'member', 'outcast', 'none']);

export class Rooms {
  private readonly rooms = new Map<string, Room>();
  private readonly now: () => number;

  constructor(private readonly options: RoomsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether `bare` is a room the assistant is in or joining. */
  has(bare: string): boolean {
    const room = this.rooms.get(bare);
    return room !== undefined && room.state !== 'left';
  }

  /** Whether `bare` is a room the assistant has tried to join (an error presence may come back). */
  knows(bare: string): boolean {
    return this.rooms.has(bare);
  }

  /** Joins the configured rooms and the rooms it was invited to (after each connection). */
  joinAll(): void {
    for (const room of this.options.configured) this.join(room, undefined);
    if (this.options.acceptInvites)
      for (const { room } of this.options.store.invitedRooms()) this.join(room, undefined);
  }

  /** The connection dropped: every room must be joined again. */
  offline(): void {
    for (const room of this.rooms.values()) {
      room.state = 'left';
      room.occupants.clear();
    }
  }

  /** Leaves every room (clean stop). */
  leaveAll(): void {
    for (const room of this.rooms.values()) {
      if (room.state === 'left') continue;
      this.options.send(
        x('presence', {
          from: this.options.occupantJid,
          to: `${room.jid}/${this.options.nick}`,
          type: 'unavailable',
        }),
      );
      room.state = 'left';
    }
  }

  /**
   * An invitation: XEP-0249 direct (from a person) or XEP-0045 mediated (from the room). Returns
   * false when the message is not one.
   */
  handleInvite(message: Element, from: JID): boolean {
    const direct = message.getChild('x', NS.CONFERENCE);
    const mediated = message.getChild('x', NS.MUC_USER)?.getChild('invite');
    if (direct === undefined && mediated === undefined) return false;
    const { log, allow } = this.options;
    const roomJid = direct ? parseRoom(direct.attr('jid')) : from.bare;
    const inviter = direct ? from : parseInviter(mediated!.attr('from'));
    const password = direct
      ? direct.attr('password')
      : message.getChild('x', NS.MUC_USER)?.getChildText('password');
    if (roomJid === undefined || inviter === undefined) return true;
    if (!this.options.acceptInvites || !allow.allows(inviter)) {
      log.info('declined a room invitation', { room: roomJid, reason: 'inviter not allowed' });
      if (mediated)
        this.options.send(
          x(
            'message',
            { from: this.options.jid, to: roomJid, id: this.options.nextId() },
            x(
              'x',
              { xmlns: NS.MUC_USER },
              x('decline', { to: inviter.full }, x('reason', null, 'Not allowed')),
            ),
          ),
        );
      return true;
    }
    this.options.store.addInvitedRoom({ room: roomJid, invitedBy: inviter.bare });
    log.info('invited to a room', { room: roomJid });
    this.join(roomJid, password);
    return true;
  }

  /** A presence from a room or one of its occupants. */
  handlePresence(stanza: Element, from: JID): void {
    const room = this.rooms.get(from.bare);
    if (room === undefined) return;
    const nick = from.resource;
    const type = stanza.attrs.type;
    if (type === 'error') {
      if (nick === '' || nick === this.options.nick) {
        room.state = 'left';
        const condition = stanza.getChild('error')?.elements[0]?.localName ?? 'unknown';
        this.options.log.warn('could not join a room', { room: room.jid, condition });
      }
      return;
    }
    const user = stanza.getChild('x', NS.MUC_USER);
    const codes = new Set(user?.getChildren('status').map((s) => s.attr('code')) ?? []);
    const self = codes.has('110') || nick === this.options.nick;
    const affiliation = user?.getChild('item')?.attr('affiliation') ?? 'none';
    if (self) {
      if (type === 'unavailable') this.selfLeft(room, codes, user);
      else {
        if (room.state !== 'joined') this.options.log.info('joined a room', { room: room.jid });
        room.state = 'joined';
        // XEP-0045 §10.1.2: a room created by this join waits for a configuration; accept the defaults.
        if (codes.has('201')) this.configureInstantRoom(room.jid);
      }
      return;
    }
    if (type === 'unavailable') room.occupants.delete(nick);
    else
      room.occupants.set(nick, {
        affiliation: AFFILIATIONS.has(affiliation) ? (affiliation as Affiliation) : 'none',
      });
  }

  /** A message of type groupchat (or an error) from a room. */
  handleMessage(message: Element, from: JID): void {
    const room = this.rooms.get(from.bare);
    if (room === undefined) return;
    const { nick, log, memory, engine } = this.options;
    if (message.attrs.type === 'error') {
      log.debug('a room returned an error', { room: room.jid });
      return;
    }
    const speaker = from.resource;
    if (speaker === '' || speaker === nick) return;
    const bodyText = message.getChildText('body');
    if (bodyText === undefined || message.getChild('subject') !== undefined) return;
    const key = roomKey(room.jid);
    if (message.getChild('delay', NS.DELAY) !== undefined) {
      // Room history on joining: context, never a question.
      if (this.options.contextLines > 0)
        memory.add(key, 'user', withoutFallback(message, bodyText, BOT_NS.REPLY), speaker);
      return;
    }
    if (message.getChild('encrypted', BOT_NS.OMEMO_LEGACY) || message.getChild('encrypted', BOT_NS.OMEMO))
      return;
    const question = addressedQuestion(message, bodyText, { nick, room: room.jid, jid: this.options.jid });
    if (question === undefined) {
      // Someone spoke without addressing the assistant: any run of turns is over.
      room.run.answers = 0;
      room.run.paused = false;
      if (this.options.contextLines > 0)
        memory.add(key, 'user', withoutFallback(message, bodyText, BOT_NS.REPLY), speaker);
      return;
    }
    const target = this.replyTarget(room, message, speaker, question);
    const asker = {
      kind: 'room' as const,
      room: room.jid,
      nick: speaker,
      affiliation: room.occupants.get(speaker)?.affiliation ?? 'none',
    };
    const command = parseCommand(question);
    if (command !== undefined) {
      engine.command(asker, target, command.name, command.arg);
      return;
    }
    if (question === '') return;
    if (!this.takeTurn(room, speaker)) return;
    const lineId = memory.add(key, 'user', question, speaker);
    engine.ask({
      asker,
      target,
      text: undefined,
      upToId: lineId,
      settled: () => {
        room.run.lastAt = this.now();
      },
    });
  }

  /** Whether the assistant may answer `speaker` now (the loop cap); says so once when it pauses. */
  private takeTurn(room: Room, speaker: string): boolean {
    const run = room.run;
    const now = this.now();
    if (run.partner !== speaker || now - run.lastAt >= this.options.loopPauseMs) {
      run.partner = speaker;
      run.answers = 0;
      run.paused = false;
    }
    run.lastAt = now;
    if (run.answers < this.options.maxBotTurns) {
      run.answers++;
      return true;
    }
    if (!run.paused) {
      run.paused = true;
      this.options.log.info('pausing in a room after answers in a row', {
        room: room.jid,
        answers: run.answers,
      });
      this.options.engine.say(
        { from: this.options.occupantJid, to: room.jid, type: 'groupchat' },
        `I will pause here: that was ${run.answers} answers in a row to ${speaker}. Ask me again in a little while.`,
      );
    }
    return false;
  }

  private replyTarget(room: Room, message: Element, speaker: string, question: string): AnswerTarget {
    const base = { from: this.options.occupantJid, to: room.jid, type: 'groupchat' as const };
    // XEP-0461 §4.1: in a room, replies refer to the room's stanza-id.
    let id: string | undefined;
    for (const sid of message.getChildren('stanza-id', BOT_NS.SID))
      if (sid.attr('by') === room.jid) id = sid.attr('id');
    // COMPAT: rooms without XEP-0359 (Prosody's MUC without mod_muc_mam) give only the message id.
    id ??= message.attrs.id;
    if (id === undefined) return base;
    return { ...base, replyTo: { to: `${room.jid}/${speaker}`, id, quote: `${speaker}: ${question}` } };
  }

  private join(roomJid: string, password: string | undefined): void {
    let room = this.rooms.get(roomJid);
    if (room === undefined) {
      room = {
        jid: roomJid,
        state: 'left',
        password,
        occupants: new Map(),
        run: { partner: '', answers: 0, lastAt: 0, paused: false },
      };
      this.rooms.set(roomJid, room);
    }
    if (password !== undefined) room.password = password;
    if (room.state !== 'left') return;
    room.state = 'joining';
    room.occupants.clear();
    // Remembered lines already give context; otherwise ask the room for its recent history.
    const known = this.options.memory.history(roomKey(roomJid)).length > 0;
    const lines = known ? 0 : this.options.contextLines;
    this.options.send(
      x(
        'presence',
        { from: this.options.occupantJid, to: `${roomJid}/${this.options.nick}`, id: this.options.nextId() },
        x(
          'x',
          { xmlns: BOT_NS.MUC },
          x('history', { maxstanzas: lines }),
          room.password === undefined ? undefined : x('password', null, room.password),
        ),
      ),
    );
  }

  private selfLeft(room: Room, codes: Set<string | undefined>, user: Element | undefined): void {
    room.state = 'left';
    room.occupants.clear();
    // Kicked (307), banned (301), removed by an affiliation change (321, 322) or the room is gone:
    // do not come back on the next connection.
    const gone =
      codes.has('307') ||
      codes.has('301') ||
      codes.has('321') ||
      codes.has('322') ||
      user?.getChild('destroy');
    if (gone) {
      this.options.store.removeInvitedRoom(room.jid);
      this.options.log.info('removed from a room', { room: room.jid, codes: [...codes].join(',') });
    }
  }

  private configureInstantRoom(roomJid: string): void {
    this.options.send(
      x(
        'iq',
        { from: this.options.occupantJid, to: roomJid, type: 'set', id: this.options.nextId() },
        x('query', { xmlns: BOT_NS.MUC_OWNER }, x('x', { xmlns: NS.DATA_FORMS, type: 'submit' })),
      ),
    );
  }
}

function parseInviter(from: string | undefined): JID | undefined {
  return from === undefined ? undefined : tryParseJID(from);
}

/** The bare JID of a room named in an invitation, or undefined when it is not a room's address. */
function parseRoom(value: string | undefined): string | undefined {
  const room = value === undefined ? undefined : tryParseJID(value);
  return room === undefined || room.local === '' ? undefined : room.bare;
}
