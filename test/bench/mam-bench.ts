// The message archive (XEP-0313) on a large archive: fills one account's archive with a
// million messages (by default) through the archive store, plus smaller archives of other
// accounts, then times the queries a phone makes when it catches up. One JSON line per
// figure on stdout; progress on stderr. Not part of `npm test`.
//
//   npm run build && node dist/test/bench/mam-bench.js [--messages 1000000] [--runs 300] [--keep]
//
// The archive: messages spread evenly over one year, with 100 contacts of very different
// activity (contact k gets a share proportional to 1/(k+1)), about 350 bytes of stanza each.
// The database is a file in a temporary directory, opened as the server opens it (WAL).
//
// Each figure repeats one query shape `runs` times with varied arguments (after a warm-up) and
// reports the 50th and 99th percentiles, in milliseconds, of:
//   store_ms  the store answering (rows, first index, count, complete);
//   xml_ms    the same plus what the server does with the answer before writing it: parsing
//             each stored stanza and serializing its <result/> message.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type JID, jid } from '../../src/jid.js';
import { openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { parseStored } from '../../src/xml/fragment.js';
import type { ArchiveFilter } from '../../xeps/0313-mam/query.js';
import { resultMessage } from '../../xeps/0313-mam/results.js';
import type { PageRequest } from '../../xeps/0313-mam/rsm.js';
import { MAM_MIGRATIONS, type NewMessage, SqliteMamStore } from '../../xeps/0313-mam/store.js';

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    /** Other accounts, each with `other-messages` messages. */
    others: { type: 'string', default: '99' },
    'other-messages': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '300' },
    page: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
  },
});

const MESSAGES = Number(opts.messages);
const OTHERS = Number(opts.others);
const OTHER_MESSAGES = Number(opts['other-messages']);
const RUNS = Number(opts.runs);
const PAGE = Number(opts.page);
const CONTACTS = 100;
const BATCH = 10_000;
const YEAR_MS = 365 * 86_400_000;
const DAY_MS = 86_400_000;
const DOMAIN = 'localhost';

const date = new Date().toISOString();
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`;

function emit(line: Record<string, unknown>): void {
  process.stdout.write(
    `${JSON.stringify({ bench: 'mam', date, machine, node: process.version, ...line })}\n`,
  );
}

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A small deterministic generator (mulberry32), so that every run builds the same archive. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(313);
const WORDS =
  'the quick brown fox jumps over a lazy dog while we talk about dinner plans and the weather'.split(' ');

function sentence(): string {
  const n = 3 + Math.floor(rand() * 30);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rand() * WORDS.length)]!);
  return words.join(' ');
}

const contacts: JID[] = Array.from({ length: CONTACTS }, (_, k) =>
  jid(`contact${k}`, 'example.net', 'phone'),
);
// Contact k is picked with a weight of 1/(k+1): a few busy conversations and a long tail.
const cumulative: number[] = [];
{
  let sum = 0;
  for (let k = 0; k < CONTACTS; k++) {
    sum += 1 / (k + 1);
    cumulative.push(sum);
  }
  for (let k = 0; k < CONTACTS; k++) cumulative[k]! /= sum;
}
function pickContact(): JID {
  const r = rand();
  let k = 0;
  while (cumulative[k]! < r) k++;
  return contacts[k]!;
}

function message(owner: JID, at: number, n: number): NewMessage {
  const contact = pickContact();
  const outgoing = rand() < 0.5;
  const from = outgoing ? `${owner.bare}/phone` : contact.full;
  const to = outgoing ? contact.bare : owner.bare;
  const id = `m${n.toString(36)}-${Math.floor(rand() * 1e9).toString(36)}`;
  return {
    with: contact,
    outgoing,
    at,
    stanza:
      `<message xmlns="jabber:client" from="${from}" to="${to}" type="chat" id="${id}">` +
      `<body>${sentence()}</body><origin-id xmlns="urn:xmpp:sid:0" id="${id}"/>` +
      '<active xmlns="http://jabber.org/protocol/chatstates"/></message>',
  };
}

async function fill(
  store: SqliteMamStore,
  owner: JID,
  count: number,
  yearStart: number,
  keepIds: boolean,
): Promise<string[]> {
  const ids: string[] = [];
  const step = YEAR_MS / count;
  for (let done = 0; done < count; done += BATCH) {
    const batch: NewMessage[] = [];
    for (let i = done; i < Math.min(count, done + BATCH); i++)
      batch.push(message(owner, yearStart + i * step, i));
    const added = await store.appendMany(owner, batch);
    if (keepIds) for (const id of added) ids.push(id);
  }
  return ids;
}

function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[rank]! * 1000) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'warbler-mam-bench-'));
const file = join(dir, 'bench.sqlite');
const db = openDatabase(file);
migrate(db, MAM_MIGRATIONS);
const store = new SqliteMamStore(db);
const owner = jid('bench', DOMAIN);
const addAccount = db.prepare('INSERT INTO accounts (host, username, created_at) VALUES (?, ?, 0)');
addAccount.run(DOMAIN, owner.local);
for (let i = 0; i < OTHERS; i++) addAccount.run(DOMAIN, `other${i}`);

const yearStart = Date.UTC(2025, 0, 1);
say(`filling ${MESSAGES} messages for ${owner.bare} and ${OTHERS} x ${OTHER_MESSAGES} for others in ${dir}`);
let t = performance.now();
for (let i = 0; i < OTHERS / 2; i++)
  await fill(store, jid(`other${i}`, DOMAIN), OTHER_MESSAGES, yearStart, false);
const ids = await fill(store, owner, MESSAGES, yearStart, true);
const ownerFillS = (performance.now() - t) / 1000;
for (let i = Math.floor(OTHERS / 2); i < OTHERS; i++)
  await fill(store, jid(`other${i}`, DOMAIN), OTHER_MESSAGES, yearStart, false);
const fillS = (performance.now() - t) / 1000;
db.pragma('wal_checkpoint(TRUNCATE)');
const total = MESSAGES + OTHERS * OTHER_MESSAGES;
emit({
  figure: 'fill',
  messages: total,
  seconds: Math.round(fillS * 10) / 10,
  messages_per_s: Math.round(total / fillS),
  db_mib: Math.round(statSync(file).size / 1048576),
});
say(`filled in ${fillS.toFixed(1)} s (${owner.bare}: ${ownerFillS.toFixed(1)} s)`);

interface Shape {
  figure: string;
  what: string;
  make(): { filter: ArchiveFilter; page: PageRequest };
}

const pickId = (from: number, to: number) => ids[from + Math.floor(rand() * (to - from))]!;
const shapes: Shape[] = [
  {
    figure: 'latest_page',
    what: `the newest ${PAGE} messages (RSM <before/>)`,
    make: () => ({ filter: {}, page: { from: 'end' } }),
  },
  {
    figure: 'catch_up',
    what: `the ${PAGE} after an id among the newest 1000 (a phone catching up)`,
    make: () => ({ filter: {}, page: { from: 'start', after: pickId(MESSAGES - 1000, MESSAGES - PAGE) } }),
  },
  {
    figure: 'after_deep_id',
    what: `the ${PAGE} after an id anywhere in the archive`,
    make: () => ({ filter: {}, page: { from: 'start', after: pickId(0, MESSAGES - PAGE) } }),
  },
  {
    figure: 'with_latest_page',
    what: `the newest ${PAGE} with one contact (bare JID, any of the 100)`,
    make: () => ({
      filter: { with: contacts[Math.floor(rand() * CONTACTS)]!.bareJID() },
      page: { from: 'end' },
    }),
  },
  {
    figure: 'with_after_deep_id',
    what: `the ${PAGE} with the busiest contact after an id anywhere in the archive`,
    make: () => ({
      filter: { with: contacts[0]!.bareJID() },
      page: { from: 'start', after: pickId(0, MESSAGES - PAGE) },
    }),
  },
  {
    // A full JID in a conversation of 190,000 messages: the count is left out (store.ts).
    figure: 'with_full_jid_busiest',
    what: `the newest ${PAGE} with the busiest contact's one resource (full JID); no count`,
    make: () => ({ filter: { with: contacts[0]! }, page: { from: 'end' } }),
  },
  {
    figure: 'time_range_day',
    what: `the first ${PAGE} of one day (start/end), with the day's count`,
    make: () => {
      const start = yearStart + Math.floor(rand() * 364) * DAY_MS;
      return { filter: { start, end: start + DAY_MS - 1 }, page: { from: 'start' } };
    },
  },
  {
    figure: 'time_range_month_last_page',
    what: `the last ${PAGE} of a 30-day range, with its count`,
    make: () => {
      const start = yearStart + Math.floor(rand() * 330) * DAY_MS;
      return { filter: { start, end: start + 30 * DAY_MS }, page: { from: 'end' } };
    },
  },
];

