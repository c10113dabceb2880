// The message archive (XEP-0313) and its preferences (XEP-0441), in SQLite.
//
// Layout, chosen for the questions a phone asks when it catches up (the latest page, the page
// after the last id it saw, a conversation, a time range) on archives of millions of messages:
//
// - mam_messages is keyed by (archive, seq) WITHOUT ROWID, so one archive's messages lie
//   together on disk in archive order, and every page is one seek plus a short sequential read.
//   seq is the archive time in microseconds, made strictly increasing per archive: a time range
//   is a key range, and no separate time index exists.
// - Pages are found by key (keyset paging), never by OFFSET, except for RSM <index/> requests.
// - Each message carries its position in the archive (pos) and in its conversation (with_pos).
//   Messages leave an archive only from its oldest end (retention) or all at once (account
//   deletion), so positions stay contiguous, and a count or an index is a subtraction between
//   two rows found by seeks: <count/> costs the same on ten messages as on ten million.
// - mam_messages_by_with serves conversations: (archive, with_jid, seq) in order, with the
//   conversation position and the resource, so filtering by full JID reads the index alone.
//   Counting one full JID's messages walks the conversation's index entries, so it is done
//   only for conversations of up to FULL_JID_COUNT_LIMIT messages, and left out beyond.
//
// Ids shown to clients are (archive, seq) encrypted (archive-ids.ts). seq never goes back,
// even after retention empties an archive (expired_through), so an id is never reused.
//
// Writes are batched per turn of the event loop: append() gives the message its seq, positions
// and id at once (the recipient's <stanza-id/> needs the id before delivery), and the turn's
// messages are inserted in one transaction committed in a `beforeOutput` task (end-of-turn.ts).
// So nothing the server says in that turn (the delivered message, a XEP-0198 <a/>) leaves
// before the messages are on disk, and a busy server pays one commit per turn instead of one
// per message and archive. Whatever reads the archive commits the pending messages first.

import { randomBytes } from 'node:crypto';
import { beforeOutput } from '../../src/core/end-of-turn.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Db } from '../../src/storage/db.js';
import type { Migrations } from '../../src/storage/migrations.js';
import { ArchiveIds } from './archive-ids.js';
import { type DefaultMode, isDefaultMode, type Listing, listingOf } from './policy.js';
import type { ArchiveFilter } from './query.js';
import type { PageRequest } from './rsm.js';

export const MAM_MIGRATIONS: Migrations = {
  concern: 'mam',
  steps: [
    // 1: archives, their messages and preferences, and the secret that makes ids opaque.
    `
    CREATE TABLE mam_archives (
      archive INTEGER PRIMARY KEY,
      host TEXT NOT NULL,
      username TEXT NOT NULL,
      -- XEP-0441 default mode; NULL until the user sets one, so the configured default applies.
      default_mode TEXT CHECK (default_mode IN ('always', 'never', 'roster')),
      -- Whether the always/never lists hold anything: most users have none, and archiving a
      -- message then needs no look at them.
      listed INTEGER NOT NULL DEFAULT 0,
      -- The newest seq retention removed: seq (and so ids) never goes back to it.
      expired_through INTEGER NOT NULL DEFAULT 0,
      UNIQUE (host, username),
      FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
    );

    CREATE TABLE mam_messages (
      archive INTEGER NOT NULL REFERENCES mam_archives (archive) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      pos INTEGER NOT NULL,
      with_jid TEXT NOT NULL,
      with_resource TEXT NOT NULL,
      with_pos INTEGER NOT NULL,
      outgoing INTEGER NOT NULL,
      stanza TEXT NOT NULL,
      PRIMARY KEY (archive, seq)
    ) WITHOUT ROWID;

    CREATE INDEX mam_messages_by_with ON mam_messages (archive, with_jid, seq, with_pos, with_resource);

    CREATE TABLE mam_pref_jids (
      archive INTEGER NOT NULL REFERENCES mam_archives (archive) ON DELETE CASCADE,
      jid TEXT NOT NULL,
      always INTEGER NOT NULL,
      PRIMARY KEY (archive, jid)
    ) WITHOUT ROWID;

    CREATE TABLE mam_secret (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      secret BLOB NOT NULL
    );
    `,
  ],
};

