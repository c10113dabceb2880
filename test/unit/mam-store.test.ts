// The XEP-0313 archive store against a real SQLite database in memory: ids (opaque, never
// reused), pages both ways with XEP-0059 first index, count and completeness, every filter
// of §4.1, preferences (XEP-0441), retention from the oldest end, and account deletion.

import { expect } from 'chai';
import { flushAtEndOfTurn } from '../../src/core/end-of-turn.js';
import { type JID, jid, parseJID } from '../../src/jid.js';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { ArchiveIds } from '../../xeps/0313-mam/archive-ids.js';
import type { ArchiveFilter } from '../../xeps/0313-mam/query.js';
import type { PageRequest } from '../../xeps/0313-mam/rsm.js';
import {
  type ArchivePage,
  MAM_MIGRATIONS,
  type NewMessage,
  SqliteMamStore,
  UnknownArchiveId,
} from '../../xeps/0313-mam/store.js';

const ALICE = jid('alice', 'example.com');
const BOB = jid('bob', 'example.com');
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

function addAccount(db: Db, account: JID): void {
  db.prepare('INSERT INTO accounts (host, username, created_at) VALUES (?, ?, 0)').run(
    account.domain,
    account.local,
  );
}

/** Message n of a test archive: with romeo (even n, from his phone or laptop) or juliet (odd n), a minute apart. */
function message(n: number): NewMessage {
  const contact =
    n % 2 === 0 ? `romeo@montague.lit/${n % 4 === 0 ? 'phone' : 'laptop'}` : 'juliet@capulet.lit';
  return {
    with: parseJID(contact),
    outgoing: n % 3 === 0,
    stanza: `<message xmlns="jabber:client"><body>${n}</body></message>`,
    at: T0 + n * MINUTE,
  };
}

/** The message numbers of a page (each stored body is its number). */
function numbers(page: ArchivePage): number[] {
  return page.messages.map((m) => Number(/<body>(\d+)<\/body>/.exec(m.stanza)![1]));
}

