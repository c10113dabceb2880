// Accounts and their credentials. The interface returns promises although SQLite answers
// synchronously, so that a networked backend can implement it without touching callers.

import type { ScramCredential, ScramHash } from '../sasl/mechanism.js';
import type { Db } from './db.js';

export interface AccountRef {
  host: string;
  username: string;
}

export type CredentialSet = ReadonlyMap<ScramHash, ScramCredential>;

export interface AccountStore {
  exists(host: string, username: string): Promise<boolean>;
  /** Creates the account; false when it already exists. */
  create(host: string, username: string, credentials: CredentialSet): Promise<boolean>;
  /** Creates many accounts in one transaction; returns how many were new. */
  createMany(accounts: ReadonlyArray<AccountRef & { credentials: CredentialSet }>): Promise<number>;
  /** Replaces the credentials; false when there is no such account. */
  setCredentials(host: string, username: string, credentials: CredentialSet): Promise<boolean>;
  delete(host: string, username: string): Promise<boolean>;
  list(host?: string): Promise<AccountRef[]>;
  getCredential(host: string, username: string, hash: ScramHash): Promise<ScramCredential | undefined>;
}

interface CredentialRow {
  salt: Buffer;
  iterations: number;
  stored_key: Buffer;
  server_key: Buffer;
}

export class SqliteAccountStore implements AccountStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      exists: db.prepare<[string, string], { one: number }>(
        'SELECT 1 AS one FROM accounts WHERE host = ? AND username = ?',
      ),
      insertAccount: db.prepare<[string, string, number]>(
        'INSERT OR IGNORE INTO accounts (host, username, created_at) VALUES (?, ?, ?)',
      ),
      upsertCredential: db.prepare<[string, string, string, Buffer, number, Buffer, Buffer]>(
        `INSERT INTO credentials (host, username, hash, salt, iterations, stored_key, server_key)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, username, hash) DO UPDATE SET
           salt = excluded.salt, iterations = excluded.iterations,
           stored_key = excluded.stored_key, server_key = excluded.server_key`,
      ),
      deleteCredentials: db.prepare<[string, string]>(
        'DELETE FROM credentials WHERE host = ? AND username = ?',
      ),
      deleteAccount: db.prepare<[string, string]>('DELETE FROM accounts WHERE host = ? AND username = ?'),
      listAll: db.prepare<[], AccountRef>('SELECT host, username FROM accounts ORDER BY host, username'),
      listHost: db.prepare<[string], AccountRef>(
        'SELECT host, username FROM accounts WHERE host = ? ORDER BY username',
      ),
      credential: db.prepare<[string, string, string], CredentialRow>(
        'SELECT salt, iterations, stored_key, server_key FROM credentials WHERE host = ? AND username = ? AND hash = ?',
      ),
    };
  }

  async exists(host: string, username: string): Promise<boolean> {
    return this.stmts.exists.get(host, username) !== undefined;
  }

  async create(host: string, username: string, credentials: CredentialSet): Promise<boolean> {
    return this.db.transaction(() => this.insert(host, username, credentials))();
  }

  async createMany(accounts: ReadonlyArray<AccountRef & { credentials: CredentialSet }>): Promise<number> {
    return this.db.transaction(() => {
      let created = 0;
      for (const a of accounts) if (this.insert(a.host, a.username, a.credentials)) created++;
      return created;
    })();
  }

  async setCredentials(host: string, username: string, credentials: CredentialSet): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmts.exists.get(host, username) === undefined) return false;
      this.stmts.deleteCredentials.run(host, username);
      this.writeCredentials(host, username, credentials);
      return true;
    })();
  }

  async delete(host: string, username: string): Promise<boolean> {
    return this.stmts.deleteAccount.run(host, username).changes > 0;
  }

  async list(host?: string): Promise<AccountRef[]> {
    return host === undefined ? this.stmts.listAll.all() : this.stmts.listHost.all(host);
  }

  async getCredential(host: string, username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
    const row = this.stmts.credential.get(host, username, hash);
    if (!row) return undefined;
    return {
      salt: row.salt,
      iterations: row.iterations,
      storedKey: row.stored_key,
      serverKey: row.server_key,
    };
  }

  private insert(host: string, username: string, credentials: CredentialSet): boolean {
    if (this.stmts.insertAccount.run(host, username, Date.now()).changes === 0) return false;
    this.writeCredentials(host, username, credentials);
    return true;
  }

  private writeCredentials(host: string, username: string, credentials: CredentialSet): void {
    for (const [hash, c] of credentials) {
      this.stmts.upsertCredential.run(host, username, hash, c.salt, c.iterations, c.storedKey, c.serverKey);
    }
  }
}
