// The PEP store against an in-memory SQLite: items oldest first and trimmed to the node's
// capacity (XEP-0060 §7.1.2 "node is full": the oldest go), republication making an item the
// newest, publish-options decided inside the transaction (a refusal stores nothing), the
// per-account limits, all-or-nothing retraction (§12.12), subscriptions, affiliations, and
// what goes with a node or an account.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { jid } from '../../src/jid.js';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { DEFAULT_CONFIG, effectiveMaxItems, type NodeConfig } from './config.js';
import { PEP_MIGRATIONS, SqliteCapsStore, SqlitePepStore, type StoreLimits } from './store.js';

const alice = jid('alice', 'x');
const bob = jid('bob', 'x');
const LIMITS: StoreLimits = { maxNodes: 3, quota: 1000, capacity: (c) => effectiveMaxItems(c, 5) };
const item = (id: string, text = id) => ({
  id,
  publisher: 'alice@x/phone',
  xml: `<p xmlns="urn:p">${text}</p>`,
});
const keep = (existing: NodeConfig | undefined) => existing ?? DEFAULT_CONFIG;
const withMax = (maxItems: NodeConfig['maxItems']) => () => ({ ...DEFAULT_CONFIG, maxItems });

describe('PEP store', () => {
  let db: Db;
  let store: SqlitePepStore;

  beforeEach(() => {
    db = openDatabase(':memory:');
    migrate(db, PEP_MIGRATIONS);
    const add = db.prepare('INSERT INTO accounts (host, username, created_at) VALUES (?, ?, 0)');
    add.run('x', 'alice');
    add.run('x', 'bob');
    store = new SqlitePepStore(db);
  });
  afterEach(() => db.close());

  const ids = async (node: string, query?: { ids?: string[]; max?: number }) =>
    (await store.items(alice, node, query)).map((i) => i.id);

  it('creates the node on first publish with the planned configuration', async () => {
    const outcome = await store.publish(alice, 'n', item('a'), withMax(3), LIMITS);
    expect(outcome).to.deep.equal({
      ok: true,
      created: true,
      config: { ...DEFAULT_CONFIG, maxItems: 3 },
      trimmed: [],
    });
    expect(await store.node(alice, 'n')).to.deep.equal({ ...DEFAULT_CONFIG, maxItems: 3 });
    const again = await store.publish(alice, 'n', item('b'), keep, LIMITS);
    expect(again).to.deep.include({ ok: true, created: false });
  });

  it('keeps the most recent items up to the capacity, oldest first', async () => {
    await store.publish(alice, 'n', item('a'), withMax(2), LIMITS);
    await store.publish(alice, 'n', item('b'), keep, LIMITS);
    const third = await store.publish(alice, 'n', item('c'), keep, LIMITS);
    expect(third).to.deep.include({ trimmed: ['a'] });
    expect(await ids('n')).to.deep.equal(['b', 'c']);
    // Republishing makes an item the newest, replacing its payload.
    await store.publish(alice, 'n', item('b', 'again'), keep, LIMITS);
    expect(await ids('n')).to.deep.equal(['c', 'b']);
    expect((await store.items(alice, 'n', { ids: ['b'] }))[0]!.xml).to.equal('<p xmlns="urn:p">again</p>');
  });

  it("caps 'max' at the server's limit", async () => {
    await store.publish(alice, 'n', item('0'), withMax('max'), LIMITS);
    for (const id of ['1', '2', '3', '4', '5', '6']) await store.publish(alice, 'n', item(id), keep, LIMITS);
    expect(await ids('n')).to.deep.equal(['2', '3', '4', '5', '6']);
  });

  it('answers by ids (in publication order, unknown ones left out) and the most recent', async () => {
    await store.publish(alice, 'n', item('a'), withMax(5), LIMITS);
    for (const id of ['b', 'c', 'd']) await store.publish(alice, 'n', item(id), keep, LIMITS);
    expect(await ids('n', { ids: ['d', 'nope', 'b', 'b'] })).to.deep.equal(['b', 'd']);
    expect(await ids('n', { max: 2 })).to.deep.equal(['c', 'd']);
    expect(await ids('n', { max: 10 })).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('stores nothing when the plan refuses', async () => {
    const refuse = () => {
      throw new StanzaError('conflict');
    };
    let thrown: unknown;
    try {
      await store.publish(alice, 'n', item('a'), refuse, LIMITS);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(StanzaError);
    expect(await store.node(alice, 'n')).to.equal(undefined);
  });

  it('refuses a node beyond the account’s limit, and items beyond its quota', async () => {
    for (const node of ['n1', 'n2', 'n3']) await store.publish(alice, node, item('a'), keep, LIMITS);
    expect(await store.publish(alice, 'n4', item('a'), keep, LIMITS)).to.deep.equal({
      ok: false,
      reason: 'too-many-nodes',
    });
    expect(await store.create(alice, 'n4', DEFAULT_CONFIG, LIMITS)).to.equal('too-many-nodes');
    expect(await store.create(alice, 'n1', DEFAULT_CONFIG, LIMITS)).to.equal('exists');
    const big = { id: 'big', publisher: 'alice@x', xml: `<p xmlns="urn:p">${'x'.repeat(1000)}</p>` };
    expect(await store.publish(alice, 'n1', big, keep, LIMITS)).to.deep.equal({ ok: false, reason: 'quota' });
    // Another account is not affected.
    expect(await store.publish(bob, 'n4', item('a'), keep, LIMITS)).to.deep.include({ ok: true });
  });

  it('retracts all the items or none', async () => {
    await store.publish(alice, 'n', item('a'), withMax(5), LIMITS);
    await store.publish(alice, 'n', item('b'), keep, LIMITS);
    expect(await store.retract(alice, 'n', ['a', 'zz'])).to.equal(undefined);
    expect(await ids('n')).to.deep.equal(['a', 'b']);
    expect(await store.retract(alice, 'n', ['a', 'a'])).to.deep.equal(['a']);
    expect(await ids('n')).to.deep.equal(['b']);
  });

  it('trims when a new configuration keeps fewer items', async () => {
    await store.publish(alice, 'n', item('a'), withMax(5), LIMITS);
    for (const id of ['b', 'c']) await store.publish(alice, 'n', item(id), keep, LIMITS);
    const outcome = await store.configure(alice, 'n', (c) => ({ ...c, maxItems: 1 }), LIMITS);
    expect(outcome).to.deep.equal({ config: { ...DEFAULT_CONFIG, maxItems: 1 }, trimmed: ['a', 'b'] });
    expect(await store.configure(alice, 'none', (c) => c, LIMITS)).to.equal(undefined);
  });

  it('keeps subscriptions per node, found by bare JID', async () => {
    await store.publish(alice, 'n', item('a'), keep, LIMITS);
    await store.publish(alice, 'm', item('a'), keep, LIMITS);
    await store.subscribe(alice, 'n', 'bob@x');
    await store.subscribe(alice, 'n', 'bob@x/phone');
    await store.subscribe(alice, 'n', 'bob@x/phone');
    await store.subscribe(alice, 'm', 'bobby@x');
    await store.subscribe(alice, 'm', 'bob@x.org/pc');
    expect(await store.subscribers(alice, 'n')).to.deep.equal(['bob@x', 'bob@x/phone']);
    expect(await store.subscriptionsOf(alice, 'bob@x')).to.deep.equal([
      { node: 'n', jid: 'bob@x' },
      { node: 'n', jid: 'bob@x/phone' },
    ]);
    expect(await store.unsubscribe(alice, 'n', 'bob@x')).to.equal(true);
    expect(await store.unsubscribe(alice, 'n', 'bob@x')).to.equal(false);
  });

  it('keeps affiliations, and removes them with "none"', async () => {
    await store.publish(alice, 'n', item('a'), keep, LIMITS);
    await store.setAffiliations(alice, 'n', [
      ['bob@x', 'member'],
      ['eve@x', 'outcast'],
    ]);
    expect(await store.affiliations(alice, 'n')).to.deep.equal(
      new Map([
        ['bob@x', 'member'],
        ['eve@x', 'outcast'],
      ]),
    );
    expect(await store.affiliationsOf(alice, 'bob@x')).to.deep.equal(new Map([['n', 'member']]));
    await store.setAffiliations(alice, 'n', [['bob@x', undefined]]);
    expect(await store.affiliations(alice, 'n')).to.deep.equal(new Map([['eve@x', 'outcast']]));
  });

  it('deletes a node with its items, subscriptions and affiliations', async () => {
    await store.publish(alice, 'n', item('a'), keep, LIMITS);
    await store.subscribe(alice, 'n', 'bob@x');
    await store.setAffiliations(alice, 'n', [['bob@x', 'member']]);
    expect(await store.delete(alice, 'n')).to.deep.equal(['bob@x']);
    expect(await store.delete(alice, 'n')).to.equal(undefined);
    const count = (table: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect([count('pep_items'), count('pep_subscriptions'), count('pep_affiliations')]).to.deep.equal([
      0, 0, 0,
    ]);
  });

  it('purges the items and keeps the node', async () => {
    await store.publish(alice, 'n', item('a'), keep, LIMITS);
    expect(await store.purge(alice, 'n')).to.equal(true);
    expect(await ids('n')).to.deep.equal([]);
    expect(await store.node(alice, 'n')).to.deep.equal(DEFAULT_CONFIG);
    expect(await store.purge(alice, 'none')).to.equal(false);
  });

  it('goes with the account', async () => {
    await store.publish(alice, 'n', item('a'), keep, LIMITS);
    db.prepare("DELETE FROM accounts WHERE host = 'x' AND username = 'alice'").run();
    expect(await store.nodes(alice)).to.deep.equal([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM pep_items').get() as { n: number }).n).to.equal(0);
  });

  it('keeps verified caps', async () => {
    const caps = new SqliteCapsStore(db);
    expect(await caps.get('sha-1 v')).to.equal(undefined);
    await caps.put('sha-1 v', ['a', 'b']);
    await caps.put('sha-1 v', ['c']);
    expect(await caps.get('sha-1 v')).to.deep.equal(['a', 'b']);
  });
});
