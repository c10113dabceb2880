// XEP-0191: Blocking Command — the blocklists, kept in SQLite (§3.3: a block "applies across
// sessions"). The interface returns promises so that a networked backend can implement it;
// every change is one transaction that answers with the resulting list, so the caller's
// cache never has to re-read.

import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';

export const BLOCKLIST_MIGRATIONS: Migrations = {
  concern: 'blocklist',
  steps: [
    // 1: one row per blocked JID (a prepared JID string: full, bare, domain/resource or domain).
    `
    CREATE TABLE blocklist (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      jid TEXT NOT NULL,
      PRIMARY KEY (host, username, jid),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;
    `,
  ],
};

export interface BlockingAccount {
  host: string;
  username: string;
}

export type BlockOutcome =
  /** `added`: the JIDs that were not blocked before; `entries`: the whole list now. */
  | { ok: true; added: string[]; entries: string[] }
  /** The list would grow past the limit; nothing changed. */
  | { ok: false; reason: 'limit' };

export interface UnblockOutcome {
  /** The JIDs that were blocked and no longer are. */
  removed: string[];
  /** The whole list now. */
  entries: string[];
}

export interface BlocklistStore {
  /** Every account that blocks at least one JID. */
  accounts(): Promise<BlockingAccount[]>;
  list(host: string, username: string): Promise<string[]>;
  /** Adds JIDs, all or none: refused when the list would hold more than `maxItems`. */
  block(host: string, username: string, jids: readonly string[], maxItems: number): Promise<BlockOutcome>;
  unblock(host: string, username: string, jids: readonly string[]): Promise<UnblockOutcome>;
  unblockAll(host: string, username: string): Promise<UnblockOutcome>;
}

export class SqliteBlocklistStore implements BlocklistStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      accounts: db.prepare<[], BlockingAccount>('SELECT DISTINCT host, username FROM blocklist'),
      list: db
        .prepare<[string, string], string>(
          'SELECT jid FROM blocklist WHERE host = ? AND username = ? ORDER BY jid',
        )
        .pluck(),
      insert: db.prepare<[string, string, string]>(
        'INSERT OR IGNORE INTO blocklist (host, username, jid) VALUES (?, ?, ?)',
      ),
      delete: db.prepare<[string, string, string]>(
        'DELETE FROM blocklist WHERE host = ? AND username = ? AND jid = ?',
      ),
      deleteAll: db.prepare<[string, string]>('DELETE FROM blocklist WHERE host = ? AND username = ?'),
    };
  }

  async accounts(): Promise<BlockingAccount[]> {
    return this.stmts.accounts.all();
  }

  async list(host: string, username: string): Promise<string[]> {
    return this.stmts.list.all(host, username);
  }

  async block(
    host: string,
    username: string,
    jids: readonly string[],
    maxItems: number,
  ): Promise<BlockOutcome> {
    try {
      return this.db.transaction((): BlockOutcome => {
        const added: string[] = [];
        for (const jid of jids) if (this.stmts.insert.run(host, username, jid).changes > 0) added.push(jid);
        const entries = this.stmts.list.all(host, username);
        // Throwing rolls the inserts back.
        if (entries.length > maxItems) throw new ListFull();
        return { ok: true, added, entries };
      })();
    } catch (err) {
      if (err instanceof ListFull) return { ok: false, reason: 'limit' };
      throw err;
    }
  }

  async unblock(host: string, username: string, jids: readonly string[]): Promise<UnblockOutcome> {
    return this.db.transaction(() => {
      const removed: string[] = [];
      for (const jid of jids) if (this.stmts.delete.run(host, username, jid).changes > 0) removed.push(jid);
      return { removed, entries: this.stmts.list.all(host, username) };
    })();
  }

  async unblockAll(host: string, username: string): Promise<UnblockOutcome> {
    return this.db.transaction(() => {
      const removed = this.stmts.list.all(host, username);
      this.stmts.deleteAll.run(host, username);
      return { removed, entries: [] };
    })();
  }
}

/** Aborts the transaction of a block that would overfill the list. */
class ListFull extends Error {}
