// The PEP store: each account's nodes with their configuration, their items (oldest first by
// a sequence number; republishing an ItemID makes it the newest, XEP-0060 §7.1.2), explicit
// subscriptions (§6.1) and the affiliations the owner grants (§8.9), plus the verified entity
// capabilities of clients (XEP-0115 §5.4). Deleting an account deletes its nodes, and a node
// its items, subscriptions and affiliations (foreign keys).
//
// Every read-modify-write is one transaction; publish() takes a pure function that decides,
// from the node's configuration as it is inside the transaction, how to publish (or refuses
// by throwing), so that publish-options preconditions and node creation cannot race.

import type { JID } from '../../src/jid.js';
import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';
import type { GrantedAffiliation } from './access.js';
import type { CapsStore } from './caps.js';
import { deserializeConfig, type NodeConfig, serializeConfig } from './config.js';

export const PEP_MIGRATIONS: Migrations = {
  concern: 'pep',
  steps: [
    // 1
    `
    CREATE TABLE pep_nodes (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      node TEXT NOT NULL,
      config TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (host, username, node),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;

    -- A rowid table: an item (an avatar) can be tens of kilobytes.
    CREATE TABLE pep_items (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      node TEXT NOT NULL,
      item_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      publisher TEXT NOT NULL,
      published_at INTEGER NOT NULL,
      xml TEXT NOT NULL,
      size INTEGER NOT NULL,
      PRIMARY KEY (host, username, node, item_id),
      FOREIGN KEY (host, username, node) REFERENCES pep_nodes (host, username, node) ON DELETE CASCADE
    );
    CREATE INDEX pep_items_by_seq ON pep_items (host, username, node, seq);

    CREATE TABLE pep_subscriptions (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      node TEXT NOT NULL,
      jid TEXT NOT NULL,
      PRIMARY KEY (host, username, node, jid),
      FOREIGN KEY (host, username, node) REFERENCES pep_nodes (host, username, node) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE pep_affiliations (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      node TEXT NOT NULL,
      jid TEXT NOT NULL,
      affiliation TEXT NOT NULL CHECK (affiliation IN ('member', 'outcast')),
      PRIMARY KEY (host, username, node, jid),
      FOREIGN KEY (host, username, node) REFERENCES pep_nodes (host, username, node) ON DELETE CASCADE
    ) WITHOUT ROWID;

    -- XEP-0115 §5.4: verified disco#info features by '<hash> <ver>'; they never change.
    CREATE TABLE caps_features (
      key TEXT PRIMARY KEY,
      features TEXT NOT NULL
    ) WITHOUT ROWID;
    `,
  ],
};

export interface StoredItem {
  readonly id: string;
  /** The full JID that published it. */
  readonly publisher: string;
  /** The payload as XML text (serializeDetached). */
  readonly xml: string;
}

export interface NodeEntry {
  readonly node: string;
  readonly config: NodeConfig;
}

export interface StoreLimits {
  /** Nodes one account may have. */
  readonly maxNodes: number;
  /** Bytes of item XML one account may store. */
  readonly quota: number;
  /** How many items a node so configured keeps. */
  capacity(config: NodeConfig): number;
}

export type PublishOutcome =
  | { ok: true; created: boolean; config: NodeConfig; trimmed: string[] }
  | { ok: false; reason: 'too-many-nodes' | 'quota' };

export type CreateOutcome = 'created' | 'exists' | 'too-many-nodes';

export interface PepStore {
  node(owner: JID, node: string): Promise<NodeConfig | undefined>;
  nodes(owner: JID): Promise<NodeEntry[]>;
  create(owner: JID, node: string, config: NodeConfig, limits: StoreLimits): Promise<CreateOutcome>;
  /** Applies `edit` to the node's configuration; the items beyond the new capacity go, oldest first. */
  configure(
    owner: JID,
    node: string,
    edit: (current: NodeConfig) => NodeConfig,
    limits: StoreLimits,
  ): Promise<{ config: NodeConfig; trimmed: string[] } | undefined>;
  /**
   * Stores an item. `plan` gets the node's configuration (undefined when there is no such
   * node) and returns the configuration to publish under, creating the node with it when
   * needed; whatever it throws aborts the publication.
   */
  publish(
    owner: JID,
    node: string,
    item: StoredItem,
    plan: (existing: NodeConfig | undefined) => NodeConfig,
    limits: StoreLimits,
  ): Promise<PublishOutcome>;
  /** Items oldest first: all of them, those with the given ids, or the `max` most recent. */
  items(owner: JID, node: string, query?: { ids?: readonly string[]; max?: number }): Promise<StoredItem[]>;
  /** Removes the items, all or none: undefined when the node lacks one of them. */
  retract(owner: JID, node: string, ids: readonly string[]): Promise<string[] | undefined>;
  /** Removes every item; false when there is no such node. */
  purge(owner: JID, node: string): Promise<boolean>;
  /** Removes the node; its subscribers (read first) when it existed. */
  delete(owner: JID, node: string): Promise<string[] | undefined>;
  subscribers(owner: JID, node: string): Promise<string[]>;
  subscribe(owner: JID, node: string, jid: string): Promise<void>;
  unsubscribe(owner: JID, node: string, jid: string): Promise<boolean>;
  /** The subscriptions of the account's nodes whose JID is `bare` or one of its resources. */
  subscriptionsOf(owner: JID, bare: string): Promise<Array<{ node: string; jid: string }>>;
  affiliations(owner: JID, node: string): Promise<Map<string, GrantedAffiliation>>;
  /** The affiliations of one entity (bare JID) on every node it has one on. */
  affiliationsOf(owner: JID, bare: string): Promise<Map<string, GrantedAffiliation>>;
  setAffiliations(
    owner: JID,
    node: string,
    changes: ReadonlyArray<readonly [string, GrantedAffiliation | undefined]>,
  ): Promise<void>;
}

