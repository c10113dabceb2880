// The rosters of local accounts as the rest of the IM module sees them: the store behind a
// cache for accounts that are online, and the roster pushes of RFC 6121 §2.1.6 to every
// "interested resource" (§2.2: a resource that has asked for the roster).
//
// Pushes and roster results are ordered per session with a gate: from the moment a resource
// asks for the roster, pushes for it wait until its result (and any interim pushes, §2.6.3)
// have gone out, so a client never sees a change before the roster it applies to.

import type { ClientSession } from '../core/session.js';
import type { SessionRegistry } from '../core/sessions.js';
import { type JID, parseJID } from '../jid.js';
import { type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { RosterItem, RosterService } from './roster-service.js';
import { itemElement } from './roster-xml.js';
import type {
  ItemState,
  PendingRequest,
  Relation,
  RosterChanges,
  RosterSnapshot,
  RosterStore,
  StoredItem,
  UpdateOutcome,
} from './store.js';

interface PushGate {
  open: boolean;
  /** Pushes made while the roster result was on its way. */
  readonly held: Array<() => void>;
}

export type RosterEdit = (current: Relation) => Relation;

/** A roster item as the cache keeps it: with the contact's JID parsed once, not per broadcast. */
export interface Contact extends StoredItem {
  readonly jid: JID;
}

export class Rosters implements RosterService {
  /** The items of accounts with bound resources, by bare JID, then contact. */
  private readonly cache = new Map<string, ReadonlyMap<string, Contact>>();
  /** Counts writes, so that a cache fill that raced one is not kept. */
  private writes = 0;
  private readonly gates = new WeakMap<ClientSession, PushGate>();
  private pushIds = 0;

  constructor(
    private readonly store: RosterStore,
    private readonly sessions: SessionRegistry,
  ) {}

  // ---- reading ----

  /** Every item of the account's roster, by contact; cached while the account is online. */
  async contacts(user: JID): Promise<ReadonlyMap<string, Contact>> {
    const cached = this.cache.get(user.bare);
    if (cached) return cached;
    const writes = this.writes;
    const snapshot = await this.store.roster(user);
    const items = new Map<string, Contact>();
    for (const item of snapshot.items) items.set(item.contact, { ...item, jid: parseJID(item.contact) });
    if (writes === this.writes && this.sessions.hasResources(user)) this.cache.set(user.bare, items);
    return items;
  }

  snapshot(user: JID): Promise<RosterSnapshot> {
    return this.store.roster(user);
  }

  changesSince(user: JID, ver: string): Promise<RosterChanges | undefined> {
    return this.store.changesSince(user, ver);
  }

  requests(user: JID): Promise<PendingRequest[]> {
    return this.store.requests(user);
  }

  /** Forgets the cached roster of an account that has gone offline or been deleted. */
  forget(user: JID): void {
    this.cache.delete(user.bare);
  }

  // ---- RosterService ----

  async getItem(user: JID, contact: JID): Promise<RosterItem | undefined> {
    const item = await this.lookup(user, contact);
    return item && toRosterItem(item);
  }

  async getItems(user: JID): Promise<RosterItem[]> {
    return [...(await this.contacts(user)).values()].map(toRosterItem);
  }

  async isSubscriber(user: JID, contact: JID): Promise<boolean> {
    const subscription = (await this.lookup(user, contact))?.subscription;
    return subscription === 'from' || subscription === 'both';
  }

  /** One item: from the cache for an account that is online, else the one row. */
  private async lookup(user: JID, contact: JID): Promise<StoredItem | undefined> {
    const cached = this.cache.get(user.bare);
    if (cached) return cached.get(contact.bare);
    if (this.sessions.hasResources(user)) return (await this.contacts(user)).get(contact.bare);
    return this.store.item(user, contact.bare);
  }

  // ---- writing ----

  /**
   * Applies `edit` atomically. The roster push is the caller's to make, with announce(), at
   * the point the RFC places it (after routing or delivering the stanza that caused it).
   */
  async update(
    user: JID,
    contact: JID,
    edit: RosterEdit,
    options?: { touch?: boolean },
  ): Promise<UpdateOutcome> {
    this.writes++;
    const outcome = await this.store.update(user, contact.bare, edit, options);
    this.writes++;
    if (outcome.status === 'updated' && outcome.ver !== undefined) this.cache.delete(user.bare);
    return outcome;
  }

  /** Pushes the change an update made, if it made one, to the interested resources (§2.1.6). */
  announce(user: JID, contact: JID, outcome: UpdateOutcome): void {
    if (outcome.status === 'updated' && outcome.ver !== undefined) {
      this.push(user, contact.bare, outcome.after.item, outcome.ver);
    }
  }

  // ---- interested resources and pushes ----

  /**
   * Makes `session` an interested resource whose pushes wait: call before reading the roster
   * for its result, then release() once the result has been sent.
   */
  hold(session: ClientSession): PushGate {
    const gate: PushGate = { open: false, held: [] };
    this.gates.set(session, gate);
    return gate;
  }

  /** Sends `first` (interim pushes), then what was held, and lets later pushes straight through. */
  release(
    session: ClientSession,
    gate: PushGate,
    first: Array<{ contact: string; ver: string; item: ItemState | undefined }>,
  ): void {
    for (const change of first) this.sendPush(session, change.contact, change.item, change.ver);
    for (const send of gate.held) send();
    gate.held.length = 0;
    gate.open = true;
  }

  /**
   * The account's available resources, or its interested ones (§2.2: those that asked for
   * the roster), which is where the notices of subscription changes go (§3).
   */
  resourcesFor(user: JID, which: 'available' | 'interested'): ClientSession[] {
    const all = this.sessions.resources(user);
    return which === 'available' ? all.filter((s) => s.available) : all.filter((s) => this.gates.has(s));
  }

  private push(user: JID, contact: string, item: ItemState | undefined, ver: string): void {
    for (const session of this.sessions.resources(user)) {
      const gate = this.gates.get(session);
      if (!gate) continue;
      if (gate.open) this.sendPush(session, contact, item, ver);
      else gate.held.push(() => this.sendPush(session, contact, item, ver));
    }
  }

  private sendPush(session: ClientSession, contact: string, item: ItemState | undefined, ver: string): void {
    session.send(rosterPush(session.jid, `push${(++this.pushIds).toString(36)}`, contact, item, ver));
  }
}

/** §2.1.6: from the account's bare JID, to one of its resources. */
function rosterPush(to: JID, id: string, contact: string, item: ItemState | undefined, ver: string): Element {
  return x(
    'iq',
    { type: 'set', id, from: to.bare, to: to.full },
    x('query', { xmlns: NS.ROSTER, ver }, itemElement(contact, item)),
  );
}

function toRosterItem(item: StoredItem | Contact): RosterItem {
  return {
    jid: 'jid' in item ? item.jid : parseJID(item.contact),
    name: item.name,
    subscription: item.subscription,
    ask: item.ask,
    approved: item.approved,
    groups: item.groups,
  };
}
