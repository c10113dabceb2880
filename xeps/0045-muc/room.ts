// XEP-0045: a room's state — its configuration, affiliations (§5.2, by bare JID), occupants
// (§5.1, by nickname, each with the real sessions that share it: §7.2.8 multi-session
// nicks), subject and history. The room answers questions and keeps its indexes straight;
// what happens when it changes (the stanzas) is the feature files' business.

import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { escapeAttr } from '../../src/xml/escape.js';
import type { RoomConfig } from './config.js';
import { HistoryBuffer } from './history.js';
import type { Affiliation, PresentRole, Standing } from './permissions.js';

/** One real session in the room: a full JID, and the presence it last sent there. */
export interface OccupantSession {
  readonly jid: JID;
  /** The session's presence, as the client sent it, without MUC payloads, from or to. */
  presence: Element;
  /** `jid.full` escaped for an attribute value, for the groupchat fan-out. */
  readonly to: string;
}

export function occupantSession(jid: JID, presence: Element): OccupantSession {
  return { jid, presence, to: escapeAttr(jid.full) };
}

export class Occupant {
  readonly sessions = new Map<string, OccupantSession>();
  /** The session whose presence the room shows for the occupant: the last to send one. */
  primary: OccupantSession;

  constructor(
    /** room@service/nick. */
    public jid: JID,
    /** The real bare JID: every session of an occupant is of this user. */
    readonly bare: JID,
    public role: PresentRole,
    first: OccupantSession,
  ) {
    this.sessions.set(first.jid.full, first);
    this.primary = first;
  }

  get nick(): string {
    return this.jid.resource;
  }
}

export interface AffiliationRecord {
  readonly affiliation: Exclude<Affiliation, 'none'>;
  /** The reserved nickname (§7.10, §9.3), for members, admins and owners. */
  readonly nick?: string;
  /** Why (a ban's reason, shown in the ban list). */
  readonly reason?: string;
}

export interface Subject {
  readonly text: string;
  /** Who set it: an occupant JID, or the room's JID. */
  readonly by: string;
  /** ms since the epoch. */
  readonly at: number;
}

/** A recipient of the groupchat fan-out. */
export interface Recipient {
  readonly jid: JID;
  readonly to: string;
}

/** Told when real sessions enter and leave a room (the service's index of who is where). */
export interface RoomObserver {
  entered(room: Room, real: string): void;
  left(room: Room, real: string): void;
}

export class Room {
  readonly affiliations = new Map<string, AffiliationRecord>();
  /** By nickname, in order of arrival. */
  readonly occupants = new Map<string, Occupant>();
  /** By the real full JID of each session. */
  private readonly bySession = new Map<string, Occupant>();
  /** Reserved nicknames and whose they are (bare JIDs). */
  private readonly reserved = new Map<string, string>();
  private recipientList: Recipient[] | undefined;
  readonly history: HistoryBuffer;
  readonly queue = new SerialQueue();
  subject: Subject | undefined;
  /** The room's vCard (XEP-0486) as stored, with the XEP-0153 hashes of its photos. */
  vcard: { readonly xml: string; readonly hashes: readonly string[] } | undefined;
  /** §10.1.1: created but not configured yet; only the owner is in. */
  locked: boolean;
  destroyed = false;

  private readonly serviceAdmins: ReadonlySet<string>;
  private readonly observer: RoomObserver | undefined;

  constructor(
    readonly jid: JID,
    public config: RoomConfig,
    readonly createdAt: number,
    options: {
      locked: boolean;
      /** The service's admins (bare JIDs): owners of every room. */
      serviceAdmins?: ReadonlySet<string>;
      observer?: RoomObserver;
    },
  ) {
    this.locked = options.locked;
    this.serviceAdmins = options.serviceAdmins ?? new Set();
    this.observer = options.observer;
    this.history = new HistoryBuffer(config.historyLength);
  }

  get name(): string {
    return this.jid.local;
  }

  // ---- affiliations ----

  /** §9.2: a ban (or any affiliation) of the user's bare JID, else of its domain. */
  affiliationOf(user: JID): Affiliation {
    if (this.serviceAdmins.has(user.bare)) return 'owner';
    const own = this.affiliations.get(user.bare);
    if (own !== undefined) return own.affiliation;
    if (user.local !== '') return this.affiliations.get(user.domain)?.affiliation ?? 'none';
    return 'none';
  }

  setAffiliation(bare: string, record: AffiliationRecord | undefined): void {
    const previous = this.affiliations.get(bare);
    if (previous?.nick !== undefined && this.reserved.get(previous.nick) === bare)
      this.reserved.delete(previous.nick);
    if (record === undefined) {
      this.affiliations.delete(bare);
      return;
    }
    this.affiliations.set(bare, record);
    if (record.nick !== undefined) this.reserved.set(record.nick, bare);
  }

