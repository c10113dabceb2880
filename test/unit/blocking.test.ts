// XEP-0191 Blocking Command: the pure parts — §6 JID matching, the items of a command,
// the presence targets of §3.3/§3.4 — and the in-memory cache over a counting store.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { parseJID } from '../../src/jid.js';
import { x } from '../../src/xml/element.js';
import { Blocklist, parseItems, presenceTargets } from '../../xeps/0191-blocking/blocklist.js';
import { BlocklistCache } from '../../xeps/0191-blocking/cache.js';
import type {
  BlockingAccount,
  BlocklistStore,
  BlockOutcome,
  UnblockOutcome,
} from '../../xeps/0191-blocking/store.js';

describe('XEP-0191 §6 JID matching', () => {
  // [blocklist entry, stanza address, blocked?]
  const table: Array<[string, string, boolean]> = [
    // user@domain/resource: only that resource
    ['romeo@montague.net/orchard', 'romeo@montague.net/orchard', true],
    ['romeo@montague.net/orchard', 'romeo@montague.net/balcony', false],
    ['romeo@montague.net/orchard', 'romeo@montague.net', false],
    ['romeo@montague.net/orchard', 'montague.net', false],
    // user@domain: any resource, and the bare JID
    ['romeo@montague.net', 'romeo@montague.net', true],
    ['romeo@montague.net', 'romeo@montague.net/orchard', true],
    ['romeo@montague.net', 'benvolio@montague.net/street', false],
    ['romeo@montague.net', 'montague.net', false],
    ['romeo@montague.net', 'romeo@capulet.com', false],
    // domain/resource: only that resource of the domain itself
    ['montague.net/bot', 'montague.net/bot', true],
    ['montague.net/bot', 'montague.net/other', false],
    ['montague.net/bot', 'montague.net', false],
    ['montague.net/bot', 'romeo@montague.net/bot', false],
    // domain: the domain, its resources, its users and their resources
    ['montague.net', 'montague.net', true],
    ['montague.net', 'montague.net/bot', true],
    ['montague.net', 'romeo@montague.net', true],
    ['montague.net', 'romeo@montague.net/orchard', true],
    ['montague.net', 'romeo@sub.montague.net', false],
    ['montague.net', 'sub.montague.net', false],
    ['montague.net', 'montague.net.evil', false],
  ];
  for (const [entry, address, blocked] of table) {
    it(`${entry} ${blocked ? 'blocks' : 'does not block'} ${address}`, () => {
      expect(new Blocklist([entry]).blocks(parseJID(address))).to.equal(blocked);
    });
  }

  it('blocks nothing when empty', () => {
    const empty = new Blocklist([]);
    expect(empty.size).to.equal(0);
    expect(empty.blocks(parseJID('romeo@montague.net/orchard'))).to.equal(false);
  });
});

describe('XEP-0191 command items', () => {
  const command = (...jids: Array<string | undefined>) =>
    x(
      'block',
      { xmlns: 'urn:xmpp:blocking' },
      jids.map((jid) => x('item', { jid })),
    );

  it('prepares the JIDs and drops repeats, keeping request order', () => {
    const jids = parseItems(
      command('Romeo@Montague.NET/Orchard', 'iago@shakespeare.lit', 'romeo@montague.net/Orchard'),
    );
    expect(jids.map((j) => j.full)).to.deep.equal(['romeo@montague.net/Orchard', 'iago@shakespeare.lit']);
  });

  it('ignores children other than <item/> in its namespace', () => {
    const payload = command('iago@shakespeare.lit');
    payload.c('note', { xmlns: 'urn:example' });
    payload.c('item', { xmlns: 'urn:example', jid: 'romeo@montague.net' });
    expect(parseItems(payload).map((j) => j.full)).to.deep.equal(['iago@shakespeare.lit']);
  });

  it('returns nothing for an empty command', () => {
    expect(parseItems(command())).to.deep.equal([]);
  });

  const refusals: Array<[string, Array<string | undefined>, string]> = [
    ['an item without jid', [undefined], 'bad-request'],
    ['a malformed JID', ['romeo@@montague.net'], 'jid-malformed'],
    ['an empty JID', [''], 'jid-malformed'],
  ];
  for (const [what, jids, condition] of refusals) {
    it(`refuses ${what} with ${condition}`, () => {
      try {
        parseItems(command(...jids));
        expect.fail('should have thrown');
      } catch (err) {
        expect(err).to.be.instanceOf(StanzaError);
        expect((err as StanzaError).condition).to.equal(condition);
      }
    });
  }
});

