// The private XML store: per account, one element per (namespace, local name), kept as the XML
// text the owner stored, with its size so that the account's quota is one SUM away.

import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';

export const PRIVATE_MIGRATIONS: Migrations = {
  concern: 'private',
  steps: [
    // 1
    `
    CREATE TABLE private_storage (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      namespace TEXT NOT NULL,
      name TEXT NOT NULL,
      xml TEXT NOT NULL,
      size INTEGER NOT NULL,
      PRIMARY KEY (host, username, namespace, name),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    );
    `,
  ],
};

export interface PrivateItem {
  namespace: string;
  name: string;
  /** The element as XML text; undefined removes what is stored under this key. */
  xml: string | undefined;
  /** Bytes of `xml`. */
  size: number;
}

export type PutOutcome = { stored: true } | { stored: false; total: number };

export interface PrivateStore {
  get(host: string, username: string, namespace: string, name: string): Promise<string | undefined>;
  /**
   * Writes every item (keys distinct), or none of them when the account would then hold more
   * than `quota` bytes and more than before (`total` says how many it would have held).
   */
  put(host: string, username: string, items: readonly PrivateItem[], quota: number): Promise<PutOutcome>;
}

export class SqlitePrivateStore implements PrivateStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      get: db.prepare<[string, string, string, string], { xml: string }>(
        'SELECT xml FROM private_storage WHERE host = ? AND username = ? AND namespace = ? AND name = ?',
      ),
      total: db.prepare<[string, string], { total: number }>(
        'SELECT COALESCE(SUM(size), 0) AS total FROM private_storage WHERE host = ? AND username = ?',
      ),
      size: db.prepare<[string, string, string, string], { size: number }>(
        'SELECT size FROM private_storage WHERE host = ? AND username = ? AND namespace = ? AND name = ?',
      ),
      upsert: db.prepare<[string, string, string, string, string, number]>(
        `INSERT INTO private_storage (host, username, namespace, name, xml, size) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, username, namespace, name) DO UPDATE SET xml = excluded.xml, size = excluded.size`,
      ),
      delete: db.prepare<[string, string, string, string]>(
        'DELETE FROM private_storage WHERE host = ? AND username = ? AND namespace = ? AND name = ?',
      ),
    };
  }

  async get(host: string, username: string, namespace: string, name: string): Promise<string | undefined> {
    return this.stmts.get.get(host, username, namespace, name)?.xml;
  }

  async put(
    host: string,
    username: string,
    items: readonly PrivateItem[],
    quota: number,
  ): Promise<PutOutcome> {
    return this.db.transaction((): PutOutcome => {
      const before = this.stmts.total.get(host, username)!.total;
      let total = before;
      for (const item of items) {
        total -= this.stmts.size.get(host, username, item.namespace, item.name)?.size ?? 0;
        total += item.xml === undefined ? 0 : item.size;
      }
      // Shrinking is always allowed, so that an account over a lowered quota can tidy up.
      if (total > quota && total > before) return { stored: false, total };
      for (const item of items) {
        if (item.xml === undefined) this.stmts.delete.run(host, username, item.namespace, item.name);
        else this.stmts.upsert.run(host, username, item.namespace, item.name, item.xml, item.size);
      }
      return { stored: true };
    })();
  }
}