describe('XEP-0313 archive store', () => {
  let db: Db;
  let store: SqliteMamStore;
  /** ids[n] is the id of message n of alice's archive of 10. */
  let ids: string[];

  const query = (filter: ArchiveFilter, page: PageRequest, max: number, account = ALICE) =>
    store.query(account, { filter, page, max });
  const summary = (p: ArchivePage) => ({
    numbers: numbers(p),
    firstIndex: p.firstIndex,
    count: p.count,
    complete: p.complete,
  });

  beforeEach(async () => {
    db = openDatabase(':memory:');
    migrate(db, MAM_MIGRATIONS);
    addAccount(db, ALICE);
    addAccount(db, BOB);
    store = new SqliteMamStore(db);
    ids = await store.appendMany(
      ALICE,
      Array.from({ length: 10 }, (_, n) => message(n)),
    );
  });
  afterEach(() => db.close());

  it('hands out distinct opaque ids and stamps at the archive time', async () => {
    expect(new Set(ids).size).to.equal(10);
    for (const id of ids) expect(id).to.match(/^[A-Za-z0-9_-]{22}$/);
    const page = await query({}, { from: 'start' }, 3);
    expect(page.messages.map((m) => m.id)).to.deep.equal(ids.slice(0, 3));
    expect(page.messages.map((m) => m.stamp)).to.deep.equal([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
  });

  it('keeps archive order strictly increasing when times repeat or step back', async () => {
    const at = T0 + 100 * MINUTE;
    const [a, b, c] = await store.appendMany(ALICE, [
      { ...message(20), at },
      { ...message(21), at },
      { ...message(22), at: at - MINUTE },
    ]);
    const page = await query({}, { from: 'end' }, 3);
    expect(page.messages.map((m) => m.id)).to.deep.equal([a, b, c]);
    // The stamps show the millisecond; the order within it is kept by the archive.
    expect(page.messages.map((m) => m.stamp)).to.deep.equal([at, at, at]);
  });

  describe('writes batched per turn', () => {
    const rowsOnDisk = () => (db.prepare('SELECT COUNT(*) AS n FROM mam_messages').get() as { n: number }).n;

    it('commits a turn’s messages before any output of that turn leaves', async () => {
      const written: number[] = [];
      const a = await store.append(ALICE, message(10));
      const b = await store.append(BOB, message(11));
      const c = await store.append(ALICE, message(12));
      // Given their ids at once (a <stanza-id/> goes out with the message), stored at the turn's end.
      expect([a, b, c].every((id) => id !== undefined)).to.equal(true);
      expect(rowsOnDisk()).to.equal(10);
      await new Promise<void>((resolve) =>
        flushAtEndOfTurn({
          flushOutput: () => {
            written.push(rowsOnDisk());
            resolve();
          },
        }),
      );
      expect(written).to.deep.equal([13]);
      const page = await query({}, { from: 'end' }, 3);
      expect(page.messages.map((m) => m.id)).to.deep.equal([ids[9], a, c]);
      expect(page).to.deep.include({ firstIndex: 9, count: 12, complete: false });
      // Positions in a conversation go on across the pending messages and the stored ones.
      const romeo = await query({ with: parseJID('romeo@montague.lit') }, { from: 'end' }, 1);
      expect(romeo).to.deep.include({ firstIndex: 6, count: 7 });
    });

    it('commits before a read, so the archive never misses what it handed an id for', async () => {
      const id = await store.append(ALICE, message(10));
      const page = await query({ ids: [id!] }, { from: 'start' }, 1);
      expect(numbers(page)).to.deep.equal([10]);
      expect(await store.count(ALICE)).to.equal(11);
    });

    it('loses only the messages of an archive deleted before the commit', async () => {
      await store.append(ALICE, message(10));
      await store.append(BOB, message(11));
      db.prepare("DELETE FROM accounts WHERE username = 'bob'").run();
      store.commit();
      expect(await store.count(ALICE)).to.equal(11);
      expect(rowsOnDisk()).to.equal(11);
      // Nothing stale is left of bob: archived again once he exists again, not before.
      expect(await store.append(BOB, message(12))).to.equal(undefined);
      addAccount(db, BOB);
      expect(await store.append(BOB, message(13))).to.be.a('string');
      expect(await store.count(BOB)).to.equal(1);
    });
  });

  it('does not archive for an account that does not exist', async () => {
    expect(await store.append(jid('nobody', 'example.com'), message(0))).to.equal(undefined);
    expect(await store.count(jid('nobody', 'example.com'))).to.equal(0);
  });

  describe('paging (XEP-0059 with §4.3)', () => {
    // [what, filter, page, max, expected numbers, first index, count, complete]
    const table: Array<
      [string, () => ArchiveFilter, () => PageRequest, number, number[], number | undefined, number, boolean]
    > = [
      ['the first page', () => ({}), () => ({ from: 'start' }), 4, [0, 1, 2, 3], 0, 10, false],
      [
        'everything in one page',
        () => ({}),
        () => ({ from: 'start' }),
        10,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        0,
        10,
        true,
      ],
      [
        'the page after an id',
        () => ({}),
        () => ({ from: 'start', after: ids[3]! }),
        4,
        [4, 5, 6, 7],
        4,
        10,
        false,
      ],
      [
        'the last page forward',
        () => ({}),
        () => ({ from: 'start', after: ids[7]! }),
        4,
        [8, 9],
        8,
        10,
        true,
      ],
      [
        'after the last message',
        () => ({}),
        () => ({ from: 'start', after: ids[9]! }),
        4,
        [],
        undefined,
        10,
        true,
      ],
      ['the last page (empty before)', () => ({}), () => ({ from: 'end' }), 4, [6, 7, 8, 9], 6, 10, false],
      [
        'the page before an id',
        () => ({}),
        () => ({ from: 'end', before: ids[6]! }),
        4,
        [2, 3, 4, 5],
        2,
        10,
        false,
      ],
      [
        'the first page backward',
        () => ({}),
        () => ({ from: 'end', before: ids[2]! }),
        4,
        [0, 1],
        0,
        10,
        true,
      ],
      [
        'before and after together',
        () => ({}),
        () => ({ from: 'end', after: ids[1]!, before: ids[8]! }),
        4,
        [4, 5, 6, 7],
        4,
        10,
        false,
      ],
      ['by index', () => ({}), () => ({ from: 'index', index: 5 }), 3, [5, 6, 7], 5, 10, false],
      [
        'by an index past the end',
        () => ({}),
        () => ({ from: 'index', index: 12 }),
        3,
        [],
        undefined,
        10,
        true,
      ],
      ['the count alone', () => ({}), () => ({ from: 'start' }), 0, [], undefined, 10, false],
      [
        'with a bare JID',
        () => ({ with: parseJID('romeo@montague.lit') }),
        () => ({ from: 'start' }),
        3,
        [0, 2, 4],
        0,
        5,
        false,
      ],
      [
        'with a bare JID, last page',
        () => ({ with: parseJID('romeo@montague.lit') }),
        () => ({ from: 'end' }),
        2,
        [6, 8],
        3,
        5,
        false,
      ],
      [
        'with a bare JID, after an id',
        () => ({ with: parseJID('romeo@montague.lit') }),
        () => ({ from: 'start', after: ids[3]! }),
        2,
        [4, 6],
        2,
        5,
        false,
      ],
      [
        'with a full JID',
        () => ({ with: parseJID('romeo@montague.lit/phone') }),
        () => ({ from: 'start' }),
        2,
        [0, 4],
        0,
        3,
        false,
      ],
      [
        'with a full JID, last page',
        () => ({ with: parseJID('romeo@montague.lit/phone') }),
        () => ({ from: 'end' }),
        2,
        [4, 8],
        1,
        3,
        false,
      ],
      [
        'with a resource never used',
        () => ({ with: parseJID('romeo@montague.lit/car') }),
        () => ({ from: 'start' }),
        2,
        [],
        undefined,
        0,
        true,
      ],
      [
        'with someone else',
        () => ({ with: parseJID('tybalt@capulet.lit') }),
        () => ({ from: 'start' }),
        2,
        [],
        undefined,
        0,
        true,
      ],
      [
        'from start to end',
        () => ({ start: T0 + 2 * MINUTE, end: T0 + 5 * MINUTE }),
        () => ({ from: 'start' }),
        10,
        [2, 3, 4, 5],
        0,
        4,
        true,
      ],
      [
        'start and end inclusive to the millisecond',
        () => ({ start: T0 + 2 * MINUTE + 1, end: T0 + 5 * MINUTE - 1 }),
        () => ({ from: 'start' }),
        10,
        [3, 4],
        0,
        2,
        true,
      ],
      [
        'a time range, last page',
        () => ({ start: T0 + 2 * MINUTE, end: T0 + 7 * MINUTE }),
        () => ({ from: 'end' }),
        2,
        [6, 7],
        4,
        6,
        false,
      ],
      [
        'a time range with a JID',
        () => ({ start: T0 + 3 * MINUTE, with: parseJID('juliet@capulet.lit') }),
        () => ({ from: 'start' }),
        2,
        [3, 5],
        0,
        4,
        false,
      ],
      [
        'a range with nothing in it',
        () => ({ start: T0 + 60 * MINUTE }),
        () => ({ from: 'end' }),
        2,
        [],
        undefined,
        0,
        true,
      ],
      [
        'after-id and before-id',
        () => ({ afterId: ids[2]!, beforeId: ids[7]! }),
        () => ({ from: 'start' }),
        10,
        [3, 4, 5, 6],
        0,
        4,
        true,
      ],
      [
        'after-id, paged with after',
        () => ({ afterId: ids[2]! }),
        () => ({ from: 'start', after: ids[4]! }),
        2,
        [5, 6],
        2,
        7,
        false,
      ],
      [
        'before-id, last page',
        () => ({ beforeId: ids[7]! }),
        () => ({ from: 'end' }),
        2,
        [5, 6],
        5,
        7,
        false,
      ],
      [
        'ids',
        () => ({ ids: [ids[7]!, ids[1]!, ids[4]!] }),
        () => ({ from: 'start' }),
        10,
        [1, 4, 7],
        0,
        3,
        true,
      ],
      [
        'ids with a filter',
        () => ({ ids: [ids[7]!, ids[1]!, ids[4]!], with: parseJID('juliet@capulet.lit') }),
        () => ({ from: 'start' }),
        10,
        [1, 7],
        0,
        2,
        true,
      ],
      [
        'ids, paged',
        () => ({ ids: [ids[7]!, ids[1]!, ids[4]!, ids[5]!] }),
        () => ({ from: 'start', after: ids[1]! }),
        2,
        [4, 5],
        1,
        4,
        false,
      ],
      [
        'ids, last page',
        () => ({ ids: [ids[7]!, ids[1]!, ids[4]!, ids[5]!] }),
        () => ({ from: 'end' }),
        2,
        [5, 7],
        2,
        4,
        false,
      ],
      [
        'ids, by index',
        () => ({ ids: [ids[7]!, ids[1]!, ids[4]!] }),
        () => ({ from: 'index', index: 1 }),
        5,
        [4, 7],
        1,
        3,
        true,
      ],
    ];
    for (const [what, filter, page, max, expected, firstIndex, count, complete] of table) {
      it(what, async () => {
        expect(summary(await query(filter(), page(), max))).to.deep.equal({
          numbers: expected,
          firstIndex,
          count,
          complete,
        });
      });
    }
  });

  it('leaves out the count of a full JID in a very large conversation, and only there', async () => {
    const romeo = parseJID('romeo@montague.lit/phone');
    await store.appendMany(
      ALICE,
      Array.from({ length: 10_000 }, (_, i) => ({ ...message(0), at: T0 + (20 + i) * MINUTE })),
    );
    const full = await query({ with: romeo }, { from: 'end' }, 2);
    expect({ count: full.count, firstIndex: full.firstIndex, complete: full.complete }).to.deep.equal({
      count: undefined,
      firstIndex: undefined,
      complete: false,
    });
    expect(numbers(full)).to.deep.equal([0, 0]);
    const bare = await query({ with: parseJID('romeo@montague.lit') }, { from: 'end' }, 2);
    expect({ count: bare.count, firstIndex: bare.firstIndex }).to.deep.equal({
      count: 10_005,
      firstIndex: 10_003,
    });
    // Within a narrower time range the conversation is small again: counted.
    const recent = await query({ with: romeo, start: T0 + 10_000 * MINUTE }, { from: 'end' }, 2);
    expect({ count: recent.count, firstIndex: recent.firstIndex }).to.deep.equal({
      count: 20,
      firstIndex: 18,
    });
  });

  describe('unknown ids are refused (§4.1.3, §4.3.2)', () => {
    const cases: Array<[string, () => string]> = [
      ['made up', () => 'not-an-archive-id'],
      ['of the right shape but forged', () => 'AAAAAAAAAAAAAAAAAAAAAA'],
      ["from another account's archive", () => bobsId],
      ['from another server', () => new ArchiveIds(Buffer.alloc(16, 7)).encode(1, 1)],
    ];
    let bobsId: string;
    beforeEach(async () => {
      bobsId = (await store.append(BOB, message(0)))!;
    });
    for (const [what, id] of cases) {
      it(what, async () => {
        for (const q of [
          () => query({ afterId: id() }, { from: 'start' }, 5),
          () => query({ beforeId: id() }, { from: 'start' }, 5),
          () => query({ ids: [ids[0]!, id()] }, { from: 'start' }, 5),
          () => query({}, { from: 'start', after: id() }, 5),
          () => query({}, { from: 'end', before: id() }, 5),
        ]) {
          const error = await q().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).to.be.instanceOf(UnknownArchiveId);
        }
      });
    }

    it('in an archive that has never held anything', async () => {
      addAccount(db, jid('carol', 'example.com'));
      const error = await query({}, { from: 'start', after: ids[0]! }, 5, jid('carol', 'example.com')).catch(
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(UnknownArchiveId);
      expect(summary(await query({}, { from: 'end' }, 5, jid('carol', 'example.com')))).to.deep.equal({
        numbers: [],
        firstIndex: undefined,
        count: 0,
        complete: true,
      });
    });
  });

  it('keeps ids when the store is opened again (the secret is in the database)', async () => {
    const again = new SqliteMamStore(db);
    const page = await again.query(ALICE, { filter: { ids: [ids[3]!] }, page: { from: 'start' }, max: 5 });
    expect(numbers(page)).to.deep.equal([3]);
  });

  it('reports the ends of the archive (§5)', async () => {
    expect(await store.ends(ALICE)).to.deep.equal({
      first: { id: ids[0], stamp: T0 },
      last: { id: ids[9], stamp: T0 + 9 * MINUTE },
    });
    expect(await store.ends(BOB)).to.equal(undefined);
  });

  describe('retention', () => {
    it('deletes the oldest messages, in bounded steps, keeping counts and indexes exact', async () => {
      // Older than message 4: 0..3 go, two per step.
      let step = await store.expire(T0 + 4 * MINUTE, 2, 0);
      expect(step.deleted).to.equal(2);
      step = await store.expire(T0 + 4 * MINUTE, 2, step.cursor!);
      expect(step.deleted).to.equal(2);
      step = await store.expire(T0 + 4 * MINUTE, 2, step.cursor ?? 0);
      expect(step).to.deep.equal({ deleted: 0, cursor: undefined });
      expect(await store.count(ALICE)).to.equal(6);
      expect(summary(await query({}, { from: 'end' }, 2))).to.deep.equal({
        numbers: [8, 9],
        firstIndex: 4,
        count: 6,
        complete: false,
      });
      expect(
        summary(await query({ with: parseJID('romeo@montague.lit') }, { from: 'start' }, 2)),
      ).to.deep.equal({
        numbers: [4, 6],
        firstIndex: 0,
        count: 3,
        complete: false,
      });
      const error = await query({}, { from: 'start', after: ids[1]! }, 2).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(UnknownArchiveId);
    });

    it('never reuses an id, even once the archive was emptied', async () => {
      await store.expire(T0 + 60 * MINUTE, 100, 0);
      expect(await store.count(ALICE)).to.equal(0);
      // Archived "at" an earlier time than the deleted ones: it still sorts after them.
      const id = await store.append(ALICE, message(0));
      expect(ids).not.to.include(id);
      expect((await query({}, { from: 'start' }, 5)).messages[0]!.stamp).to.be.greaterThan(T0 + 9 * MINUTE);
    });

    it('leaves other archives and newer messages alone', async () => {
      await store.append(BOB, { ...message(1), at: Date.now() });
      await store.expire(T0 + 5 * MINUTE, 100, 0);
      expect(await store.count(BOB)).to.equal(1);
      expect(await store.count(ALICE)).to.equal(5);
    });
  });

  describe('preferences (XEP-0441)', () => {
    it('are empty, with no default of their own, until set', async () => {
      expect(await store.getPrefs(ALICE)).to.deep.equal({ default: undefined, always: [], never: [] });
      expect(await store.ruleFor(ALICE, BOB)).to.deep.equal({ default: undefined, listing: undefined });
    });

    it('are replaced as a whole; a JID in both lists is never archived', async () => {
      await store.setPrefs(ALICE, {
        default: 'roster',
        always: ['romeo@montague.lit', 'nurse@capulet.lit'],
        never: ['tybalt@capulet.lit', 'nurse@capulet.lit'],
      });
      await store.setPrefs(ALICE, {
        default: 'never',
        always: ['romeo@montague.lit', 'nurse@capulet.lit'],
        never: ['tybalt@capulet.lit', 'nurse@capulet.lit', 'juliet@capulet.lit/balcony'],
      });
      expect(await store.getPrefs(ALICE)).to.deep.equal({
        default: 'never',
        always: ['romeo@montague.lit'],
        never: ['juliet@capulet.lit/balcony', 'nurse@capulet.lit', 'tybalt@capulet.lit'],
      });
    });

    it('answer for one contact, the full JID entry before the bare one', async () => {
      await store.setPrefs(ALICE, {
        default: 'always',
        always: ['juliet@capulet.lit'],
        never: ['juliet@capulet.lit/balcony', 'tybalt@capulet.lit'],
      });
      const rule = async (contact: string) => (await store.ruleFor(ALICE, parseJID(contact))).listing;
      expect(await rule('juliet@capulet.lit')).to.equal('always');
      expect(await rule('juliet@capulet.lit/chamber')).to.equal('always');
      expect(await rule('juliet@capulet.lit/balcony')).to.equal('never');
      expect(await rule('tybalt@capulet.lit/street')).to.equal('never');
      expect(await rule('romeo@montague.lit')).to.equal(undefined);
      expect((await store.ruleFor(ALICE, BOB)).default).to.equal('always');
    });

    it('are refused for an account that does not exist', async () => {
      expect(
        await store.setPrefs(jid('nobody', 'example.com'), { default: 'never', always: [], never: [] }),
      ).to.equal(false);
    });
  });

  it('goes with the account: deleting it deletes the archive and the preferences', async () => {
    await store.setPrefs(ALICE, { default: 'never', always: ['romeo@montague.lit'], never: [] });
    db.prepare('DELETE FROM accounts WHERE host = ? AND username = ?').run(ALICE.domain, ALICE.local);
    const left = (table: string) => db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number };
    expect(left('mam_messages').n).to.equal(0);
    expect(left('mam_pref_jids').n).to.equal(0);
    expect(left('mam_archives').n).to.equal(0);
  });
});
