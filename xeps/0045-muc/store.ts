// Persistent rooms (XEP-0045 §10.1.3 muc#roomconfig_persistentroom): the configuration,
// subject, affiliations and vCard of every persistent room, so that a restart brings them
// back. Temporary rooms are never written. Occupants are not kept: occupants rejoin. The
// history of a room is its archive's business (archive-store.ts, whose tables are here too).

import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';
import { type RoomConfig, serializeConfig } from './config.js';
import type { AffiliationRecord, Room, Subject } from './room.js';

export const MUC_MIGRATIONS: Migrations = {
  concern: 'muc',
  steps: [
    // 1: rooms by (service domain, room localpart); affiliations and vCards go with their room.
    // Affiliated users may be of any server, so they reference no account.
    `
    CREATE TABLE muc_rooms (
      service TEXT NOT NULL,
      name TEXT NOT NULL,
      config TEXT NOT NULL,
      subject TEXT,
      subject_by TEXT,
      subject_at INTEGER,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (service, name)
    ) WITHOUT ROWID;

    CREATE TABLE muc_affiliations (
      service TEXT NOT NULL,
      name TEXT NOT NULL,
      jid TEXT NOT NULL,
      affiliation TEXT NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
      nick TEXT,
      reason TEXT,
      PRIMARY KEY (service, name, jid),
      FOREIGN KEY (service, name) REFERENCES muc_rooms (service, name) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE muc_vcards (
      service TEXT NOT NULL,
      name TEXT NOT NULL,
      xml TEXT NOT NULL,
      hashes TEXT NOT NULL,
      PRIMARY KEY (service, name),
      FOREIGN KEY (service, name) REFERENCES muc_rooms (service, name) ON DELETE CASCADE
    );
    `,
    // 2: room archives (XEP-0313, archive-store.ts): one per room, by (service, name) and not
    // tied to muc_rooms, since temporary rooms have one too while they live. AUTOINCREMENT: a
    // room created again gets a new archive number, so ids of the old archive name nothing.
    // The secrets behind archive ids and occupant ids (XEP-0421), kept so both survive restarts.
    `
    CREATE TABLE muc_archives (
      archive INTEGER PRIMARY KEY AUTOINCREMENT,
      service TEXT NOT NULL,
      name TEXT NOT NULL,
      UNIQUE (service, name)
    );

    CREATE TABLE muc_archive_messages (
      archive INTEGER NOT NULL REFERENCES muc_archives (archive) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      nick TEXT NOT NULL,
      real_bare TEXT NOT NULL,
      real_resource TEXT NOT NULL,
      stanza TEXT NOT NULL,
      PRIMARY KEY (archive, seq)
    ) WITHOUT ROWID;

    CREATE INDEX muc_archive_by_nick ON muc_archive_messages (archive, nick, seq);
    CREATE INDEX muc_archive_by_real ON muc_archive_messages (archive, real_bare, seq);

    CREATE TABLE muc_secrets (
      name TEXT PRIMARY KEY,
      secret BLOB NOT NULL
    ) WITHOUT ROWID;
    `,
    // 3: the hats (XEP-0317, hats.ts) of each room, as JSON: a handful per room, changed by
    // hand. Like archives, for temporary rooms too while they live.
    `
    CREATE TABLE muc_hats (
      service TEXT NOT NULL,
      name TEXT NOT NULL,
      hats TEXT NOT NULL,
      PRIMARY KEY (service, name)
    ) WITHOUT ROWID;
    `,
  ],
};

export interface StoredAffiliation extends AffiliationRecord {
  readonly jid: string;
}

export interface StoredRoom {
  readonly name: string;
  /** The configuration as serializeConfig wrote it. */
  readonly config: string;
  readonly subject: Subject | undefined;
  readonly createdAt: number;
  readonly affiliations: readonly StoredAffiliation[];
  readonly vcard: { readonly xml: string; readonly hashes: readonly string[] } | undefined;
}

export interface MucStore {
  /** Every persistent room of a service. */
  rooms(service: string): Promise<StoredRoom[]>;
  /** Writes a room whole: configuration, subject, affiliations and vCard (it became persistent). */
  put(service: string, room: StoredRoom): Promise<void>;
  setConfig(service: string, name: string, config: string): Promise<void>;
  setSubject(service: string, name: string, subject: Subject | undefined): Promise<void>;
  /** Sets (a record) or removes (undefined) affiliations, all in one transaction. */
  setAffiliations(
    service: string,
    name: string,
    changes: ReadonlyArray<{ jid: string; record: AffiliationRecord | undefined }>,
  ): Promise<void>;
  setVCard(service: string, name: string, vcard: StoredRoom['vcard']): Promise<void>;
  delete(service: string, name: string): Promise<void>;
}

interface RoomRow {
  name: string;
  config: string;
  subject: string | null;
  subject_by: string | null;
  subject_at: number | null;
  created_at: number;
}

interface AffiliationRow {
  name: string;
  jid: string;
  affiliation: AffiliationRecord['affiliation'];
  nick: string | null;
  reason: string | null;
}

