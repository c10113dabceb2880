// XEP-0313 §3.4.2 (MUC archives) in SQLite: every room with muc#roomconfig_enablearchiving on
// keeps its groupchat messages, each once (§5.2.2 "MUST store each message only once"), with the
// nickname and real JID of their sender beside the stanza, so that a query can filter by
// either without parsing a stanza.
//
// Writes are off the hot path: a message gets its archive id (and so its XEP-0359 stanza-id)
// at once, from a sequence kept in memory, and its row is queued; the queue is written in one
// transaction per turn of the event loop, in a `beforeOutput` task (src/core/end-of-turn.ts),
// so it is on disk before any stanza that shows its id leaves the server. A query writes the
// queue first, so that it sees every message already broadcast.
//
// Unlike the other stores, this one answers synchronously: a message needs its id before the
// fan-out, which does not wait, and the writes belong to the end of the turn. A networked
// backend would do the same: ids from memory, rows written in batches.
//
// Layout as in the user archive (xeps/0313-mam/store.ts): (archive, seq) WITHOUT ROWID, seq
// the archive time in microseconds, strictly increasing per archive; ids are that key
// encrypted (archive-ids.ts of the user archive, with a secret of the MUC service's own).

import { randomBytes } from 'node:crypto';
import { beforeOutput } from '../../src/core/end-of-turn.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Db } from '../../src/storage/db.js';
import { ArchiveIds } from '../0313-mam/archive-ids.js';
import type { PageRequest } from '../0313-mam/rsm.js';

/** An id in a query or a moderation request that names no message of the room's archive. */
export class UnknownRoomArchiveId extends Error {
  override name = 'UnknownRoomArchiveId';
  constructor(readonly id: string) {
    super(`no message with id ${id} in the room's archive`);
  }
}

/** Which messages of a room's archive a query selects, before paging. */
export interface RoomArchiveFilter {
  /** Messages sent under this nickname (`with` = room@service/nick). */
  nick?: string;
  /** Messages sent by this real bare JID (only for those who may see real JIDs). */
  realBare?: string;
  /** Inclusive bounds on the archive time, in ms since the epoch. */
  start?: number;
  end?: number;
  /** Exclusive bounds by archive id. */
  afterId?: string;
  beforeId?: string;
  ids?: readonly string[];
}

export interface RoomArchivedMessage {
  id: string;
  /** The archive time in ms (the <delay/> of a result). */
  stamp: number;
  /** The message as broadcast, without `to`. */
  stanza: string;
  nick: string;
  /** The sender's real full JID, and its bare JID. */
  real: string;
  realBare: string;
}

/** A page of results; the shape xeps/0313-mam/results.ts finElement reads. */
export interface RoomArchivePage {
  messages: RoomArchivedMessage[];
  firstIndex: number | undefined;
  count: number;
  complete: boolean;
}

/** Where a room's archive writes next. */
interface Handle {
  readonly archive: number;
  lastSeq: number;
}

/** A message's place in a room's archive, reserved before it is broadcast. */
export interface ArchiveSlot {
  readonly archive: number;
  readonly seq: number;
  /** The id clients see (the stanza-id). */
  readonly id: string;
  /** ms since the epoch. */
  readonly stamp: number;
}

type Write =
  | {
      kind: 'append';
      slot: ArchiveSlot;
      nick: string;
      real: JID;
      stanza: string;
    }
  | { kind: 'replace'; archive: number; seq: number; stanza: string };

interface Row {
  seq: number;
  nick: string;
  real_bare: string;
  real_resource: string;
  stanza: string;
}

const NO_SEQ = 0;
const LAST_SEQ = Number.MAX_SAFE_INTEGER;