type Key = [string, string, string];

export class SqlitePepStore implements PepStore {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      node: db.prepare<Key, { config: string }>(
        'SELECT config FROM pep_nodes WHERE host = ? AND username = ? AND node = ?',
      ),
      nodes: db.prepare<[string, string], { node: string; config: string }>(
        'SELECT node, config FROM pep_nodes WHERE host = ? AND username = ? ORDER BY node',
      ),
      countNodes: db.prepare<[string, string], { n: number }>(
        'SELECT COUNT(*) AS n FROM pep_nodes WHERE host = ? AND username = ?',
      ),
      insertNode: db.prepare<[string, string, string, string, number]>(
        'INSERT INTO pep_nodes (host, username, node, config, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      updateNode: db.prepare<[string, string, string, string]>(
        'UPDATE pep_nodes SET config = ? WHERE host = ? AND username = ? AND node = ?',
      ),
      deleteNode: db.prepare<Key>('DELETE FROM pep_nodes WHERE host = ? AND username = ? AND node = ?'),
      total: db.prepare<[string, string], { total: number }>(
        'SELECT COALESCE(SUM(size), 0) AS total FROM pep_items WHERE host = ? AND username = ?',
      ),
      itemSize: db.prepare<[...Key, string], { size: number }>(
        'SELECT size FROM pep_items WHERE host = ? AND username = ? AND node = ? AND item_id = ?',
      ),
      nextSeq: db.prepare<Key, { seq: number }>(
        'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM pep_items WHERE host = ? AND username = ? AND node = ?',
      ),
      upsertItem: db.prepare<[...Key, string, number, string, number, string, number]>(
        `INSERT INTO pep_items (host, username, node, item_id, seq, publisher, published_at, xml, size)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, username, node, item_id) DO UPDATE SET
           seq = excluded.seq, publisher = excluded.publisher, published_at = excluded.published_at,
           xml = excluded.xml, size = excluded.size`,
      ),
      countItems: db.prepare<Key, { n: number }>(
        'SELECT COUNT(*) AS n FROM pep_items WHERE host = ? AND username = ? AND node = ?',
      ),
      oldest: db.prepare<[...Key, number], { item_id: string }>(
        `SELECT item_id FROM pep_items WHERE host = ? AND username = ? AND node = ?
         ORDER BY seq LIMIT ?`,
      ),
      allItems: db.prepare<Key, ItemRow>(
        `SELECT item_id, publisher, xml FROM pep_items WHERE host = ? AND username = ? AND node = ?
         ORDER BY seq`,
      ),
      recentItems: db.prepare<[...Key, number], ItemRow>(
        `SELECT item_id, publisher, xml FROM pep_items WHERE host = ? AND username = ? AND node = ?
         ORDER BY seq DESC LIMIT ?`,
      ),
      item: db.prepare<[...Key, string], ItemRow & { seq: number }>(
        `SELECT item_id, publisher, xml, seq FROM pep_items
         WHERE host = ? AND username = ? AND node = ? AND item_id = ?`,
      ),
      deleteItem: db.prepare<[...Key, string]>(
        'DELETE FROM pep_items WHERE host = ? AND username = ? AND node = ? AND item_id = ?',
      ),
      purge: db.prepare<Key>('DELETE FROM pep_items WHERE host = ? AND username = ? AND node = ?'),
      subscribers: db.prepare<Key, { jid: string }>(
        'SELECT jid FROM pep_subscriptions WHERE host = ? AND username = ? AND node = ? ORDER BY jid',
      ),
      subscribe: db.prepare<[...Key, string]>(
        `INSERT INTO pep_subscriptions (host, username, node, jid) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ),
      unsubscribe: db.prepare<[...Key, string]>(
        'DELETE FROM pep_subscriptions WHERE host = ? AND username = ? AND node = ? AND jid = ?',
      ),
      subscriptionsOf: db.prepare<[string, string, string, string, string], { node: string; jid: string }>(
        // The bare JID itself, or any 'bare/resource': '/' sorts just before '0'.
        `SELECT node, jid FROM pep_subscriptions
         WHERE host = ? AND username = ? AND (jid = ? OR (jid > ? AND jid < ?))
         ORDER BY node, jid`,
      ),
      affiliations: db.prepare<Key, { jid: string; affiliation: GrantedAffiliation }>(
        'SELECT jid, affiliation FROM pep_affiliations WHERE host = ? AND username = ? AND node = ?',
      ),
      affiliationsOf: db.prepare<[string, string, string], { node: string; affiliation: GrantedAffiliation }>(
        'SELECT node, affiliation FROM pep_affiliations WHERE host = ? AND username = ? AND jid = ?',
      ),
      setAffiliation: db.prepare<[...Key, string, GrantedAffiliation]>(
        `INSERT INTO pep_affiliations (host, username, node, jid, affiliation) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (host, username, node, jid) DO UPDATE SET affiliation = excluded.affiliation`,
      ),
      removeAffiliation: db.prepare<[...Key, string]>(
        'DELETE FROM pep_affiliations WHERE host = ? AND username = ? AND node = ? AND jid = ?',
      ),
    };
  }

  async node(owner: JID, node: string): Promise<NodeConfig | undefined> {
    const row = this.s.node.get(owner.domain, owner.local, node);
    return row === undefined ? undefined : deserializeConfig(row.config);
  }

  async nodes(owner: JID): Promise<NodeEntry[]> {
    return this.s.nodes
      .all(owner.domain, owner.local)
      .map((row) => ({ node: row.node, config: deserializeConfig(row.config) }));
  }

  async create(owner: JID, node: string, config: NodeConfig, limits: StoreLimits): Promise<CreateOutcome> {
    return this.db.transaction((): CreateOutcome => {
      if (this.s.node.get(owner.domain, owner.local, node) !== undefined) return 'exists';
      if (this.s.countNodes.get(owner.domain, owner.local)!.n >= limits.maxNodes) return 'too-many-nodes';
      this.s.insertNode.run(owner.domain, owner.local, node, serializeConfig(config), Date.now());
      return 'created';
    })();
  }

  async configure(
    owner: JID,
    node: string,
    edit: (current: NodeConfig) => NodeConfig,
    limits: StoreLimits,
  ): Promise<{ config: NodeConfig; trimmed: string[] } | undefined> {
    return this.db.transaction(() => {
      const row = this.s.node.get(owner.domain, owner.local, node);
      if (row === undefined) return undefined;
      const config = edit(deserializeConfig(row.config));
      this.s.updateNode.run(serializeConfig(config), owner.domain, owner.local, node);
      return { config, trimmed: this.trim(owner, node, limits.capacity(config)) };
    })();
  }

  async publish(
    owner: JID,
    node: string,
    item: StoredItem,
    plan: (existing: NodeConfig | undefined) => NodeConfig,
    limits: StoreLimits,
  ): Promise<PublishOutcome> {
    const { domain, local } = owner;
    const size = Buffer.byteLength(item.xml);
    return this.db.transaction((): PublishOutcome => {
      const row = this.s.node.get(domain, local, node);
      const existing = row === undefined ? undefined : deserializeConfig(row.config);
      const config = plan(existing);
      if (existing === undefined) {
        if (this.s.countNodes.get(domain, local)!.n >= limits.maxNodes)
          return { ok: false, reason: 'too-many-nodes' };
        this.s.insertNode.run(domain, local, node, serializeConfig(config), Date.now());
      } else if (config !== existing) {
        this.s.updateNode.run(serializeConfig(config), domain, local, node);
      }
      const before = this.s.total.get(domain, local)!.total;
      const replaced = this.s.itemSize.get(domain, local, node, item.id)?.size ?? 0;
      const after = before - replaced + size;
      // Shrinking is always allowed, so that an account over a lowered quota can tidy up.
      if (after > limits.quota && after > before) return { ok: false, reason: 'quota' };
      const seq = this.s.nextSeq.get(domain, local, node)!.seq;
      this.s.upsertItem.run(domain, local, node, item.id, seq, item.publisher, Date.now(), item.xml, size);
      const trimmed = this.trim(owner, node, limits.capacity(config));
      return { ok: true, created: existing === undefined, config, trimmed };
    })();
  }

  /** Removes the oldest items beyond `capacity`; returns their ids. */
  private trim(owner: JID, node: string, capacity: number): string[] {
    const excess = this.s.countItems.get(owner.domain, owner.local, node)!.n - capacity;
    if (excess <= 0) return [];
    const ids = this.s.oldest.all(owner.domain, owner.local, node, excess).map((r) => r.item_id);
    for (const id of ids) this.s.deleteItem.run(owner.domain, owner.local, node, id);
    return ids;
  }

  async items(
    owner: JID,
    node: string,
    query: { ids?: readonly string[]; max?: number } = {},
  ): Promise<StoredItem[]> {
    const { domain, local } = owner;
    if (query.ids !== undefined) {
      const found: Array<ItemRow & { seq: number }> = [];
      for (const id of new Set(query.ids)) {
        const row = this.s.item.get(domain, local, node, id);
        if (row !== undefined) found.push(row);
      }
      return found.sort((a, b) => a.seq - b.seq).map(toItem);
    }
    if (query.max !== undefined)
      return this.s.recentItems.all(domain, local, node, query.max).reverse().map(toItem);
    return this.s.allItems.all(domain, local, node).map(toItem);
  }

  async retract(owner: JID, node: string, ids: readonly string[]): Promise<string[] | undefined> {
    const { domain, local } = owner;
    return this.db.transaction(() => {
      const unique = [...new Set(ids)];
      if (unique.some((id) => this.s.item.get(domain, local, node, id) === undefined)) return undefined;
      for (const id of unique) this.s.deleteItem.run(domain, local, node, id);
      return unique;
    })();
  }

  async purge(owner: JID, node: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.s.node.get(owner.domain, owner.local, node) === undefined) return false;
      this.s.purge.run(owner.domain, owner.local, node);
      return true;
    })();
  }

  async delete(owner: JID, node: string): Promise<string[] | undefined> {
    return this.db.transaction(() => {
      if (this.s.node.get(owner.domain, owner.local, node) === undefined) return undefined;
      const subscribers = this.s.subscribers.all(owner.domain, owner.local, node).map((r) => r.jid);
      this.s.deleteNode.run(owner.domain, owner.local, node);
      return subscribers;
    })();
  }

  async subscribers(owner: JID, node: string): Promise<string[]> {
    return this.s.subscribers.all(owner.domain, owner.local, node).map((r) => r.jid);
  }

  async subscribe(owner: JID, node: string, jid: string): Promise<void> {
    this.s.subscribe.run(owner.domain, owner.local, node, jid);
  }

  async unsubscribe(owner: JID, node: string, jid: string): Promise<boolean> {
    return this.s.unsubscribe.run(owner.domain, owner.local, node, jid).changes > 0;
  }

  async subscriptionsOf(owner: JID, bare: string): Promise<Array<{ node: string; jid: string }>> {
    return this.s.subscriptionsOf.all(owner.domain, owner.local, bare, `${bare}/`, `${bare}0`);
  }

  async affiliations(owner: JID, node: string): Promise<Map<string, GrantedAffiliation>> {
    const rows = this.s.affiliations.all(owner.domain, owner.local, node);
    return new Map(rows.map((r) => [r.jid, r.affiliation]));
  }

  async affiliationsOf(owner: JID, bare: string): Promise<Map<string, GrantedAffiliation>> {
    const rows = this.s.affiliationsOf.all(owner.domain, owner.local, bare);
    return new Map(rows.map((r) => [r.node, r.affiliation]));
  }

  async setAffiliations(
    owner: JID,
    node: string,
    changes: ReadonlyArray<readonly [string, GrantedAffiliation | undefined]>,
  ): Promise<void> {
    this.db.transaction(() => {
      for (const [jid, affiliation] of changes) {
        if (affiliation === undefined) this.s.removeAffiliation.run(owner.domain, owner.local, node, jid);
        else this.s.setAffiliation.run(owner.domain, owner.local, node, jid, affiliation);
      }
    })();
  }
}

interface ItemRow {
  item_id: string;
  publisher: string;
  xml: string;
}

function toItem(row: ItemRow): StoredItem {
  return { id: row.item_id, publisher: row.publisher, xml: row.xml };
}

export class SqliteCapsStore implements CapsStore {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      get: db.prepare<[string], { features: string }>('SELECT features FROM caps_features WHERE key = ?'),
      put: db.prepare<[string, string]>(
        'INSERT INTO caps_features (key, features) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
      ),
    };
  }

  async get(key: string): Promise<readonly string[] | undefined> {
    const row = this.s.get.get(key);
    return row === undefined ? undefined : (JSON.parse(row.features) as string[]);
  }

  async put(key: string, features: readonly string[]): Promise<void> {
    this.s.put.run(key, JSON.stringify(features));
  }
}
