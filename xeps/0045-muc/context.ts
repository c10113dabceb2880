// What every feature file of the MUC service works with: the service's dependencies and
// limits (MucContext), and the points where other modules hook into rooms (MucExtensions) —
// a room archive (XEP-0313), occupant ids (XEP-0421), self-ping (XEP-0410), moderation
// (XEP-0425) — without reaching into the room logic.

import type { IqAnswer } from '../../src/core/iq.js';
import type { Router } from '../../src/core/router.js';
import type { ServiceRegistry } from '../../src/core/services.js';
import type { SessionRegistry } from '../../src/core/sessions.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Element } from '../../src/xml/element.js';
import type { ConfigLimits, RoomConfig } from './config.js';
import type { FieldSpec } from './forms.js';
import type { Occupant, Room } from './room.js';
import type { MucStore } from './store.js';

export interface ServiceLimits extends ConfigLimits {
  /** How many admins and owners may enter beyond a full room's limit (§7.2.9). */
  readonly adminOverflow: number;
  /** Seconds a new room stays locked awaiting its configuration; 0 to create rooms unlocked. */
  readonly lockSeconds: number;
}

export interface MucContext {
  /** The service's domain (conference.example.org). */
  readonly domain: string;
  readonly router: Router;
  readonly sessions: SessionRegistry;
  readonly services: ServiceRegistry;
  /** Whether a local account exists (an invitation to one that does not is item-not-found). */
  readonly accounts: { exists(account: JID): Promise<boolean> };
  readonly store: MucStore;
  readonly log: Logger;
  readonly limits: ServiceLimits;
  readonly defaults: RoomConfig;
  readonly extensions: MucExtensions;
  now(): number;
  /** A fresh stanza id. */
  nextId(): string;
  /** Forgets a room: destroyed, or temporary and empty. */
  discard(room: Room): void;
}

/** A groupchat message about to be, or just, broadcast by a room. */
export interface BroadcastEvent {
  /** An ordinary message, or a subject change (§8.1). */
  readonly kind: 'message' | 'subject';
  readonly room: Room;
  readonly sender: Occupant;
  /** The real full JID of the session that sent it. */
  readonly real: JID;
  /**
   * The message as every occupant gets it, but for `to`. Before the broadcast, handlers may add
   * children (a XEP-0359 stanza-id, a XEP-0421 occupant-id); after it, they must not change it.
   */
  readonly message: Element;
  /** When the room received it (ms since the epoch). */
  readonly at: number;
}

/** A presence or private message that the room sends from an occupant's JID. */
export interface OccupantStanzaEvent {
  readonly room: Room;
  readonly occupant: Occupant;
  readonly stanza: Element;
}

export interface RoomIqRequest {
  readonly room: Room;
  readonly stanza: Element;
  readonly payload: Element;
  readonly from: JID;
  /** The requester's occupant, when it is in the room. */
  readonly occupant: Occupant | undefined;
  /** Sends a message from the room's own JID (`from` set, `to` left out) to every occupant. */
  broadcast(message: Element): void;
  /** Sends an occupant's presence to everyone again (something it shows has changed). */
  reannounce(occupant: Occupant): void;
}

export type RoomIqHandler = (request: RoomIqRequest) => IqAnswer | Promise<IqAnswer>;

export class MucExtensions {
  /** Before a groupchat message is serialized for the fan-out. */
  readonly beforeBroadcast = new Set<(event: BroadcastEvent) => void>();
  /** After a groupchat message or subject change went to every occupant. */
  readonly afterBroadcast = new Set<(event: BroadcastEvent) => void>();
  /** On every presence and private message sent from an occupant's JID, before it goes out. */
  readonly occupantStanza = new Set<(event: OccupantStanzaEvent) => void>();
  /** Features a room adds to its disco#info. */
  readonly roomFeatures = new Set<(room: Room) => readonly string[]>();
  /** Requests to a room's JID by (type, namespace, name), beside the ones XEP-0045 defines. */
  readonly roomIq = new Map<string, RoomIqHandler>();
  /** Fields a room adds to its muc#roominfo form (XEP-0317's hats#hash). */
  readonly roomInfoFields = new Set<(room: Room) => readonly FieldSpec[]>();
  /** Nodes of a room's disco#items beside XEP-0045's (XEP-0050 commands), by node. */
  readonly roomItemNodes = new Map<string, (room: Room, from: JID) => Element[]>();
  /** A persistent room was brought back from the store at start (before anyone enters). */
  readonly roomLoaded = new Set<(room: Room) => void>();
  /** A room is gone for good: destroyed, or temporary and empty. */
  readonly roomDiscarded = new Set<(room: Room) => void>();

  static iqKey(type: 'get' | 'set', ns: string, name: string): string {
    return `${type} ${ns} ${name}`;
  }

  decorate(room: Room, occupant: Occupant, stanza: Element): void {
    if (this.occupantStanza.size === 0) return;
    const event = { room, occupant, stanza };
    for (const handler of this.occupantStanza) handler(event);
  }
}
