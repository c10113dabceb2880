// Roster storage (RFC 6121 §2, §3): each account's roster items, the subscription requests it
// has received and not yet answered (§3.1.3), and the roster version (§2.6).
//
// Versioning: every change that produces a roster push takes the account's next version
// number, and each item (or tombstone of a removed item) remembers the version of its last
// change. A client that presents an older version gets just the changes since (§2.6.3
// "interim roster pushes"); tombstones are pruned to a bound, and a version older than the
// oldest one kept gets the full roster. The version string carries a random epoch chosen with
// the roster's first change, so that a cache from a deleted and re-created account never
// passes for current.
//
// Every read-modify-write is one transaction: update() hands the current relationship with a
// contact to a pure function and stores what it returns.

import { randomBytes } from 'node:crypto';
import type { JID } from '../jid.js';
import type { Db } from '../storage/db.js';
import type { Migrations } from '../storage/migrations.js';
import type { Subscription } from './roster-service.js';

export const ROSTER_MIGRATIONS: Migrations = {
  concern: 'roster',
  steps: [
    // 1: items, removals (for interim pushes), versions, and inbound subscription requests.
    `
    CREATE TABLE roster_items (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      contact TEXT NOT NULL,
      name TEXT,
      groups TEXT NOT NULL DEFAULT '[]',
      subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
      ask INTEGER NOT NULL DEFAULT 0 CHECK (ask IN (0, 1)),
      approved INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
      version INTEGER NOT NULL,
      PRIMARY KEY (host, username, contact),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE roster_removals (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      contact TEXT NOT NULL,
      version INTEGER NOT NULL,
      PRIMARY KEY (host, username, contact),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE roster_versions (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      epoch TEXT NOT NULL,
      version INTEGER NOT NULL,
      horizon INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (host, username),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE roster_requests (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      contact TEXT NOT NULL,
      stanza TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      PRIMARY KEY (host, username, contact),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;
    `,
  ],
};

/** What a roster item says (§2.1.2), apart from its JID. */
export interface ItemState {
  readonly name: string | undefined;
  readonly groups: readonly string[];
  readonly subscription: Subscription;
  /** ask='subscribe' (§2.1.2.2). */
  readonly ask: boolean;
  /** approved='true' (§2.1.2.1, §3.4). */
  readonly approved: boolean;
}

export interface StoredItem extends ItemState {
  /** The contact's bare JID. */
  readonly contact: string;
  /** The roster version of this item's last change. */
  readonly ver: string;
}

/** Everything stored about one contact: the roster item, if any, and an unanswered request. */
export interface Relation {
  readonly item: ItemState | undefined;
  /** The contact's subscription request, as received (§3.1.3 #4 keeps the whole stanza). */
  readonly pendingIn: string | undefined;
}

export interface RosterSnapshot {
  readonly ver: string;
  readonly items: StoredItem[];
}

export type RosterChange =
  | { readonly contact: string; readonly ver: string; readonly item: ItemState }
  | { readonly contact: string; readonly ver: string; readonly item: undefined };

export interface RosterChanges {
  readonly ver: string;
  /** Oldest first: the interim roster pushes of §2.6.3. */
  readonly changes: RosterChange[];
}

export interface PendingRequest {
  readonly contact: string;
  readonly stanza: string;
  /** When the request arrived, in milliseconds since the epoch. */
  readonly receivedAt: number;
}

export type UpdateOutcome =
  | {
      readonly status: 'updated';
      readonly before: Relation;
      readonly after: Relation;
      /** Set when the roster item changed (a roster push is due), with the new version. */
      readonly ver: string | undefined;
    }
  | { readonly status: 'roster-full' }
  | { readonly status: 'too-many-requests' };

export interface RosterLimits {
  /** Roster items per account. */
  readonly maxItems: number;
  /** Unanswered subscription requests kept per account. */
  readonly maxRequests: number;
}

export interface RosterStore {
  roster(user: JID): Promise<RosterSnapshot>;
  item(user: JID, contact: string): Promise<StoredItem | undefined>;
  /**
   * The changes since version `ver`, oldest first, or undefined when they cannot be told
   * (a version from another epoch, or older than the removals kept): send the whole roster.
   */
  changesSince(user: JID, ver: string): Promise<RosterChanges | undefined>;
  requests(user: JID): Promise<PendingRequest[]>;
  /**
   * Applies `edit` to the relationship with `contact` in one transaction. `touch` makes an
   * unchanged item count as changed (a roster set always yields a push, RFC 6121 §2.4.2).
   */
  update(
    user: JID,
    contact: string,
    edit: (current: Relation) => Relation,
    options?: { touch?: boolean },
  ): Promise<UpdateOutcome>;
}

interface ItemRow {
  contact: string;
  name: string | null;
  groups: string;
  subscription: Subscription;
  ask: number;
  approved: number;
  version: number;
}

interface VersionRow {
  epoch: string;
  version: number;
  horizon: number;
}

/** Tombstones kept per account; a client further behind than that gets the full roster. */
const MAX_REMOVALS = 256;

const ITEM_COLUMNS = 'contact, name, groups, subscription, ask, approved, version';