/** A secret of the MUC service, made once and kept in the database (archive ids, occupant ids). */
export function serviceSecret(db: Db, name: string, bytes: number): Buffer {
  db.prepare('INSERT OR IGNORE INTO muc_secrets (name, secret) VALUES (?, ?)').run(name, randomBytes(bytes));
  return db.prepare<[string], Buffer>('SELECT secret FROM muc_secrets WHERE name = ?').pluck().get(name)!;
}

export class RoomArchives {
  private readonly ids: ArchiveIds;
  private readonly handles = new Map<string, Handle>();
  private pending: Write[] = [];
  private scheduled = false;
  private readonly stmts;
  private readonly writeTx;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.ids = new ArchiveIds(serviceSecret(db, 'archive-ids', 16));
    this.stmts = {
      archive: db
        .prepare<[string, string], number>('SELECT archive FROM muc_archives WHERE service = ? AND name = ?')
        .pluck(),
      create: db
        .prepare<[string, string], number>(
          'INSERT INTO muc_archives (service, name) VALUES (?, ?) RETURNING archive',
        )
        .pluck(),
      drop: db.prepare<[string, string]>('DELETE FROM muc_archives WHERE service = ? AND name = ?'),
      names: db.prepare<[string], string>('SELECT name FROM muc_archives WHERE service = ?').pluck(),
      newest: db
        .prepare<[number], number>('SELECT max(seq) FROM muc_archive_messages WHERE archive = ?')
        .pluck(),
      insert: db.prepare<[number, number, string, string, string, string]>(
        `INSERT INTO muc_archive_messages (archive, seq, nick, real_bare, real_resource, stanza)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      replace: db.prepare<[string, number, number]>(
        'UPDATE muc_archive_messages SET stanza = ? WHERE archive = ? AND seq = ?',
      ),
      byKey: db.prepare<[number, number], Row>(
        'SELECT seq, nick, real_bare, real_resource, stanza FROM muc_archive_messages WHERE archive = ? AND seq = ?',
      ),
      recent: db.prepare<[number, number], Row>(
        `SELECT seq, nick, real_bare, real_resource, stanza FROM muc_archive_messages
         WHERE archive = ? ORDER BY seq DESC LIMIT ?`,
      ),
      edge: (order: 'ASC' | 'DESC') =>
        db.prepare<[number], { seq: number }>(
          `SELECT seq FROM muc_archive_messages WHERE archive = ? ORDER BY seq ${order} LIMIT 1`,
        ),
    };
    this.writeTx = db.transaction((writes: readonly Write[]) => {
      for (const w of writes) {
        if (w.kind === 'append')
          this.stmts.insert.run(w.slot.archive, w.slot.seq, w.nick, w.real.bare, w.real.resource, w.stanza);
        else this.stmts.replace.run(w.stanza, w.archive, w.seq);
      }
    });
  }

  private key(room: JID): string {
    return `${room.domain}/${room.local}`;
  }

  /** The room's archive, created when `create` (the first message), else undefined if it has none. */
  private handle(room: JID, create: boolean): Handle | undefined {
    const key = this.key(room);
    let handle = this.handles.get(key);
    if (handle !== undefined) return handle;
    let archive = this.stmts.archive.get(room.domain, room.local);
    if (archive === undefined) {
      if (!create) return undefined;
      archive = this.stmts.create.get(room.domain, room.local)!;
    }
    handle = { archive, lastSeq: this.stmts.newest.get(archive) ?? NO_SEQ };
    this.handles.set(key, handle);
    return handle;
  }

  /** Reserves the next place in a room's archive: its id can be shown before the row is written. */
  reserve(room: JID, now: number): ArchiveSlot {
    const handle = this.handle(room, true)!;
    // Strictly increasing per archive, close to the real time: clocks can step back.
    const seq = Math.max(Math.floor(now) * 1000, handle.lastSeq + 1);
    handle.lastSeq = seq;
    return {
      archive: handle.archive,
      seq,
      id: this.ids.encode(handle.archive, seq),
      stamp: Math.floor(seq / 1000),
    };
  }

  /** Queues a reserved message for this turn's write. */
  append(slot: ArchiveSlot, nick: string, real: JID, stanza: string): void {
    this.queue({ kind: 'append', slot, nick, real, stanza });
  }

  /** Queues the replacement of an archived message's stanza (a XEP-0424/0425 tombstone). */
  replace(archive: number, seq: number, stanza: string): void {
    this.queue({ kind: 'replace', archive, seq, stanza });
  }

  private queue(write: Write): void {
    this.pending.push(write);
    if (this.scheduled) return;
    this.scheduled = true;
    beforeOutput(this.endOfTurn);
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes the queue now, in one transaction. A failure is logged: the messages were already sent. */
  flush(): void {
    if (this.pending.length === 0) return;
    const writes = this.pending;
    this.pending = [];
    try {
      this.writeTx.immediate(writes);
    } catch (error) {
      this.log.error('could not write to a room archive; messages lost from it', {
        messages: writes.length,
        error,
      });
    }
  }

  /** Deletes a room's archive (the room is destroyed, or temporary and gone). */
  drop(room: JID): void {
    this.flush();
    this.handles.delete(this.key(room));
    this.stmts.drop.run(room.domain, room.local);
  }

  /**
   * Deletes the archives of a service's rooms that are not in `rooms`: temporary rooms that
   * lived until the server stopped, whose name a new room may take.
   */
  keepOnly(service: string, rooms: ReadonlySet<string>): number {
    this.flush();
    let dropped = 0;
    for (const name of this.stmts.names.all(service)) {
      if (rooms.has(name)) continue;
      this.handles.delete(`${service}/${name}`);
      dropped += this.stmts.drop.run(service, name).changes;
    }
    return dropped;
  }

  /** The newest `count` messages, oldest first (history on entry after a restart). */
  recent(room: JID, count: number): RoomArchivedMessage[] {
    const handle = this.handle(room, false);
    if (handle === undefined || count === 0) return [];
    this.flush();
    return this.stmts.recent
      .all(handle.archive, count)
      .reverse()
      .map((row) => this.message(handle.archive, row));
  }

  /** The message with this id, with its key, or undefined when the room's archive has none. */
  find(room: JID, id: string): (RoomArchivedMessage & { archive: number; seq: number }) | undefined {
    const handle = this.handle(room, false);
    const key = this.ids.decode(id);
    if (handle === undefined || key === undefined || key.archive !== handle.archive) return undefined;
    this.flush();
    const row = this.stmts.byKey.get(key.archive, key.seq);
    return row && { ...this.message(key.archive, row), archive: key.archive, seq: key.seq };
  }

  /** The oldest and newest messages (XEP-0313 §5 metadata), undefined for an empty archive. */
  ends(room: JID): { first: RoomArchivedMessage; last: RoomArchivedMessage } | undefined {
    const handle = this.handle(room, false);
    if (handle === undefined) return undefined;
    this.flush();
    const first = this.stmts.edge('ASC').get(handle.archive);
    const last = this.stmts.edge('DESC').get(handle.archive);
    if (first === undefined || last === undefined) return undefined;
    const row = (seq: number) => this.message(handle.archive, this.stmts.byKey.get(handle.archive, seq)!);
    return { first: row(first.seq), last: row(last.seq) };
  }

  /**
   * One page of a query (XEP-0313 §4 with XEP-0059 paging); throws UnknownRoomArchiveId for an
   * id that names no message of the archive.
   */
  query(room: JID, filter: RoomArchiveFilter, page: PageRequest, max: number): RoomArchivePage {
    const handle = this.handle(room, false);
    const named = [
      filter.afterId,
      filter.beforeId,
      ...(filter.ids ?? []),
      page.from === 'index' ? undefined : page.after,
      page.from === 'end' ? page.before : undefined,
    ].filter((id): id is string => id !== undefined);
    if (handle === undefined) {
      if (named.length > 0) throw new UnknownRoomArchiveId(named[0]!);
      return { messages: [], firstIndex: undefined, count: 0, complete: true };
    }
    this.flush();
    const archive = handle.archive;
    const seqOf = (id: string): number => {
      const key = this.ids.decode(id);
      if (
        key === undefined ||
        key.archive !== archive ||
        this.stmts.byKey.get(archive, key.seq) === undefined
      )
        throw new UnknownRoomArchiveId(id);
      return key.seq;
    };
    let lo = filter.start === undefined ? NO_SEQ : filter.start * 1000;
    // 'end' is inclusive at the millisecond the stamps show.
    let hi = filter.end === undefined ? LAST_SEQ : filter.end * 1000 + 999;
    if (filter.afterId !== undefined) lo = Math.max(lo, seqOf(filter.afterId) + 1);
    if (filter.beforeId !== undefined) hi = Math.min(hi, seqOf(filter.beforeId) - 1);

    const where = ['archive = ?', 'seq BETWEEN ? AND ?'];
    const args: unknown[] = [archive, lo, hi];
    if (filter.nick !== undefined) {
      where.push('nick = ?');
      args.push(filter.nick);
    }
    if (filter.realBare !== undefined) {
      where.push('real_bare = ?');
      args.push(filter.realBare);
    }
    if (filter.ids !== undefined) {
      const seqs = filter.ids.map(seqOf);
      where.push(`seq IN (${seqs.map(() => '?').join(', ')})`);
      args.push(...seqs);
    }
    const selection = where.join(' AND ');
    const count = this.db
      .prepare<unknown[], number>(`SELECT COUNT(*) FROM muc_archive_messages WHERE ${selection}`)
      .pluck()
      .get(...args)!;
    const rows = (extra: string, bound: unknown[], order: 'ASC' | 'DESC', limit: number, offset = 0): Row[] =>
      this.db
        .prepare<unknown[], Row>(
          `SELECT seq, nick, real_bare, real_resource, stanza FROM muc_archive_messages
           WHERE ${selection}${extra} ORDER BY seq ${order} LIMIT ? OFFSET ?`,
        )
        .all(...args, ...bound, limit, offset);

    let found: Row[];
    let complete: boolean;
    if (page.from === 'index') {
      found = rows('', [], 'ASC', max + 1, page.index);
      complete = found.length <= max;
      found = found.slice(0, max);
    } else if (page.from === 'start') {
      const after = page.after === undefined ? [] : [seqOf(page.after)];
      found = rows(after.length ? ' AND seq > ?' : '', after, 'ASC', max + 1);
      complete = found.length <= max;
      found = found.slice(0, max);
    } else {
      const extra: string[] = [];
      const bound: number[] = [];
      if (page.before !== undefined) {
        extra.push(' AND seq < ?');
        bound.push(seqOf(page.before));
      }
      if (page.after !== undefined) {
        extra.push(' AND seq > ?');
        bound.push(seqOf(page.after));
      }
      found = rows(extra.join(''), bound, 'DESC', max + 1);
      complete = found.length <= max;
      found = found.slice(0, max).reverse();
    }
    const first = found[0];
    const firstIndex =
      first === undefined
        ? undefined
        : this.db
            .prepare<unknown[], number>(
              `SELECT COUNT(*) FROM muc_archive_messages WHERE ${selection} AND seq < ?`,
            )
            .pluck()
            .get(...args, first.seq)!;
    return { messages: found.map((row) => this.message(archive, row)), firstIndex, count, complete };
  }

  private message(archive: number, row: Row): RoomArchivedMessage {
    return {
      id: this.ids.encode(archive, row.seq),
      stamp: Math.floor(row.seq / 1000),
      stanza: row.stanza,
      nick: row.nick,
      real: row.real_resource === '' ? row.real_bare : `${row.real_bare}/${row.real_resource}`,
      realBare: row.real_bare,
    };
  }
}
