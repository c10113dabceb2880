// RFC 6121 §2 rosters end to end, with @xmpp/client over real sockets: get, set, remove,
// pushes to interested resources only (§2.1.6, §2.2), the errors of §2.3.3 and §2.5.3, the
// roster size limit, roster versioning with interim pushes (§2.6), and a restart between
// storing and reading to show the roster lives in SQLite.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import {
  openStream,
  qname,
  RawClient,
  rawAuthenticate,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import {
  errorOf,
  expectStanza,
  isRosterPush as isPush,
  login,
  rosterQuery as query,
  request,
  settle,
  shape,
  upcoming,
} from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIMITS = ['[roster]', 'max_items = 4', 'max_name_length = 16', 'max_group_length = 8'].join('\n');

function item(attrs: Record<string, string>, ...groups: string[]): XmlElement {
  return xml('item', attrs, ...groups.map((g) => xml('group', {}, g)));
}

/** The stanza exactly, but for its id: the server picks the ids of its pushes. */
function expectIq(actual: XmlElement, expected: XmlElement): void {
  expectStanza(actual, expected, ['id']);
}

function verOf(el: XmlElement): string {
  const ver = el.getChild('query', NS.ROSTER)?.attrs.ver;
  expect(ver, el.toString()).to.be.a('string');
  return ver!;
}