export class SqliteRosterStore implements RosterStore {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly limits: RosterLimits,
  ) {
    this.stmts = {
      items: db.prepare<[string, string], ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE host = ? AND username = ?`,
      ),
      item: db.prepare<[string, string, string], ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE host = ? AND username = ? AND contact = ?`,
      ),
      itemsSince: db.prepare<[string, string, number], ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM roster_items WHERE host = ? AND username = ? AND version > ?`,
      ),
      countItems: db.prepare<[string, string], { n: number }>(
        'SELECT count(*) AS n FROM roster_items WHERE host = ? AND username = ?',
      ),
      upsertItem: db.prepare<[string, string, string, string | null, string, string, number, number, number]>(
        `INSERT INTO roster_items (host, username, contact, name, groups, subscription, ask, approved, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, username, contact) DO UPDATE SET
           name = excluded.name, groups = excluded.groups, subscription = excluded.subscription,
           ask = excluded.ask, approved = excluded.approved, version = excluded.version`,
      ),
      deleteItem: db.prepare<[string, string, string]>(
        'DELETE FROM roster_items WHERE host = ? AND username = ? AND contact = ?',
      ),
      removalsSince: db.prepare<[string, string, number], { contact: string; version: number }>(
        'SELECT contact, version FROM roster_removals WHERE host = ? AND username = ? AND version > ?',
      ),
      upsertRemoval: db.prepare<[string, string, string, number]>(
        `INSERT INTO roster_removals (host, username, contact, version) VALUES (?, ?, ?, ?)
         ON CONFLICT (host, username, contact) DO UPDATE SET version = excluded.version`,
      ),
      deleteRemoval: db.prepare<[string, string, string]>(
        'DELETE FROM roster_removals WHERE host = ? AND username = ? AND contact = ?',
      ),
      countRemovals: db.prepare<[string, string], { n: number }>(
        'SELECT count(*) AS n FROM roster_removals WHERE host = ? AND username = ?',
      ),
      // The newest version among the tombstones that fall beyond the bound.
      pruneBoundary: db.prepare<[string, string, number], { version: number }>(
        `SELECT version FROM roster_removals WHERE host = ? AND username = ?
         ORDER BY version DESC LIMIT 1 OFFSET ?`,
      ),
      pruneRemovals: db.prepare<[string, string, number]>(
        'DELETE FROM roster_removals WHERE host = ? AND username = ? AND version <= ?',
      ),
      version: db.prepare<[string, string], VersionRow>(
        'SELECT epoch, version, horizon FROM roster_versions WHERE host = ? AND username = ?',
      ),
      insertVersion: db.prepare<[string, string, string, number]>(
        'INSERT INTO roster_versions (host, username, epoch, version, horizon) VALUES (?, ?, ?, ?, 0)',
      ),
      setVersion: db.prepare<[number, string, string]>(
        'UPDATE roster_versions SET version = ? WHERE host = ? AND username = ?',
      ),
      setHorizon: db.prepare<[number, string, string]>(
        'UPDATE roster_versions SET horizon = max(horizon, ?) WHERE host = ? AND username = ?',
      ),
      requests: db.prepare<[string, string], PendingRequest>(
        `SELECT contact, stanza, received_at AS receivedAt FROM roster_requests
         WHERE host = ? AND username = ? ORDER BY received_at`,
      ),
      request: db.prepare<[string, string, string], { stanza: string }>(
        'SELECT stanza FROM roster_requests WHERE host = ? AND username = ? AND contact = ?',
      ),
      countRequests: db.prepare<[string, string], { n: number }>(
        'SELECT count(*) AS n FROM roster_requests WHERE host = ? AND username = ?',
      ),
      insertRequest: db.prepare<[string, string, string, string, number]>(
        'INSERT INTO roster_requests (host, username, contact, stanza, received_at) VALUES (?, ?, ?, ?, ?)',
      ),
      deleteRequest: db.prepare<[string, string, string]>(
        'DELETE FROM roster_requests WHERE host = ? AND username = ? AND contact = ?',
      ),
    };
  }

  async roster(user: JID): Promise<RosterSnapshot> {
    return this.db.transaction(() => {
      const v = this.stmts.version.get(user.domain, user.local);
      const items = this.stmts.items.all(user.domain, user.local).map((row) => toStored(row, v));
      return { ver: formatVer(v), items };
    })();
  }

  async item(user: JID, contact: string): Promise<StoredItem | undefined> {
    return this.db.transaction(() => {
      const row = this.stmts.item.get(user.domain, user.local, contact);
      return row && toStored(row, this.stmts.version.get(user.domain, user.local));
    })();
  }

  async changesSince(user: JID, ver: string): Promise<RosterChanges | undefined> {
    return this.db.transaction(() => {
      const v = this.stmts.version.get(user.domain, user.local);
      const since = parseVer(ver, v);
      if (since === undefined) return undefined;
      const changes: Array<[number, RosterChange]> = [];
      for (const row of this.stmts.itemsSince.all(user.domain, user.local, since)) {
        changes.push([
          row.version,
          { contact: row.contact, ver: formatVer(v, row.version), item: toItem(row) },
        ]);
      }
      for (const row of this.stmts.removalsSince.all(user.domain, user.local, since)) {
        changes.push([
          row.version,
          { contact: row.contact, ver: formatVer(v, row.version), item: undefined },
        ]);
      }
      changes.sort((a, b) => a[0] - b[0]);
      return { ver: formatVer(v), changes: changes.map((entry) => entry[1]) };
    })();
  }

  async requests(user: JID): Promise<PendingRequest[]> {
    return this.stmts.requests.all(user.domain, user.local);
  }

  async update(
    user: JID,
    contact: string,
    edit: (current: Relation) => Relation,
    options: { touch?: boolean } = {},
  ): Promise<UpdateOutcome> {
    const host = user.domain;
    const username = user.local;
    return this.db.transaction((): UpdateOutcome => {
      const row = this.stmts.item.get(host, username, contact);
      const before: Relation = {
        item: row && toItem(row),
        pendingIn: this.stmts.request.get(host, username, contact)?.stanza,
      };
      const after = edit(before);

      if (
        after.item &&
        !before.item &&
        this.stmts.countItems.get(host, username)!.n >= this.limits.maxItems
      ) {
        return { status: 'roster-full' };
      }
      if (after.pendingIn !== undefined && before.pendingIn === undefined) {
        if (this.stmts.countRequests.get(host, username)!.n >= this.limits.maxRequests) {
          return { status: 'too-many-requests' };
        }
        this.stmts.insertRequest.run(host, username, contact, after.pendingIn, Date.now());
      } else if (after.pendingIn === undefined && before.pendingIn !== undefined) {
        this.stmts.deleteRequest.run(host, username, contact);
      }

      let ver: string | undefined;
      if ((options.touch && after.item) || !sameItem(before.item, after.item)) {
        const v = this.nextVersion(host, username);
        ver = formatVer(v);
        if (after.item) {
          const { name, groups, subscription, ask, approved } = after.item;
          this.stmts.upsertItem.run(
            host,
            username,
            contact,
            name ?? null,
            JSON.stringify(groups),
            subscription,
            ask ? 1 : 0,
            approved ? 1 : 0,
            v.version,
          );
          if (!before.item) this.stmts.deleteRemoval.run(host, username, contact);
        } else {
          this.stmts.deleteItem.run(host, username, contact);
          this.stmts.upsertRemoval.run(host, username, contact, v.version);
          this.pruneRemovals(host, username);
        }
      }
      return { status: 'updated', before, after, ver };
    })();
  }

  /** Takes the account's next version number, creating its version row with the first change. */
  private nextVersion(host: string, username: string): VersionRow {
    const current = this.stmts.version.get(host, username);
    if (!current) {
      const created = { epoch: randomBytes(4).toString('hex'), version: 1, horizon: 0 };
      this.stmts.insertVersion.run(host, username, created.epoch, created.version);
      return created;
    }
    const next = { ...current, version: current.version + 1 };
    this.stmts.setVersion.run(next.version, host, username);
    return next;
  }

  private pruneRemovals(host: string, username: string): void {
    if (this.stmts.countRemovals.get(host, username)!.n <= MAX_REMOVALS) return;
    const boundary = this.stmts.pruneBoundary.get(host, username, MAX_REMOVALS);
    if (!boundary) return;
    this.stmts.pruneRemovals.run(host, username, boundary.version);
    // Changes since any version before the boundary can no longer be told.
    this.stmts.setHorizon.run(boundary.version, host, username);
  }
}

function toItem(row: ItemRow): ItemState {
  return {
    name: row.name ?? undefined,
    groups: JSON.parse(row.groups) as string[],
    subscription: row.subscription,
    ask: row.ask === 1,
    approved: row.approved === 1,
  };
}

function toStored(row: ItemRow, v: VersionRow | undefined): StoredItem {
  return { contact: row.contact, ver: formatVer(v, row.version), ...toItem(row) };
}

function sameItem(a: ItemState | undefined, b: ItemState | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.name === b.name &&
    a.subscription === b.subscription &&
    a.ask === b.ask &&
    a.approved === b.approved &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}

/** '0' before the first change; then 'epoch-version'. */
function formatVer(v: VersionRow | undefined, version = v?.version ?? 0): string {
  return v === undefined || version === 0 ? '0' : `${v.epoch}-${version}`;
}

const VERSION_NUMBER = /^[1-9][0-9]{0,14}$/;

/** The version number a client's 'ver' stands for, if changes since it can be told. */
function parseVer(ver: string, v: VersionRow | undefined): number | undefined {
  const current = v?.version ?? 0;
  let since: number;
  if (ver === '0') {
    since = 0;
  } else {
    const dash = ver.lastIndexOf('-');
    if (v === undefined || dash < 0 || ver.slice(0, dash) !== v.epoch) return undefined;
    const digits = ver.slice(dash + 1);
    if (!VERSION_NUMBER.test(digits)) return undefined;
    since = Number(digits);
  }
  if (since > current || since < (v?.horizon ?? 0)) return undefined;
  return since;
}
