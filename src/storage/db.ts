// The SQLite database: one file per server, opened in WAL mode and migrated at start.
//
// Durability: with WAL and synchronous=NORMAL a committed transaction survives the process
// being killed (kill -9); only a power loss can take the last transactions back. That is
// the promise DESIGN.md makes ("acknowledged means stored"), at a fraction of FULL's cost.
// busy_timeout lets the CLI (adduser while the server runs) and the server share the file.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from './errors.js';
import { ACCOUNT_MIGRATIONS, migrate } from './migrations.js';

export { StorageError };

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new StorageError(
      `cannot open database ${file}: ${(err as Error).message} (check that data_dir exists and is writable)`,
    );
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, ACCOUNT_MIGRATIONS);
  return db;
}
