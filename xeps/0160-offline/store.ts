// The offline message store: each account's undelivered messages in arrival order, bounded by
// a per-account quota checked and applied in one transaction.

import type { JID } from '../../src/jid.js';
import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';

export const OFFLINE_MIGRATIONS: Migrations = {
  concern: 'offline',
  steps: [
    // 1: AUTOINCREMENT so that an id is never reused: delivery removes "everything up to the
    // last id sent", which must not catch a message stored later.
    `
    CREATE TABLE offline_messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      stored_at INTEGER NOT NULL,
      stanza TEXT NOT NULL,
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    );
    CREATE INDEX offline_messages_by_account ON offline_messages (host, username, id);
    `,
  ],
};

export interface StoredMessage {
  id: number;
  /** The stanza as it will be delivered (see stored-stanza.ts). */
  stanza: string;
}

export interface OfflineStore {
  /**
   * Stores a message for an account (bare JID) unless it already holds `limit` messages.
   * Resolves once the message is committed; false when the account's quota is full.
   */
  push(account: JID, stanza: string, limit: number): Promise<boolean>;
  /** The account's oldest messages, at most `limit`, oldest first. */
  list(account: JID, limit: number): Promise<StoredMessage[]>;
  /** Removes the account's messages up to and including id `lastId`; returns how many. */
  removeThrough(account: JID, lastId: number): Promise<number>;
  count(account: JID): Promise<number>;
}

export class SqliteOfflineStore implements OfflineStore {
  private readonly stmts;
  private readonly pushTx;

  constructor(db: Db) {
    this.stmts = {
      count: db.prepare<[string, string], { n: number }>(
        'SELECT COUNT(*) AS n FROM offline_messages WHERE host = ? AND username = ?',
      ),
      insert: db.prepare<[string, string, number, string]>(
        'INSERT INTO offline_messages (host, username, stored_at, stanza) VALUES (?, ?, ?, ?)',
      ),
      list: db.prepare<[string, string, number], StoredMessage>(
        'SELECT id, stanza FROM offline_messages WHERE host = ? AND username = ? ORDER BY id LIMIT ?',
      ),
      removeThrough: db.prepare<[string, string, number]>(
        'DELETE FROM offline_messages WHERE host = ? AND username = ? AND id <= ?',
      ),
    };
    this.pushTx = db.transaction((host: string, username: string, stanza: string, limit: number) => {
      if (this.stmts.count.get(host, username)!.n >= limit) return false;
      this.stmts.insert.run(host, username, Date.now(), stanza);
      return true;
    });
  }

  async push(account: JID, stanza: string, limit: number): Promise<boolean> {
    return this.pushTx.immediate(account.domain, account.local, stanza, limit);
  }

  async list(account: JID, limit: number): Promise<StoredMessage[]> {
    return this.stmts.list.all(account.domain, account.local, limit);
  }

  async removeThrough(account: JID, lastId: number): Promise<number> {
    return this.stmts.removeThrough.run(account.domain, account.local, lastId).changes;
  }

  async count(account: JID): Promise<number> {
    return this.stmts.count.get(account.domain, account.local)!.n;
  }
}