export interface NewMessage {
  /** The other party: the recipient of an outgoing message, the sender of an incoming one. */
  with: JID;
  outgoing: boolean;
  /** The stanza as stored: serialized to stand alone (see archiver.ts). */
  stanza: string;
  /** When it was archived, in milliseconds; now when not given. */
  at?: number;
}

export interface ArchivedMessage {
  id: string;
  /** The archive time in milliseconds (XEP-0313 §4.2: the <delay/> stamp). */
  stamp: number;
  stanza: string;
}

export interface PageQuery {
  filter: ArchiveFilter;
  page: PageRequest;
  /** How many messages at most (0: only the count). */
  max: number;
}

export interface ArchivePage {
  /** In archive order, oldest first. */
  messages: ArchivedMessage[];
  /** The position of messages[0] among all the messages the filter selects. */
  firstIndex: number | undefined;
  /**
   * How many messages the filter selects; undefined only for a full JID in a conversation too
   * large to count it cheaply (see FULL_JID_COUNT_LIMIT).
   */
  count: number | undefined;
  /** No message of the selection lies beyond this page in the direction it was read. */
  complete: boolean;
}

export interface ArchiveEnds {
  first: { id: string; stamp: number };
  last: { id: string; stamp: number };
}

/** XEP-0441 preferences: the default mode (undefined: the server's) and the two lists. */
export interface ArchivePrefs {
  default: DefaultMode | undefined;
  always: string[];
  never: string[];
}

/** What the preferences say of one contact. */
export interface ContactRule {
  default: DefaultMode | undefined;
  listing: Listing;
}

/** An id in a query that names no message of the archive (XEP-0313 §4.1.3, §4.3.2: item-not-found). */
export class UnknownArchiveId extends Error {
  override name = 'UnknownArchiveId';
  constructor(readonly id: string) {
    super(`no message with id ${id} in the archive`);
  }
}

export interface ExpiryStep {
  deleted: number;
  /** Where the next step starts; undefined once every archive was visited. */
  cursor: number | undefined;
}

export interface MamStore {
  /** Archives a message for an account; resolves with its id, or undefined when there is no such account. */
  append(account: JID, message: NewMessage): Promise<string | undefined>;
  /** Archives many messages of one account in one transaction (imports, benchmarks). */
  appendMany(account: JID, messages: readonly NewMessage[]): Promise<string[]>;
  /** One page of a query; rejects with UnknownArchiveId for an id that is not in the archive. */
  query(account: JID, query: PageQuery): Promise<ArchivePage>;
  /** The oldest and newest messages (XEP-0313 §5), undefined for an empty archive. */
  ends(account: JID): Promise<ArchiveEnds | undefined>;
  count(account: JID): Promise<number>;
  ruleFor(account: JID, contact: JID): Promise<ContactRule>;
  getPrefs(account: JID): Promise<ArchivePrefs>;
  /** Replaces the preferences; false when there is no such account. */
  setPrefs(account: JID, prefs: ArchivePrefs): Promise<boolean>;
  /**
   * Deletes messages archived before `before` (ms), oldest first, at most `maxRows` in one
   * transaction, visiting archives from `cursor` (0 to start a sweep).
   */
  expire(before: number, maxRows: number, cursor: number): Promise<ExpiryStep>;
}

interface ArchiveRow {
  archive: number;
  default_mode: string | null;
  listed: number;
  expired_through: number;
}

interface PositionRow {
  seq: number;
  pos: number;
}

/** Where an archive written to in this turn ends, counting the messages not yet committed. */
interface ArchiveHead {
  seq: number;
  pos: number;
  /** The newest conversation position, per contact written to in this turn. */
  withPos: Map<string, number>;
}

/** The values of one mam_messages row, in the insert statement's order. */
type PendingRow = [number, number, number, string, string, number, number, string];

interface MessageRow extends PositionRow {
  stanza: string;
}

interface FullRow extends MessageRow {
  with_jid: string;
  with_resource: string;
}

/** Which messages a range query reads: all, one conversation, or one full JID of it. */
type Shape = 'all' | 'bare' | 'full';