export class SqliteMucStore implements MucStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      rooms: db.prepare<[string], RoomRow>(
        'SELECT name, config, subject, subject_by, subject_at, created_at FROM muc_rooms WHERE service = ?',
      ),
      affiliations: db.prepare<[string], AffiliationRow>(
        'SELECT name, jid, affiliation, nick, reason FROM muc_affiliations WHERE service = ?',
      ),
      vcards: db.prepare<[string], { name: string; xml: string; hashes: string }>(
        'SELECT name, xml, hashes FROM muc_vcards WHERE service = ?',
      ),
      upsertRoom: db.prepare<[string, string, string, string | null, string | null, number | null, number]>(
        `INSERT INTO muc_rooms (service, name, config, subject, subject_by, subject_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (service, name) DO UPDATE SET config = excluded.config, subject = excluded.subject,
           subject_by = excluded.subject_by, subject_at = excluded.subject_at`,
      ),
      setConfig: db.prepare<[string, string, string]>(
        'UPDATE muc_rooms SET config = ? WHERE service = ? AND name = ?',
      ),
      setSubject: db.prepare<[string | null, string | null, number | null, string, string]>(
        'UPDATE muc_rooms SET subject = ?, subject_by = ?, subject_at = ? WHERE service = ? AND name = ?',
      ),
      clearAffiliations: db.prepare<[string, string]>(
        'DELETE FROM muc_affiliations WHERE service = ? AND name = ?',
      ),
      upsertAffiliation: db.prepare<[string, string, string, string, string | null, string | null]>(
        `INSERT INTO muc_affiliations (service, name, jid, affiliation, nick, reason) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (service, name, jid) DO UPDATE SET
           affiliation = excluded.affiliation, nick = excluded.nick, reason = excluded.reason`,
      ),
      deleteAffiliation: db.prepare<[string, string, string]>(
        'DELETE FROM muc_affiliations WHERE service = ? AND name = ? AND jid = ?',
      ),
      upsertVCard: db.prepare<[string, string, string, string]>(
        `INSERT INTO muc_vcards (service, name, xml, hashes) VALUES (?, ?, ?, ?)
         ON CONFLICT (service, name) DO UPDATE SET xml = excluded.xml, hashes = excluded.hashes`,
      ),
      deleteVCard: db.prepare<[string, string]>('DELETE FROM muc_vcards WHERE service = ? AND name = ?'),
      deleteRoom: db.prepare<[string, string]>('DELETE FROM muc_rooms WHERE service = ? AND name = ?'),
    };
  }

  async rooms(service: string): Promise<StoredRoom[]> {
    const affiliations = new Map<string, StoredAffiliation[]>();
    for (const row of this.stmts.affiliations.all(service)) {
      const list = affiliations.get(row.name) ?? [];
      list.push({
        jid: row.jid,
        affiliation: row.affiliation,
        ...(row.nick !== null && { nick: row.nick }),
        ...(row.reason !== null && { reason: row.reason }),
      });
      affiliations.set(row.name, list);
    }
    const vcards = new Map<string, StoredRoom['vcard']>();
    for (const row of this.stmts.vcards.all(service))
      vcards.set(row.name, { xml: row.xml, hashes: row.hashes === '' ? [] : row.hashes.split(' ') });
    return this.stmts.rooms.all(service).map((row) => ({
      name: row.name,
      config: row.config,
      subject:
        row.subject === null
          ? undefined
          : { text: row.subject, by: row.subject_by ?? '', at: row.subject_at ?? 0 },
      createdAt: row.created_at,
      affiliations: affiliations.get(row.name) ?? [],
      vcard: vcards.get(row.name),
    }));
  }

  async put(service: string, room: StoredRoom): Promise<void> {
    this.db.transaction(() => {
      const s = room.subject;
      this.stmts.upsertRoom.run(
        service,
        room.name,
        room.config,
        s?.text ?? null,
        s?.by ?? null,
        s?.at ?? null,
        room.createdAt,
      );
      this.stmts.clearAffiliations.run(service, room.name);
      for (const a of room.affiliations)
        this.stmts.upsertAffiliation.run(
          service,
          room.name,
          a.jid,
          a.affiliation,
          a.nick ?? null,
          a.reason ?? null,
        );
      this.writeVCard(service, room.name, room.vcard);
    })();
  }

  async setConfig(service: string, name: string, config: string): Promise<void> {
    this.stmts.setConfig.run(config, service, name);
  }

  async setSubject(service: string, name: string, subject: Subject | undefined): Promise<void> {
    this.stmts.setSubject.run(subject?.text ?? null, subject?.by ?? null, subject?.at ?? null, service, name);
  }

  async setAffiliations(
    service: string,
    name: string,
    changes: ReadonlyArray<{ jid: string; record: AffiliationRecord | undefined }>,
  ): Promise<void> {
    this.db.transaction(() => {
      for (const { jid, record } of changes) {
        if (record === undefined) this.stmts.deleteAffiliation.run(service, name, jid);
        else
          this.stmts.upsertAffiliation.run(
            service,
            name,
            jid,
            record.affiliation,
            record.nick ?? null,
            record.reason ?? null,
          );
      }
    })();
  }

  async setVCard(service: string, name: string, vcard: StoredRoom['vcard']): Promise<void> {
    this.writeVCard(service, name, vcard);
  }

  async delete(service: string, name: string): Promise<void> {
    this.stmts.deleteRoom.run(service, name);
  }

  private writeVCard(service: string, name: string, vcard: StoredRoom['vcard']): void {
    if (vcard === undefined) this.stmts.deleteVCard.run(service, name);
    else this.stmts.upsertVCard.run(service, name, vcard.xml, vcard.hashes.join(' '));
  }
}

/** A room as the store keeps it (with another configuration or affiliations, when given). */
export function storedRoom(
  room: Room,
  config: RoomConfig = room.config,
  affiliations: ReadonlyMap<string, AffiliationRecord> = room.affiliations,
): StoredRoom {
  return {
    name: room.name,
    config: serializeConfig(config),
    subject: room.subject,
    createdAt: room.createdAt,
    affiliations: [...affiliations].map(([jid, record]) => ({ jid, ...record })),
    vcard: room.vcard,
  };
}