  /** The bare JIDs holding `affiliation`. */
  listOf(affiliation: Exclude<Affiliation, 'none'>): string[] {
    const out: string[] = [];
    for (const [jid, record] of this.affiliations) if (record.affiliation === affiliation) out.push(jid);
    return out;
  }

  /** Who has reserved `nick`, if anyone (a bare JID). */
  reservedBy(nick: string): string | undefined {
    return this.reserved.get(nick);
  }

  standing(occupant: Occupant): Standing {
    return { role: occupant.role, affiliation: this.affiliationOf(occupant.bare) };
  }

  /** Where a real JID stands: its occupant's role if it is in the room, its affiliation. */
  standingOf(real: JID): Standing {
    const occupant = this.bySession.get(real.full);
    return { role: occupant?.role ?? 'none', affiliation: this.affiliationOf(real) };
  }

  // ---- occupants ----

  get occupantCount(): number {
    return this.occupants.size;
  }

  isEmpty(): boolean {
    return this.occupants.size === 0;
  }

  occupantByNick(nick: string): Occupant | undefined {
    return this.occupants.get(nick);
  }

  /** The occupant a real full JID is in the room as. */
  occupantOf(real: JID | string): Occupant | undefined {
    return this.bySession.get(typeof real === 'string' ? real : real.full);
  }

  /** Every occupant of a real bare JID (one per nickname it uses). */
  occupantsOf(bare: string): Occupant[] {
    const out: Occupant[] = [];
    for (const occupant of this.occupants.values()) {
      if (occupant.bare.bare === bare || (!bare.includes('@') && occupant.bare.domain === bare))
        out.push(occupant);
    }
    return out;
  }

  addOccupant(occupant: Occupant): void {
    this.occupants.set(occupant.nick, occupant);
    for (const session of occupant.sessions.values()) {
      this.bySession.set(session.jid.full, occupant);
      this.observer?.entered(this, session.jid.full);
    }
    this.recipientList = undefined;
  }

  addSession(occupant: Occupant, session: OccupantSession): void {
    occupant.sessions.set(session.jid.full, session);
    occupant.primary = session;
    this.bySession.set(session.jid.full, occupant);
    this.observer?.entered(this, session.jid.full);
    this.recipientList = undefined;
  }

  /** Removes one session; the occupant goes with its last one. Returns whether it went. */
  removeSession(occupant: Occupant, real: string): boolean {
    occupant.sessions.delete(real);
    this.bySession.delete(real);
    this.observer?.left(this, real);
    this.recipientList = undefined;
    if (occupant.sessions.size > 0) {
      if (occupant.primary.jid.full === real) occupant.primary = [...occupant.sessions.values()].at(-1)!;
      return false;
    }
    this.occupants.delete(occupant.nick);
    return true;
  }

  removeOccupant(occupant: Occupant): void {
    for (const real of occupant.sessions.keys()) {
      this.bySession.delete(real);
      this.observer?.left(this, real);
    }
    this.occupants.delete(occupant.nick);
    this.recipientList = undefined;
  }

  /** §7.6: the occupant takes another nickname (and occupant JID). */
  rename(occupant: Occupant, to: JID): void {
    this.occupants.delete(occupant.nick);
    occupant.jid = to;
    this.occupants.set(occupant.nick, occupant);
  }

  /** Every session in the room, for the groupchat fan-out; rebuilt only when occupancy changes. */
  recipients(): readonly Recipient[] {
    if (this.recipientList !== undefined) return this.recipientList;
    const list: Recipient[] = [];
    for (const occupant of this.occupants.values())
      for (const session of occupant.sessions.values()) list.push(session);
    this.recipientList = list;
    return list;
  }
}

/**
 * Runs a room's tasks one at a time, in arrival order. A task that finishes synchronously
 * (a groupchat message, a presence change) costs nothing extra; one that waits on storage
 * holds the tasks that arrive meanwhile until it is done.
 */
export class SerialQueue {
  private tail: Promise<void> | undefined;

  run(task: () => void | Promise<void>): void | Promise<void> {
    if (this.tail === undefined) {
      const result = task();
      if (result instanceof Promise) return this.hold(result);
      return;
    }
    return this.hold(this.tail.then(task));
  }

  private hold(work: Promise<void>): Promise<void> {
    // The queue waits for the task whatever its outcome; the caller sees the outcome.
    const settled = work.then(
      () => {},
      () => {},
    );
    this.tail = settled;
    void settled.then(() => {
      if (this.tail === settled) this.tail = undefined;
    });
    return work;
  }
}