const NO_SEQ = 0;
const LAST_SEQ = Number.MAX_SAFE_INTEGER;
/**
 * The largest conversation in which a full JID's messages are counted (by reading its index
 * entries, about 2 ms for 10,000 on a small server); beyond, the count is left out.
 */
const FULL_JID_COUNT_LIMIT = 10_000;
/** Archives visited per expiry step at most, so that a step stays short on many accounts. */
const ARCHIVES_PER_STEP = 256;
/**
 * Accounts whose archive row (preferences, expiry mark) is kept in memory at most; beyond, the
 * cache starts again. About 200 bytes each.
 */
const CACHED_ACCOUNTS = 100_000;

function stampOf(seq: number): number {
  return Math.floor(seq / 1000);
}

export class SqliteMamStore implements MamStore {
  private readonly ids: ArchiveIds;
  private readonly stmts;
  private readonly pages;
  private readonly commitTx;
  private readonly setPrefsTx;
  private readonly expireTx;
  /** Archive rows by bare JID: read on every message, changed only through this store. */
  private readonly rows = new Map<string, ArchiveRow>();
  /** The archives written to in this turn, by archive number. */
  private readonly heads = new Map<number, ArchiveHead>();
  private pending: PendingRow[] = [];
  private commitScheduled = false;
  private readonly commitAtEndOfTurn = () => {
    this.commitScheduled = false;
    this.commit();
  };