describe('RFC 6121 §2 rosters', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    ts = await startTestServer({ extraToml: LIMITS });
    for (const name of ['alice', 'bob', 'mallory', 'victor']) await ts.addUser(name, `${name}-secret`);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  async function session(username: string, resource: string, interested = true): Promise<TestClient> {
    const c = await login(ts, username, resource);
    clients.push(c);
    if (interested) await request(c, 'get', query());
    return c;
  }

  it('advertises roster versioning and subscription pre-approval after authentication (§2.6.1, §3.4)', async () => {
    const raw = await RawClient.connect(ts.port);
    try {
      await rawStartTls(raw);
      await rawAuthenticate(raw, 'alice', 'alice-secret');
      const features = await openStream(raw);
      const names = features.elements.map(qname);
      expect(names).to.include(`${NS.ROSTER_VER} ver`);
      expect(names).to.include(`${NS.PRE_APPROVAL} sub`);
      const ver = features.getChild('ver', NS.ROSTER_VER)!;
      expect(ver.children).to.have.length(0);
    } finally {
      raw.close();
    }
  });

  it('answers a roster get with the (empty) roster and its version (§2.1.4)', async () => {
    const c = await session('victor', 'v', false);
    const reply = await request(c, 'get', query());
    expectIq(
      reply,
      xml('iq', { type: 'result', from: 'victor@localhost', to: 'victor@localhost/v' }, query({ ver: '0' })),
    );
  });

  it('adds an item, answers the set and pushes the item to every interested resource, and only to them (§2.3.2)', async () => {
    const a = await session('alice', 'a');
    const b = await session('alice', 'b');
    const c = await session('alice', 'c', false);
    const pushA = upcoming(a)(isPush);
    const pushB = upcoming(b)(isPush);
    const reply = await request(
      a,
      'set',
      query({}, item({ jid: 'bob@localhost', name: 'Bob' }, 'Friends', 'Work')),
    );
    expectIq(reply, xml('iq', { type: 'result', from: 'alice@localhost', to: 'alice@localhost/a' }));
    const [gotA, gotB] = await Promise.all([pushA, pushB]);
    const ver = verOf(gotA);
    expect(ver).to.not.equal('0');
    for (const [got, resource] of [
      [gotA, 'a'],
      [gotB, 'b'],
    ] as const) {
      expectIq(
        got,
        xml(
          'iq',
          { type: 'set', from: 'alice@localhost', to: `alice@localhost/${resource}` },
          query(
            { ver },
            item({ jid: 'bob@localhost', name: 'Bob', subscription: 'none' }, 'Friends', 'Work'),
          ),
        ),
      );
    }
    await settle(c);
    expect(c.received.filter(isPush)).to.have.length(0);
  });

  it('replaces an item on update and ignores the subscription, ask and approved a client sends (§2.1.5, §2.4)', async () => {
    const a = await session('alice', 'a');
    const push = upcoming(a)(isPush);
    const reply = await request(
      a,
      'set',
      query(
        {},
        item(
          { jid: 'bob@localhost', name: 'Bobby', subscription: 'both', ask: 'subscribe', approved: 'true' },
          'Work',
        ),
      ),
    );
    expect(reply.attrs.type).to.equal('result');
    const got = await push;
    expectIq(
      got,
      xml(
        'iq',
        { type: 'set', from: 'alice@localhost', to: 'alice@localhost/a' },
        query(
          { ver: verOf(got) },
          item({ jid: 'bob@localhost', name: 'Bobby', subscription: 'none' }, 'Work'),
        ),
      ),
    );
    // §2.4.1: an empty name is no name.
    const unnamed = upcoming(a)(isPush);
    await request(a, 'set', query({}, item({ jid: 'bob@localhost', name: '' })));
    const cleared = await unnamed;
    expectIq(
      cleared.getChild('query', NS.ROSTER)!,
      query({ ver: verOf(cleared) }, item({ jid: 'bob@localhost', subscription: 'none' })),
    );
  });

  it('returns the stored roster, with the version of the last push (§2.2, §2.6.3)', async () => {
    const a = await session('alice', 'a', false);
    await request(a, 'set', query({}, item({ jid: 'bob@localhost', name: 'Bob' }, 'Friends')));
    const reply = await request(a, 'get', query());
    await settle(a);
    expect(a.received.filter(isPush), 'not interested before its first get').to.have.length(0);
    expectIq(
      reply,
      xml(
        'iq',
        { type: 'result', from: 'alice@localhost', to: 'alice@localhost/a' },
        query(
          { ver: verOf(reply) },
          item({ jid: 'bob@localhost', name: 'Bob', subscription: 'none' }, 'Friends'),
        ),
      ),
    );
  });

  it('removes an item, pushing it with subscription="remove" (§2.5.2)', async () => {
    const a = await session('alice', 'a');
    await request(a, 'set', query({}, item({ jid: 'gone@localhost' })));
    const push = upcoming(a)(isPush);
    const reply = await request(a, 'set', query({}, item({ jid: 'gone@localhost', subscription: 'remove' })));
    expect(reply.attrs.type).to.equal('result');
    const got = await push;
    expectIq(
      got,
      xml(
        'iq',
        { type: 'set', from: 'alice@localhost', to: 'alice@localhost/a' },
        query({ ver: verOf(got) }, item({ jid: 'gone@localhost', subscription: 'remove' })),
      ),
    );
    const roster = await request(a, 'get', query());
    expect(
      roster
        .getChild('query')!
        .getChildren('item')
        .map((i) => i.attrs.jid),
    ).to.not.include('gone@localhost');
  });

  describe('errors (§2.1.5, §2.3.3, §2.5.3)', () => {
    const cases: Array<[string, () => XmlElement, string | undefined, string, string]> = [
      [
        'more than one item',
        () => query({}, item({ jid: 'x@localhost' }), item({ jid: 'y@localhost' })),
        undefined,
        'bad-request',
        'modify',
      ],
      [
        'duplicate groups',
        () => query({}, item({ jid: 'x@localhost' }, 'A', 'A')),
        undefined,
        'bad-request',
        'modify',
      ],
      [
        'an empty group',
        () => query({}, item({ jid: 'x@localhost' }, '')),
        undefined,
        'not-acceptable',
        'modify',
      ],
      [
        'a name over roster.max_name_length bytes (16; nine two-byte characters)',
        () => query({}, item({ jid: 'x@localhost', name: 'ééééééééé' })),
        undefined,
        'not-acceptable',
        'modify',
      ],
      [
        'a group over roster.max_group_length bytes',
        () => query({}, item({ jid: 'x@localhost' }, 'ninechars')),
        undefined,
        'not-acceptable',
        'modify',
      ],
      [
        'the account’s own JID',
        () => query({}, item({ jid: 'alice@localhost' })),
        undefined,
        'not-allowed',
        'cancel',
      ],
      ['a full JID', () => query({}, item({ jid: 'x@localhost/res' })), undefined, 'bad-request', 'modify'],
      ['a malformed JID', () => query({}, item({ jid: 'a@b@c' })), undefined, 'jid-malformed', 'modify'],
      ['an item without jid', () => query({}, item({ name: 'x' })), undefined, 'bad-request', 'modify'],
      [
        'removing an item that is not there',
        () => query({}, item({ jid: 'nobody@localhost', subscription: 'remove' })),
        undefined,
        'item-not-found',
        'cancel',
      ],
      [
        'a set for another account’s roster',
        () => query({}, item({ jid: 'x@localhost' })),
        'bob@localhost',
        'forbidden',
        'auth',
      ],
    ];
    for (const [what, payload, to, condition, type] of cases) {
      it(`refuses ${what} with ${condition}`, async () => {
        const a = await session('alice', 'a');
        const sent = payload();
        const reply = await request(a, 'set', sent, to);
        expect(reply.attrs.type, reply.toString()).to.equal('error');
        expect(reply.attrs.to).to.equal('alice@localhost/a');
        expect(reply.attrs.from).to.equal(to ?? 'alice@localhost');
        expect(errorOf(reply)).to.deep.equal({ type, condition });
        await settle(a);
        expect(a.received.filter(isPush), 'nothing changed').to.have.length(0);
      });
    }

    it('refuses a get of another account’s roster with forbidden', async () => {
      const a = await session('alice', 'a', false);
      const reply = await request(a, 'get', query(), 'bob@localhost');
      expect(errorOf(reply)).to.deep.equal({ type: 'auth', condition: 'forbidden' });
    });
  });

  it('refuses an item beyond roster.max_items with policy-violation, and still updates existing ones', async () => {
    const m = await session('mallory', 'm');
    for (const n of [1, 2, 3, 4]) {
      const reply = await request(m, 'set', query({}, item({ jid: `c${n}@localhost` })));
      expect(reply.attrs.type, reply.toString()).to.equal('result');
    }
    const full = await request(m, 'set', query({}, item({ jid: 'c5@localhost' })));
    expect(errorOf(full)).to.deep.equal({ type: 'modify', condition: 'policy-violation' });
    expect(full.getChild('error')!.getChildText('text', NS.STANZAS_ERROR)).to.include('4');
    const update = await request(m, 'set', query({}, item({ jid: 'c4@localhost', name: 'Four' })));
    expect(update.attrs.type).to.equal('result');
    await request(m, 'set', query({}, item({ jid: 'c1@localhost', subscription: 'remove' })));
    const again = await request(m, 'set', query({}, item({ jid: 'c5@localhost' })));
    expect(again.attrs.type).to.equal('result');
    const roster = await request(m, 'get', query());
    expect(
      roster
        .getChild('query')!
        .getChildren('item')
        .map((i) => i.attrs.jid)
        .sort(),
    ).to.deep.equal(['c2@localhost', 'c3@localhost', 'c4@localhost', 'c5@localhost']);
  });

  describe('roster versioning (§2.6)', () => {
    it('answers a get with the current version with an empty result, and pushes nothing (§2.6.3)', async () => {
      const a = await session('alice', 'a');
      const current = verOf(await request(a, 'get', query()));
      const b = await session('alice', 'b', false);
      const reply = await request(b, 'get', query({ ver: current }));
      expectIq(reply, xml('iq', { type: 'result', from: 'alice@localhost', to: 'alice@localhost/b' }));
      await settle(b);
      expect(b.received.filter(isPush)).to.have.length(0);
      // The empty result still makes the resource interested.
      const push = upcoming(b)(isPush);
      await request(a, 'set', query({}, item({ jid: 'later@localhost' })));
      expect((await push).getChild('query')!.getChild('item')!.attrs.jid).to.equal('later@localhost');
    });

    it('answers a get with an older version with an empty result, then one push per changed item, oldest first', async () => {
      const v = await session('victor', 'old');
      const old = verOf(await request(v, 'get', query()));
      await request(v, 'set', query({}, item({ jid: 'kept@localhost' })));
      await request(v, 'set', query({}, item({ jid: 'dropped@localhost' })));
      await request(v, 'set', query({}, item({ jid: 'renamed@localhost' })));
      await request(v, 'set', query({}, item({ jid: 'dropped@localhost', subscription: 'remove' })));
      await request(v, 'set', query({}, item({ jid: 'renamed@localhost', name: 'New' })));
      const current = verOf(await request(v, 'get', query()));

      const fresh = await session('victor', 'new', false);
      const pushes: XmlElement[] = [];
      fresh.on('stanza', (el: XmlElement) => {
        if (isPush(el)) pushes.push(el);
      });
      const reply = await request(fresh, 'get', query({ ver: old }));
      expectIq(reply, xml('iq', { type: 'result', from: 'victor@localhost', to: 'victor@localhost/new' }));
      await settle(fresh);
      expect(pushes.map((p) => p.getChild('query')!.getChild('item')!.toString())).to.deep.equal([
        '<item jid="kept@localhost" subscription="none"/>',
        '<item jid="dropped@localhost" subscription="remove"/>',
        '<item jid="renamed@localhost" name="New" subscription="none"/>',
      ]);
      const vers = pushes.map(verOf);
      expect(new Set(vers).size).to.equal(3);
      expect(vers[2]).to.equal(current);
      // The pushes come after the result.
      expect(fresh.received.indexOf(reply)).to.be.lessThan(fresh.received.indexOf(pushes[0]!));
    });

    it('sends the whole roster for a version it cannot relate to, or for ver="" (§2.6.2)', async () => {
      const v = await session('victor', 'x', false);
      for (const ver of ['', 'ffffffff-1', 'garbage', '99999']) {
        const reply = await request(v, 'get', query({ ver }));
        const items = reply.getChild('query', NS.ROSTER)!.getChildren('item');
        expect(items.map((i) => i.attrs.jid).sort(), `ver="${ver}"`).to.deep.equal([
          'kept@localhost',
          'renamed@localhost',
        ]);
      }
    });
  });
});

