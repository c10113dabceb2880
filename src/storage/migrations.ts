// Schema migrations, kept per concern: each store (accounts here, a module's own store
// beside the module) owns the ordered list of SQL steps that builds its tables, and the
// database records in schema_versions how many steps of each concern it has applied. This
// is the only place SQL schema is written; a shipped step is never edited, only followed
// by a new one. Concerns are independent, so two modules never compete for a number.

import type { Db } from './db.js';
import { StorageError } from './errors.js';

export interface Migrations {
  /** A stable name, e.g. 'accounts', 'roster', 'vcard'. */
  concern: string;
  steps: readonly string[];
}

export const ACCOUNT_MIGRATIONS: Migrations = {
  concern: 'accounts',
  steps: [
    // 1: accounts and their SCRAM credentials (RFC 5802 §3: StoredKey and ServerKey, never the password).
    `
    CREATE TABLE accounts (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (host, username)
    ) WITHOUT ROWID;

    CREATE TABLE credentials (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      hash TEXT NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256')),
      salt BLOB NOT NULL,
      iterations INTEGER NOT NULL,
      stored_key BLOB NOT NULL,
      server_key BLOB NOT NULL,
      PRIMARY KEY (host, username, hash),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    ) WITHOUT ROWID;
    `,
  ],
};

/** Applies the steps of `migrations` this database has not seen, each in its own transaction. */
export function migrate(db: Db, migrations: Migrations): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (concern TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_versions WHERE concern = ?').get(migrations.concern) as
    | { version: number }
    | undefined;
  const current = row?.version ?? 0;
  if (current > migrations.steps.length) {
    throw new StorageError(
      `the database has ${migrations.concern} schema version ${current}, newer than this Warbler knows ` +
        `(${migrations.steps.length}); run a newer Warbler or restore a backup`,
    );
  }
  const record = db.prepare(
    'INSERT INTO schema_versions (concern, version) VALUES (?, ?) ON CONFLICT (concern) DO UPDATE SET version = excluded.version',
  );
  for (let version = current; version < migrations.steps.length; version++) {
    db.transaction(() => {
      db.exec(migrations.steps[version]!);
      record.run(migrations.concern, version + 1);
    })();
  }
}