  /** `log` hears of messages that could not be committed (an account deleted meanwhile, a full disk). */
  constructor(
    db: Db,
    private readonly log?: Logger,
  ) {
    db.prepare('INSERT OR IGNORE INTO mam_secret (id, secret) VALUES (1, ?)').run(randomBytes(16));
    const secret = db.prepare<[], Buffer>('SELECT secret FROM mam_secret WHERE id = 1').pluck().get()!;
    this.ids = new ArchiveIds(secret);

    const range = 'archive = ? AND seq BETWEEN ? AND ?';
    const withRange = 'archive = ? AND with_jid = ? AND seq BETWEEN ? AND ?';
    /**
     * The statements of one shape: pages both ways, by offset, and the first and last message
     * of a range. A conversation is read through its index, named: without statistics the
     * planner would walk the whole archive by key and filter.
     */
    const statements = (table: string, pos: string, where: string) => {
      const page = (order: 'ASC' | 'DESC') =>
        db.prepare<unknown[], MessageRow>(
          `SELECT seq, ${pos} AS pos, stanza FROM ${table} WHERE ${where} ORDER BY seq ${order} LIMIT ?`,
        );
      const edge = (order: 'ASC' | 'DESC') =>
        db.prepare<unknown[], PositionRow>(
          `SELECT seq, ${pos} AS pos FROM ${table} WHERE ${where} ORDER BY seq ${order} LIMIT 1`,
        );
      return {
        asc: page('ASC'),
        desc: page('DESC'),
        skip: db.prepare<unknown[], MessageRow>(
          `SELECT seq, ${pos} AS pos, stanza FROM ${table} WHERE ${where} ORDER BY seq LIMIT ? OFFSET ?`,
        ),
        first: edge('ASC'),
        last: edge('DESC'),
      };
    };
    const byWith = 'mam_messages INDEXED BY mam_messages_by_with';
    this.pages = {
      all: statements('mam_messages', 'pos', range),
      bare: statements(byWith, 'with_pos', withRange),
      full: statements(byWith, 'with_pos', `${withRange} AND with_resource = ?`),
    } satisfies Record<Shape, unknown>;

    this.stmts = {
      archive: db.prepare<[string, string], ArchiveRow>(
        'SELECT archive, default_mode, listed, expired_through FROM mam_archives WHERE host = ? AND username = ?',
      ),
      createArchive: db.prepare<[string, string, string, string]>(
        `INSERT INTO mam_archives (host, username)
         SELECT ?, ? WHERE EXISTS (SELECT 1 FROM accounts WHERE host = ? AND username = ?)`,
      ),
      archives: db
        .prepare<[number, number], number>(
          'SELECT archive FROM mam_archives WHERE archive >= ? ORDER BY archive LIMIT ?',
        )
        .pluck(),
      newest: db.prepare<[number], PositionRow>(
        'SELECT seq, pos FROM mam_messages WHERE archive = ? ORDER BY seq DESC LIMIT 1',
      ),
      newestWith: db
        .prepare<[number, string], number>(
          'SELECT with_pos FROM mam_messages WHERE archive = ? AND with_jid = ? ORDER BY seq DESC LIMIT 1',
        )
        .pluck(),
      insert: db.prepare<[number, number, number, string, string, number, number, string]>(
        `INSERT INTO mam_messages (archive, seq, pos, with_jid, with_resource, with_pos, outgoing, stanza)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      exists: db
        .prepare<[number, number], number>('SELECT 1 FROM mam_messages WHERE archive = ? AND seq = ?')
        .pluck(),
      byKey: db.prepare<[number, number], FullRow>(
        `SELECT seq, pos, stanza, with_jid, with_resource FROM mam_messages WHERE archive = ? AND seq = ?`,
      ),
      countFull: db
        .prepare<[number, string, number, number, string], number>(
          `SELECT COUNT(*) FROM ${byWith} WHERE ${withRange} AND with_resource = ?`,
        )
        .pluck(),
      countAll: db.prepare<[number], number>('SELECT COUNT(*) FROM mam_messages WHERE archive = ?').pluck(),
      oldest: db
        .prepare<[number], number>('SELECT seq FROM mam_messages WHERE archive = ? ORDER BY seq LIMIT 1')
        .pluck(),
      // The newest of the `n` oldest messages below a bound: where a bounded delete stops.
      expiryBound: db
        .prepare<[number, number, number], number>(
          'SELECT seq FROM mam_messages WHERE archive = ? AND seq < ? ORDER BY seq LIMIT 1 OFFSET ?',
        )
        .pluck(),
      deleteThrough: db.prepare<[number, number]>('DELETE FROM mam_messages WHERE archive = ? AND seq <= ?'),
      markExpired: db.prepare<[number, number]>(
        'UPDATE mam_archives SET expired_through = max(expired_through, ?) WHERE archive = ?',
      ),
      listings: db.prepare<[number, string, string], { jid: string; always: number }>(
        'SELECT jid, always FROM mam_pref_jids WHERE archive = ? AND jid IN (?, ?)',
      ),
      prefJids: db.prepare<[number], { jid: string; always: number }>(
        'SELECT jid, always FROM mam_pref_jids WHERE archive = ? ORDER BY jid',
      ),
      clearPrefJids: db.prepare<[number]>('DELETE FROM mam_pref_jids WHERE archive = ?'),
      insertPrefJid: db.prepare<[number, string, number]>(
        'INSERT OR REPLACE INTO mam_pref_jids (archive, jid, always) VALUES (?, ?, ?)',
      ),
      updatePrefs: db.prepare<[string | null, number, number]>(
        'UPDATE mam_archives SET default_mode = ?, listed = ? WHERE archive = ?',
      ),
    };

    // A row that fails (its archive deleted since: an account removed from the command line)
    // costs only itself; a failing commit (a full disk) costs the batch.
    this.commitTx = db.transaction((rows: readonly PendingRow[]): number => {
      let failed = 0;
      for (const row of rows) {
        try {
          this.stmts.insert.run(...row);
        } catch (error) {
          if (failed++ === 0) this.log?.error('an archived message could not be stored', { error });
        }
      }
      return failed;
    });

    this.setPrefsTx = db.transaction((account: JID, prefs: ArchivePrefs): boolean => {
      const archive = this.archiveOf(account, true);
      if (!archive) return false;
      this.stmts.clearPrefJids.run(archive.archive);
      for (const jid of prefs.always) this.stmts.insertPrefJid.run(archive.archive, jid, 1);
      // A JID in both lists is never archived: the safer reading of a contradiction.
      for (const jid of prefs.never) this.stmts.insertPrefJid.run(archive.archive, jid, 0);
      const listed = prefs.always.length + prefs.never.length > 0 ? 1 : 0;
      this.stmts.updatePrefs.run(prefs.default ?? null, listed, archive.archive);
      return true;
    });

    this.expireTx = db.transaction((cutoffSeq: number, maxRows: number, cursor: number): ExpiryStep => {
      let deleted = 0;
      const archives = this.stmts.archives.all(cursor, ARCHIVES_PER_STEP);
      for (const archive of archives) {
        const oldest = this.stmts.oldest.get(archive);
        if (oldest === undefined || oldest >= cutoffSeq) continue;
        const room = maxRows - deleted;
        // Oldest first, so that the archive never gets a hole (XEP-0313 §3.2) and positions
        // stay contiguous.
        const bound = this.stmts.expiryBound.get(archive, cutoffSeq, room - 1) ?? cutoffSeq - 1;
        deleted += this.stmts.deleteThrough.run(archive, bound).changes;
        this.stmts.markExpired.run(bound, archive);
        if (deleted >= maxRows) return { deleted, cursor: archive };
      }
      const last = archives.at(-1);
      return {
        deleted,
        cursor: archives.length < ARCHIVES_PER_STEP || last === undefined ? undefined : last + 1,
      };
    });
  }

  async append(account: JID, message: NewMessage): Promise<string | undefined> {
    return this.add(account, message);
  }

  async appendMany(account: JID, messages: readonly NewMessage[]): Promise<string[]> {
    const out: string[] = [];
    for (const m of messages) {
      const id = this.add(account, m);
      if (id === undefined) break;
      out.push(id);
    }
    this.commit();
    return out;
  }

  /**
   * Commits the messages archived since the last commit. Runs by itself at the end of the turn;
   * call it before closing the database.
   */
  commit(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.heads.clear();
    try {
      // An archive deleted behind our back (deluser from the command line): the cached row
      // goes, so that the account's next message finds out afresh whether it still exists.
      if (this.commitTx.immediate(rows) > 0) this.rows.clear();
    } catch (error) {
      this.rows.clear();
      this.log?.error('archived messages could not be stored', { messages: rows.length, error });
    }
  }

  /** Forgets what is cached of an account (its archive is gone with it). */
  forget(account: JID): void {
    this.commit();
    this.rows.delete(account.bare);
  }

  /** Gives a message its place and id in the archive; it is committed at the end of the turn. */
  private add(account: JID, message: NewMessage): string | undefined {
    const row = this.archiveOf(account, true);
    if (!row) return undefined;
    const archive = row.archive;
    let head = this.heads.get(archive);
    if (!head) {
      const newest = this.stmts.newest.get(archive);
      head = {
        seq: Math.max(newest?.seq ?? NO_SEQ, row.expired_through),
        pos: newest?.pos ?? 0,
        withPos: new Map(),
      };
      this.heads.set(archive, head);
    }
    // Strictly increasing per archive, and close to the real time: clocks can step back.
    const seq = Math.max(Math.floor(message.at ?? Date.now()) * 1000, head.seq + 1);
    head.seq = seq;
    const contact = message.with.bare;
    const withPos = (head.withPos.get(contact) ?? this.stmts.newestWith.get(archive, contact) ?? 0) + 1;
    head.withPos.set(contact, withPos);
    this.pending.push([
      archive,
      seq,
      ++head.pos,
      contact,
      message.with.resource,
      withPos,
      message.outgoing ? 1 : 0,
      message.stanza,
    ]);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      beforeOutput(this.commitAtEndOfTurn);
    }
    return this.ids.encode(archive, seq);
  }

  async query(account: JID, query: PageQuery): Promise<ArchivePage> {
    this.commit();
    const archive = this.stmts.archive.get(account.domain, account.local)?.archive;
    const { filter, page, max } = query;
    if (archive === undefined) {
      // An empty archive: every id names nothing.
      const paged = page.from === 'index' ? undefined : (page.after ?? page.before);
      const id = filter.afterId ?? filter.beforeId ?? filter.ids?.[0] ?? paged;
      if (id !== undefined) throw new UnknownArchiveId(id);
      return { messages: [], firstIndex: undefined, count: 0, complete: true };
    }
    let lo = filter.start === undefined ? NO_SEQ : filter.start * 1000;
    // 'end' is inclusive at the millisecond the stamps show.
    let hi = filter.end === undefined ? LAST_SEQ : filter.end * 1000 + 999;
    if (filter.afterId !== undefined) lo = Math.max(lo, this.seqOf(archive, filter.afterId) + 1);
    if (filter.beforeId !== undefined) hi = Math.min(hi, this.seqOf(archive, filter.beforeId) - 1);
    if (filter.ids !== undefined) return this.queryIds(archive, filter, lo, hi, page, max);

    const w = filter.with;
    const shape: Shape = w === undefined ? 'all' : w.resource === '' ? 'bare' : 'full';
    const stmts = this.pages[shape];
    // The bind parameters of a range, in the order the statements take them.
    const args = (from: number, to: number): unknown[] =>
      shape === 'all'
        ? [archive, from, to]
        : shape === 'bare'
          ? [archive, w!.bare, from, to]
          : [archive, w!.bare, from, to, w!.resource];

    let pageLo = lo;
    let pageHi = hi;
    if (page.from !== 'index') {
      if (page.after !== undefined) pageLo = Math.max(pageLo, this.seqOf(archive, page.after) + 1);
      if (page.before !== undefined) pageHi = Math.min(pageHi, this.seqOf(archive, page.before) - 1);
    }
    // One more than asked for tells whether the page is the last one.
    let rows =
      page.from === 'end'
        ? stmts.desc.all(...args(pageLo, pageHi), max + 1)
        : page.from === 'index'
          ? stmts.skip.all(...args(pageLo, pageHi), max + 1, page.index)
          : stmts.asc.all(...args(pageLo, pageHi), max + 1);
    const complete = rows.length <= max;
    if (!complete) rows = rows.slice(0, max);
    if (page.from === 'end') rows.reverse();

    let count: number | undefined = 0;
    let firstIndex: number | undefined;
    const first = stmts.first.get(...args(lo, hi));
    if (first !== undefined) {
      if (shape === 'full') {
        // Positions count the whole conversation; one resource of it is counted in the index,
        // when the conversation is small enough for that to be cheap (XEP-0059 §2.1 lets a
        // costly count be left out).
        const whole =
          this.pages.bare.last.get(archive, w!.bare, lo, hi)!.pos -
          this.pages.bare.first.get(archive, w!.bare, lo, hi)!.pos +
          1;
        if (whole <= FULL_JID_COUNT_LIMIT) {
          count = this.stmts.countFull.get(archive, w!.bare, lo, hi, w!.resource)!;
          if (rows.length > 0)
            firstIndex = this.stmts.countFull.get(archive, w!.bare, lo, rows[0]!.seq - 1, w!.resource)!;
        } else {
          count = undefined;
        }
      } else {
        count = stmts.last.get(...args(lo, hi))!.pos - first.pos + 1;
        if (rows.length > 0) firstIndex = rows[0]!.pos - first.pos;
      }
    }
    return { messages: rows.map((r) => this.message(archive, r)), firstIndex, count, complete };
  }

  /** XEP-0313 §4.1.3 'ids': the listed messages that also pass the rest of the filter. */
  private queryIds(
    archive: number,
    filter: ArchiveFilter,
    lo: number,
    hi: number,
    page: PageRequest,
    max: number,
  ): ArchivePage {
    const w = filter.with;
    const seen = new Set<number>();
    let selected: FullRow[] = [];
    for (const id of filter.ids!) {
      const row = this.rowOf(archive, id);
      if (seen.has(row.seq) || row.seq < lo || row.seq > hi) continue;
      if (
        w !== undefined &&
        (row.with_jid !== w.bare || (w.resource !== '' && row.with_resource !== w.resource))
      )
        continue;
      seen.add(row.seq);
      selected.push(row);
    }
    selected.sort((a, b) => a.seq - b.seq);
    const count = selected.length;
    let offset = 0;
    if (page.from === 'index') {
      offset = Math.min(page.index, count);
    } else {
      if (page.after !== undefined) {
        const after = this.seqOf(archive, page.after);
        offset = selected.findIndex((r) => r.seq > after);
        if (offset < 0) offset = count;
      }
      if (page.before !== undefined) {
        const before = this.seqOf(archive, page.before);
        const end = selected.findIndex((r) => r.seq >= before);
        if (end >= 0) selected = selected.slice(0, end);
      }
    }
    const available = selected.length - offset;
    const fromEnd = page.from === 'end';
    const start = fromEnd ? Math.max(offset, selected.length - max) : offset;
    const rows = selected.slice(start, start + max);
    return {
      messages: rows.map((r) => this.message(archive, r)),
      firstIndex: rows.length > 0 ? start : undefined,
      count,
      complete: available <= max,
    };
  }

  async ends(account: JID): Promise<ArchiveEnds | undefined> {
    this.commit();
    const archive = this.stmts.archive.get(account.domain, account.local)?.archive;
    if (archive === undefined) return undefined;
    const first = this.pages.all.first.get(archive, NO_SEQ, LAST_SEQ);
    const last = this.pages.all.last.get(archive, NO_SEQ, LAST_SEQ);
    if (!first || !last) return undefined;
    return {
      first: { id: this.ids.encode(archive, first.seq), stamp: stampOf(first.seq) },
      last: { id: this.ids.encode(archive, last.seq), stamp: stampOf(last.seq) },
    };
  }

  async count(account: JID): Promise<number> {
    this.commit();
    const archive = this.stmts.archive.get(account.domain, account.local)?.archive;
    return archive === undefined ? 0 : this.stmts.countAll.get(archive)!;
  }

  async ruleFor(account: JID, contact: JID): Promise<ContactRule> {
    const row = this.archiveOf(account, false);
    if (!row) return { default: undefined, listing: undefined };
    const mode = isDefaultMode(row.default_mode ?? undefined) ? (row.default_mode as DefaultMode) : undefined;
    if (row.listed === 0) return { default: mode, listing: undefined };
    const entries = new Map<string, boolean>();
    for (const e of this.stmts.listings.all(row.archive, contact.bare, contact.full))
      entries.set(e.jid, e.always === 1);
    return { default: mode, listing: listingOf(contact, entries) };
  }

  async getPrefs(account: JID): Promise<ArchivePrefs> {
    const row = this.stmts.archive.get(account.domain, account.local);
    const prefs: ArchivePrefs = { default: undefined, always: [], never: [] };
    if (!row) return prefs;
    if (isDefaultMode(row.default_mode ?? undefined)) prefs.default = row.default_mode as DefaultMode;
    for (const e of this.stmts.prefJids.all(row.archive))
      (e.always === 1 ? prefs.always : prefs.never).push(e.jid);
    return prefs;
  }

  async setPrefs(account: JID, prefs: ArchivePrefs): Promise<boolean> {
    const done = this.setPrefsTx.immediate(account, prefs);
    this.rows.delete(account.bare);
    return done;
  }

  async expire(before: number, maxRows: number, cursor: number): Promise<ExpiryStep> {
    this.commit();
    // Expiry marks move: the next message reads them afresh.
    this.rows.clear();
    return this.expireTx.immediate(Math.floor(before) * 1000, maxRows, cursor);
  }

  /** The account's archive row, from the cache or the database; created on demand. */
  private archiveOf(account: JID, create: boolean): ArchiveRow | undefined {
    const cached = this.rows.get(account.bare);
    if (cached) return cached;
    const { domain, local } = account;
    let row = this.stmts.archive.get(domain, local);
    // Only for an existing account: a message for a missing one is bounced, not archived.
    if (!row && create && this.stmts.createArchive.run(domain, local, domain, local).changes > 0)
      row = this.stmts.archive.get(domain, local);
    if (!row) return undefined;
    if (this.rows.size >= CACHED_ACCOUNTS) this.rows.clear();
    this.rows.set(account.bare, row);
    return row;
  }

  /** The seq an id stands for in this archive; throws UnknownArchiveId when it names no message. */
  private seqOf(archive: number, id: string): number {
    const key = this.ids.decode(id);
    if (key === undefined || key.archive !== archive || this.stmts.exists.get(archive, key.seq) === undefined)
      throw new UnknownArchiveId(id);
    return key.seq;
  }

  private rowOf(archive: number, id: string): FullRow {
    const key = this.ids.decode(id);
    const row =
      key !== undefined && key.archive === archive ? this.stmts.byKey.get(archive, key.seq) : undefined;
    if (!row) throw new UnknownArchiveId(id);
    return row;
  }

  private message(archive: number, row: MessageRow): ArchivedMessage {
    return { id: this.ids.encode(archive, row.seq), stamp: stampOf(row.seq), stanza: row.stanza };
  }
}