describe('RFC 6121 §2 rosters across a restart', () => {
  it('keeps the roster, its version and its removals in SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warbler-roster-'));
    try {
      let ts = await startTestServer({ dir });
      await ts.addUser('rita', 'rita-secret');
      let c = await login(ts, 'rita', 'r');
      const empty = verOf(await request(c, 'get', query()));
      await request(c, 'set', query({}, item({ jid: 'sam@localhost', name: 'Sam' }, 'Team', 'Friends')));
      await request(c, 'set', query({}, item({ jid: 'tom@localhost' })));
      await request(c, 'set', query({}, item({ jid: 'tom@localhost', subscription: 'remove' })));
      const before = await request(c, 'get', query());
      await c.stop();
      await ts.stop();

      ts = await startTestServer({ dir });
      try {
        c = await login(ts, 'rita', 'r');
        const after = await request(c, 'get', query());
        expect(shape(after.getChild('query')!)).to.deep.equal(shape(before.getChild('query')!));
        expectIq(
          after.getChild('query')!,
          query(
            { ver: verOf(before) },
            item({ jid: 'sam@localhost', name: 'Sam', subscription: 'none' }, 'Team', 'Friends'),
          ),
        );
        // Versions still relate: the current one is up to date, the first one gets pushes.
        const current = await request(c, 'get', query({ ver: verOf(before) }));
        expect(current.children).to.have.length(0);
        const pushes: string[] = [];
        c.on('stanza', (el: XmlElement) => {
          if (isPush(el)) pushes.push(el.getChild('query')!.getChild('item')!.attrs.jid!);
        });
        await request(c, 'get', query({ ver: empty }));
        await settle(c);
        expect(pushes).to.deep.equal(['sam@localhost', 'tom@localhost']);
        await c.stop();
      } finally {
        await ts.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