describe('XEP-0191 §3.3/§3.4 presence targets', () => {
  const subscribers = [
    'romeo@montague.net',
    'benvolio@montague.net',
    'nurse@capulet.com',
    'montague.net',
  ].map(parseJID);
  const none = new Blocklist([]);
  // [changed entries, skip list, expected targets]
  const table: Array<[string[], string[], string[]]> = [
    [['romeo@montague.net'], [], ['romeo@montague.net']],
    // A full JID is addressed itself when its bare JID subscribes.
    [['romeo@montague.net/orchard'], [], ['romeo@montague.net/orchard']],
    // Not a subscriber: not allowed to see presence.
    [['iago@shakespeare.lit'], [], []],
    [['iago@shakespeare.lit/den'], [], []],
    // A domain reaches every subscriber at it (the domain itself included).
    [['montague.net'], [], ['romeo@montague.net', 'benvolio@montague.net', 'montague.net']],
    [['montague.net/bot'], [], ['montague.net/bot']],
    // Overlapping entries give each target once.
    [
      ['montague.net', 'romeo@montague.net'],
      [],
      ['romeo@montague.net', 'benvolio@montague.net', 'montague.net'],
    ],
    // Targets the skip list blocks are left out (already, or still, blocked).
    [['montague.net'], ['romeo@montague.net'], ['benvolio@montague.net', 'montague.net']],
    [['romeo@montague.net'], ['montague.net'], []],
  ];
  for (const [entries, skip, expected] of table) {
    it(`[${entries.join(', ')}] skipping [${skip.join(', ')}] → [${expected.join(', ')}]`, () => {
      const targets = presenceTargets(
        entries.map(parseJID),
        subscribers,
        skip.length ? new Blocklist(skip) : none,
      );
      expect(targets.map((t) => t.full)).to.deep.equal(expected);
    });
  }
});

/** A store in memory that counts its reads. */
class MemoryStore implements BlocklistStore {
  readonly lists = new Map<string, string[]>();
  reads = 0;
  /** When set, list() waits for it before answering. */
  gate: Promise<void> | undefined;

  async accounts(): Promise<BlockingAccount[]> {
    return [...this.lists.keys()].map((key) => {
      const [username, host] = key.split('@') as [string, string];
      return { host, username };
    });
  }

  async list(host: string, username: string): Promise<string[]> {
    this.reads++;
    const snapshot = [...(this.lists.get(`${username}@${host}`) ?? [])];
    if (this.gate) await this.gate;
    return snapshot;
  }

  async block(
    host: string,
    username: string,
    jids: readonly string[],
    _maxItems: number,
  ): Promise<BlockOutcome> {
    const list = this.lists.get(`${username}@${host}`) ?? [];
    const added = jids.filter((j) => !list.includes(j));
    list.push(...added);
    this.lists.set(`${username}@${host}`, list);
    return { ok: true, added, entries: [...list] };
  }

  async unblock(): Promise<UnblockOutcome> {
    throw new Error('not used');
  }

  async unblockAll(): Promise<UnblockOutcome> {
    throw new Error('not used');
  }
}

