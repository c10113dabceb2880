// When each account was last logged out, and the status it left with (XEP-0012 §3).

import type { JID } from '../../src/jid.js';
import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';

export const LAST_ACTIVITY_MIGRATIONS: Migrations = {
  concern: 'last_activity',
  steps: [
    // 1: one row per account that has ever logged out.
    `
    CREATE TABLE last_activity (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      logout_at INTEGER NOT NULL,
      status TEXT,
      PRIMARY KEY (host, username),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;
    `,
  ],
};

export interface LastLogout {
  /** Milliseconds since the epoch. */
  at: number;
  /** The <status/> of the last unavailable presence, when it had one. */
  status: string | undefined;
}

export interface LastActivityStore {
  get(account: JID): Promise<LastLogout | undefined>;
  /** Records a logout of the account (bare JID), replacing the previous one. */
  set(account: JID, logout: LastLogout): Promise<void>;
}

export class SqliteLastActivityStore implements LastActivityStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      get: db.prepare<[string, string], { logout_at: number; status: string | null }>(
        'SELECT logout_at, status FROM last_activity WHERE host = ? AND username = ?',
      ),
      // Nothing is recorded for an account deleted while logged in (its sessions end after it).
      set: db.prepare<[{ host: string; username: string; at: number; status: string | null }]>(
        `INSERT INTO last_activity (host, username, logout_at, status)
         SELECT @host, @username, @at, @status
         WHERE EXISTS (SELECT 1 FROM accounts WHERE host = @host AND username = @username)
         ON CONFLICT (host, username) DO UPDATE SET logout_at = excluded.logout_at, status = excluded.status`,
      ),
    };
  }

  async get(account: JID): Promise<LastLogout | undefined> {
    const row = this.stmts.get.get(account.domain, account.local);
    return row && { at: row.logout_at, status: row.status ?? undefined };
  }

  async set(account: JID, logout: LastLogout): Promise<void> {
    this.stmts.set.run({
      host: account.domain,
      username: account.local,
      at: logout.at,
      status: logout.status ?? null,
    });
  }
}
