// The vCard store: one vCard per account, kept as the XML text the owner published, with the
// XEP-0153 hash of its photo beside it so that presence can carry the hash without parsing.

import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';

export const VCARD_MIGRATIONS: Migrations = {
  concern: 'vcard',
  steps: [
    // 1: a rowid table on purpose: a vCard with a photo is tens of kilobytes, too big a row
    // for WITHOUT ROWID.
    `
    CREATE TABLE vcards (
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      xml TEXT NOT NULL,
      photo_hash TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (host, username),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    );
    `,
  ],
};

export interface VCardStore {
  /** The account's vCard as stored, or undefined when it has none. */
  get(host: string, username: string): Promise<string | undefined>;
  /** The SHA-1 (hex) of the vCard's photo; '' when there is no vCard or it has no photo. */
  photoHash(host: string, username: string): Promise<string>;
  /** Replaces the account's vCard. */
  put(host: string, username: string, xml: string, photoHash: string): Promise<void>;
  delete(host: string, username: string): Promise<void>;
}

export class SqliteVCardStore implements VCardStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      get: db.prepare<[string, string], { xml: string }>(
        'SELECT xml FROM vcards WHERE host = ? AND username = ?',
      ),
      photoHash: db.prepare<[string, string], { photo_hash: string }>(
        'SELECT photo_hash FROM vcards WHERE host = ? AND username = ?',
      ),
      put: db.prepare<[string, string, string, string, number]>(
        `INSERT INTO vcards (host, username, xml, photo_hash, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (host, username) DO UPDATE SET
           xml = excluded.xml, photo_hash = excluded.photo_hash, updated_at = excluded.updated_at`,
      ),
      delete: db.prepare<[string, string]>('DELETE FROM vcards WHERE host = ? AND username = ?'),
    };
  }

  async get(host: string, username: string): Promise<string | undefined> {
    return this.stmts.get.get(host, username)?.xml;
  }

  async photoHash(host: string, username: string): Promise<string> {
    return this.stmts.photoHash.get(host, username)?.photo_hash ?? '';
  }

  async put(host: string, username: string, xml: string, photoHash: string): Promise<void> {
    this.stmts.put.run(host, username, xml, photoHash, Date.now());
  }

  async delete(host: string, username: string): Promise<void> {
    this.stmts.delete.run(host, username);
  }
}