describe('XEP-0191 blocklist cache', () => {
  const juliet = parseJID('juliet@capulet.com/balcony');
  const romeo = parseJID('romeo@montague.net');

  async function cacheWith(lists: Record<string, string[]>, capacity = 2) {
    const store = new MemoryStore();
    for (const [account, entries] of Object.entries(lists)) store.lists.set(account, entries);
    const cache = new BlocklistCache(store, capacity);
    await cache.init();
    return { store, cache };
  }

  it('answers "blocks nothing" synchronously without reading the store', async () => {
    const { store, cache } = await cacheWith({ 'juliet@capulet.com': ['romeo@montague.net'] });
    expect(cache.get(romeo)).to.equal(undefined);
    expect(cache.get(parseJID('nurse@capulet.com'))).to.equal(undefined);
    expect(store.reads).to.equal(0);
  });

  it('reads a blocking account once, then answers from memory', async () => {
    const { store, cache } = await cacheWith({ 'juliet@capulet.com': ['romeo@montague.net'] });
    const first = cache.get(juliet);
    expect(first).to.be.instanceOf(Promise);
    // Concurrent askers share the read.
    const second = cache.get(juliet);
    expect(second).to.equal(first);
    const list = await first;
    expect([...list!]).to.deep.equal(['romeo@montague.net']);
    expect(cache.get(juliet)).to.equal(list);
    expect(store.reads).to.equal(1);
  });

  it('keeps at most `capacity` offline lists, evicting the least recently used', async () => {
    const { store, cache } = await cacheWith({
      'a@x.test': ['z.test'],
      'b@x.test': ['z.test'],
      'c@x.test': ['z.test'],
    });
    const [a, b, c] = ['a@x.test', 'b@x.test', 'c@x.test'].map(parseJID) as [
      typeof juliet,
      typeof juliet,
      typeof juliet,
    ];
    await cache.get(a);
    await cache.get(b);
    cache.get(a); // a is now the most recent
    await cache.get(c); // evicts b
    expect(store.reads).to.equal(3);
    expect(cache.get(a)).not.to.be.instanceOf(Promise);
    expect(cache.get(c)).not.to.be.instanceOf(Promise);
    expect(cache.get(b)).to.be.instanceOf(Promise);
  });

  it('keeps online accounts’ lists whatever the LRU does, and reads afresh at first login', async () => {
    const { store, cache } = await cacheWith(
      { 'juliet@capulet.com': ['romeo@montague.net'], 'a@x.test': ['z.test'], 'b@x.test': ['z.test'] },
      1,
    );
    await cache.accountOnline(juliet);
    expect(store.reads).to.equal(1);
    // A second session of the same account does not read again.
    expect(cache.accountOnline(juliet)).to.equal(undefined);
    await cache.get(parseJID('a@x.test'));
    await cache.get(parseJID('b@x.test'));
    expect(cache.get(juliet)).not.to.be.instanceOf(Promise);
    cache.accountOffline(juliet);
    // Now it is an LRU entry like the others (capacity 1): it pushed b out.
    expect(cache.get(juliet)).not.to.be.instanceOf(Promise);
    expect(cache.get(parseJID('b@x.test'))).to.be.instanceOf(Promise);
  });

  it('lets a change win over a read that started before it', async () => {
    const { store, cache } = await cacheWith({ 'juliet@capulet.com': ['romeo@montague.net'] });
    let open!: () => void;
    store.gate = new Promise((resolve) => {
      open = resolve;
    });
    const reading = cache.get(juliet) as Promise<Blocklist | undefined>;
    const changed = await store.block('capulet.com', 'juliet', ['tybalt@capulet.com'], 10);
    expect(changed.ok).to.equal(true);
    cache.replace(juliet, changed.ok ? changed.entries : []);
    open();
    const seen = await reading;
    expect([...seen!]).to.deep.equal(['romeo@montague.net', 'tybalt@capulet.com']);
    expect([...(cache.get(juliet) as Blocklist)]).to.deep.equal(['romeo@montague.net', 'tybalt@capulet.com']);
  });

  it('drops an account from the index when its list becomes empty, and adds it back', async () => {
    const { store, cache } = await cacheWith({ 'juliet@capulet.com': ['romeo@montague.net'] });
    expect(cache.replace(juliet, [])).to.equal(undefined);
    expect(cache.get(juliet)).to.equal(undefined);
    const list = cache.replace(juliet, ['montague.net']);
    expect(cache.get(juliet)).to.equal(list);
    expect(store.reads).to.equal(0);
  });

  it('forgets a deleted account', async () => {
    const { cache } = await cacheWith({ 'juliet@capulet.com': ['romeo@montague.net'] });
    await cache.get(juliet);
    cache.forget(juliet);
    expect(cache.get(juliet)).to.equal(undefined);
  });
});
