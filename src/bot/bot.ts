// The assistant as a component: every stanza the server routes to its domain arrives here and
// gets exactly one fate — handled, answered with the error the spec names, or dropped (errors,
// results, and stanzas for nobody the assistant knows).
//
//   message  from a room it is in            → rooms (group chat, mediated invitations)
//            carrying an invitation           → rooms
//            to the assistant's JID           → direct chat
//            to any other address             → service-unavailable
//   presence from a room or its occupants     → rooms
//            to the assistant's JID           → presence (subscriptions, probes)
//   iq       disco#info / disco#items / ping  → answered for the domain and the assistant's JID
//            XEP-0050 <command/>              → ad-hoc commands (allowed people only)
//            anything else (get/set)          → service-unavailable

import { type JID, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import type { Element } from '../xml/element.js';
import type { AdHocCommands } from './adhoc.js';
import type { AllowList } from './allow.js';
import type { DirectChat } from './chat.js';
import { type DiscoContext, discoInfo, discoItems } from './disco.js';
import { BOT_NS, NS } from './ns.js';
import type { Presence } from './presence.js';
import type { Rooms } from './rooms.js';
import { errorReply, iqResult } from './stanzas.js';

export interface RouterParts {
  readonly disco: DiscoContext;
  readonly allow: AllowList;
  readonly chat: DirectChat;
  readonly rooms: Rooms;
  readonly presence: Presence;
  readonly adhoc: AdHocCommands;
  readonly send: (stanza: Element) => void;
  readonly log: Logger;
}

export class StanzaRouter {
  constructor(private readonly parts: RouterParts) {}

  route(stanza: Element): void {
    const from = stanza.attrs.from === undefined ? undefined : tryParseJID(stanza.attrs.from);
    const to = stanza.attrs.to === undefined ? undefined : tryParseJID(stanza.attrs.to);
    if (from === undefined || to === undefined) {
      // The server stamps and checks addresses; a stanza without valid ones is not for us.
      this.parts.log.debug('dropped a stanza without valid addresses', { name: stanza.name });
      return;
    }
    switch (stanza.name) {
      case 'message':
        this.message(stanza, from, to);
        return;
      case 'presence':
        this.presence(stanza, from, to);
        return;
      case 'iq':
        this.iq(stanza, from, to);
        return;
      default:
        this.parts.log.debug('dropped an unknown top-level element', { name: stanza.name });
    }
  }

  private message(stanza: Element, from: JID, to: JID): void {
    const { rooms, chat, disco } = this.parts;
    const type = stanza.attrs.type ?? 'normal';
    if (rooms.has(from.bare)) {
      if (type === 'groupchat' || type === 'error') rooms.handleMessage(stanza, from);
      else if (!rooms.handleInvite(stanza, from))
        this.reply(stanza, 'cancel', 'not-acceptable', 'Ask me in the room, or write to me directly.');
      return;
    }
    if (type === 'error' || type === 'groupchat') return;
    if (rooms.handleInvite(stanza, from)) return;
    if (to.bare === disco.jid) chat.handle(stanza, from);
    else this.reply(stanza, 'cancel', 'service-unavailable');
  }

  private presence(stanza: Element, from: JID, to: JID): void {
    const { rooms, presence, disco } = this.parts;
    if (rooms.has(from.bare) || (stanza.attrs.type === 'error' && rooms.knows(from.bare))) {
      rooms.handlePresence(stanza, from);
      return;
    }
    if (to.bare === disco.jid && to.resource === '') presence.handle(stanza, from);
  }

  private iq(stanza: Element, from: JID, to: JID): void {
    const type = stanza.attrs.type;
    if (type !== 'get' && type !== 'set') return;
    const { disco, allow, adhoc, send } = this.parts;
    const payload = stanza.elements[0];
    const ns = payload?.getNS();
    const mine = to.bare === disco.jid || to.full === disco.domain;
    if (payload === undefined || !mine) {
      this.reply(stanza, 'cancel', 'service-unavailable');
      return;
    }
    const node = payload.attr('node');
    if (type === 'get' && ns === NS.DISCO_INFO && payload.localName === 'query') {
      const info = discoInfo(disco, to.bare, node);
      if (info) send(iqResult(stanza, info));
      else this.reply(stanza, 'cancel', 'item-not-found');
      return;
    }
    if (type === 'get' && ns === NS.DISCO_ITEMS && payload.localName === 'query') {
      const items = discoItems(disco, to.bare, node, allow.allows(from));
      if (items) send(iqResult(stanza, items));
      else this.reply(stanza, 'cancel', 'item-not-found');
      return;
    }
    if (type === 'get' && ns === NS.PING && payload.localName === 'ping') {
      send(iqResult(stanza));
      return;
    }
    if (
      type === 'set' &&
      ns === BOT_NS.COMMANDS &&
      payload.localName === 'command' &&
      to.bare === disco.jid
    ) {
      if (!allow.allows(from)) {
        this.reply(stanza, 'auth', 'forbidden');
        return;
      }
      const answer = adhoc.execute(stanza, payload, from);
      if (answer) send(answer);
      return;
    }
    this.reply(stanza, 'cancel', 'service-unavailable');
  }

  private reply(stanza: Element, type: 'cancel' | 'auth' | 'modify', condition: string, text?: string): void {
    const error = errorReply(stanza, type, condition, text);
    if (error) this.parts.send(error);
  }
}
