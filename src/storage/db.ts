// The SQLite database: one file per server, opened in WAL mode and migrated at start.
//
// Durability: with WAL and synchronous=NORMAL a committed transaction survives the process
// being killed (kill -9); only a power loss can take the last transactions back. That is
// the promise DESIGN.md makes ("acknowledged means stored"), at a fraction of FULL's cost.
// busy_timeout lets the CLI (adduser while the server runs) and the server share the file.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export class StorageError extends Error {
  override name = 'StorageError';
}

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
  migrate(db);
  return db;
}

/** Applies the migrations the file has not seen yet, each in its own transaction. */
export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new StorageError(
      `the database is at schema version ${current}, newer than this Warbler knows (${MIGRATIONS.length}); run a newer Warbler or restore a backup`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