const to = `${owner.bare}/phone`;
for (const shape of shapes) {
  const storeTimes = new Float64Array(RUNS);
  const xmlTimes = new Float64Array(RUNS);
  let count = 0;
  let counted = 0;
  let returned = 0;
  for (let i = -Math.min(50, RUNS); i < RUNS; i++) {
    const { filter, page } = shape.make();
    t = performance.now();
    const answer = await store.query(owner, { filter, page, max: PAGE });
    const stored = performance.now() - t;
    let bytes = 0;
    for (const m of answer.messages)
      bytes += resultMessage(to, owner.bare, 'q', m, parseStored(m.stanza)).toString().length;
    const rendered = performance.now() - t;
    if (bytes === 0 && answer.messages.length > 0) throw new Error('nothing rendered');
    if (i < 0) continue;
    storeTimes[i] = stored;
    xmlTimes[i] = rendered;
    if (answer.count !== undefined) {
      count += answer.count;
      counted++;
    }
    returned += answer.messages.length;
  }
  storeTimes.sort();
  xmlTimes.sort();
  emit({
    figure: shape.figure,
    query: shape.what,
    archive_messages: MESSAGES,
    runs: RUNS,
    page: PAGE,
    mean_returned: Math.round((returned / RUNS) * 10) / 10,
    // null: the store left the count out (a full JID in a very large conversation).
    mean_count: counted > 0 ? Math.round(count / counted) : null,
    store_ms_p50: percentile(storeTimes, 50),
    store_ms_p99: percentile(storeTimes, 99),
    xml_ms_p50: percentile(xmlTimes, 50),
    xml_ms_p99: percentile(xmlTimes, 99),
  });
}

// Inserting into the full archive, one message per transaction as the server does.
{
  const n = 2000;
  const times = new Float64Array(n);
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const m = message(owner, now + i, MESSAGES + i);
    t = performance.now();
    await store.append(owner, m);
    times[i] = performance.now() - t;
  }
  times.sort();
  emit({
    figure: 'append_one',
    what: 'archiving one message in its own transaction, into the full archive',
    archive_messages: MESSAGES,
    runs: n,
    ms_p50: percentile(times, 50),
    ms_p99: percentile(times, 99),
  });
}

db.close();
if (opts.keep) say(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
