// What the MUC module offers other modules (through ctx.server.services.get('muc')): the
// rooms, and the points where a room archive, occupant ids, self-ping or moderation hook in.
// Every registration returns the function that undoes it; a module calls those from onUnload.

import type { JID } from '../../src/jid.js';
import type { BroadcastEvent, OccupantStanzaEvent, RoomIqHandler } from './context.js';
import type { Room } from './room.js';

export interface MucApi {
  /** The service domains, one per host. */
  domains(): readonly string[];
  /** A room by its bare JID, if it exists. */
  room(jid: JID): Room | undefined;
  /** Before a groupchat message is broadcast: add children (a stanza-id, an occupant-id). */
  beforeBroadcast(handler: (event: BroadcastEvent) => void): () => void;
  /** After a groupchat message was broadcast (to archive it). */
  afterBroadcast(handler: (event: BroadcastEvent) => void): () => void;
  /** Every presence and private message sent from an occupant JID (occupant-id). */
  decorateOccupantStanza(handler: (event: OccupantStanzaEvent) => void): () => void;
  /** Features every room adds to its disco#info (urn:xmpp:mam:2, urn:xmpp:occupant-id:0…). */
  addRoomFeatures(features: (room: Room) => readonly string[]): () => void;
  /** A persistent room was loaded at start (to bring its history back from an archive). */
  roomLoaded(handler: (room: Room) => void): () => void;
  /** A room is gone for good (to delete its archive). */
  roomDiscarded(handler: (room: Room) => void): () => void;
  /** Requests to rooms' JIDs beside those of XEP-0045 (a MAM query, a retraction). */
  handleRoomIq(type: 'get' | 'set', ns: string, name: string, handler: RoomIqHandler): () => void;
}

declare module '../../src/core/services.js' {
  interface Services {
    muc: MucApi;
  }
}
