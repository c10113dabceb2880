// XEP-0012 last activity end to end: a real server on loopback, @xmpp/client over STARTTLS,
// four accounts subscribed to each other through the roster module, and a restart of the
// server between a logout and the query about it.
//
// XEP-0012 §3 (offline user query: subscribers only, seconds since logout and the status of
// the last unavailable presence, 0 while connected), §4 (full JIDs: forbidden for
// non-subscribers, passed to the client otherwise), §5 (server uptime), §6 (disco feature).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { connect, eventually, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LAST = 'jabber:iq:last';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

describe('XEP-0012 last activity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-last-'));
  let ts: TestServer;
  let startedBy: number;
  const clients: TestClient[] = [];

  async function start(): Promise<void> {
    // Without XEP-0198 resumption: a killed connection ends its session at once.
    ts = await startTestServer({ dir, c2s: 'resumption_timeout = 0' });
    startedBy = Date.now();
  }

  before(async () => {
    await start();
    for (const user of ['alice', 'bob', 'carol', 'dave']) await ts.addUser(user, `${user}-secret`);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(username: string, resource: string): Promise<TestClient> {
    // PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM.
    const c = await connect({
      port: ts.port,
      domain: 'localhost',
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    clients.push(c);
    return c;
  }

  async function logout(c: TestClient): Promise<void> {
    const account = jid(c.jid!.local, 'localhost');
    await c.stop();
    await eventually(() => !ts.server.sessions.hasResources(account), `${account.bare} is logged out`);
  }

  let counter = 0;
  async function request(c: TestClient, to: string | undefined): Promise<XmlElement> {
    const id = `last-${++counter}`;
    await c.send(xml('iq', { type: 'get', to, id }, xml('query', { xmlns: LAST })));
    return c.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
  }

  /** Lets `contact` see `user`'s presence: user's roster gets subscription 'from' (or 'both'). */
  async function grant(user: string, contact: string): Promise<void> {
    const userJid = jid(user, 'localhost');
    const contactJid = jid(contact, 'localhost');
    const roster = ts.server.services.get('roster')!;
    if (await roster.isSubscriber(userJid, contactJid)) return;
    const u = await connect({
      port: ts.port,
      domain: 'localhost',
      username: user,
      password: `${user}-secret`,
      resource: 'grant',
      mechanism: 'PLAIN',
    });
    const c = await connect({
      port: ts.port,
      domain: 'localhost',
      username: contact,
      password: `${contact}-secret`,
      resource: 'grant',
      mechanism: 'PLAIN',
    });
    try {
      await u.send(xml('presence'));
      await c.send(xml('presence'));
      await c.send(xml('presence', { to: userJid.bare, type: 'subscribe' }));
      await u.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe');
      await u.send(xml('presence', { to: contactJid.bare, type: 'subscribed' }));
      // The approval is stored once the user's server has handled it; ask the roster until then.
      const deadline = Date.now() + 5000;
      while (!(await roster.isSubscriber(userJid, contactJid))) {
        if (Date.now() > deadline) throw new Error(`${contact} never got a subscription to ${user}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await Promise.all([u.stop(), c.stop()]);
    }
    const sessions = ts.server.sessions;
    await eventually(
      () =>
        !sessions.get(jid(user, 'localhost', 'grant')) && !sessions.get(jid(contact, 'localhost', 'grant')),
      'the sessions that made the subscription are gone',
    );
  }

  /** The reply's query, checked to be the whole of a result from `from` to `to`. */
  function expectResult(reply: XmlElement, from: string, to: string): XmlElement {
    expect(reply.attrs.type, reply.toString()).to.equal('result');
    expect(reply.attrs.from).to.equal(from);
    expect(reply.attrs.to).to.equal(to);
    const children = reply.children.filter((c): c is XmlElement => typeof c !== 'string');
    expect(children.map((c) => `${c.attrs.xmlns} ${c.name}`)).to.deep.equal([`${LAST} query`]);
    const query = children[0]!;
    expect(Object.keys(query.attrs).sort()).to.deep.equal(['seconds', 'xmlns']);
    expect(query.attrs.seconds).to.match(/^(0|[1-9]\d*)$/);
    return query;
  }

  function expectForbidden(reply: XmlElement, from: string): void {
    expect(reply.attrs.type, reply.toString()).to.equal('error');
    expect(reply.attrs.from).to.equal(from);
    const error = reply.getChild('error')!;
    expect({ type: error.attrs.type, code: error.attrs.code }).to.deep.equal({ type: 'auth', code: '403' });
    const conditions = error.children.filter((c): c is XmlElement => typeof c !== 'string');
    expect(conditions.map((c) => `${c.attrs.xmlns} ${c.name}`)).to.deep.equal([`${STANZAS} forbidden`]);
  }

  const seconds = (query: XmlElement) => Number(query.attrs.seconds);
  const elapsed = (since: number) => Math.ceil((Date.now() - since) / 1000);

  it('advertises jabber:iq:last in the server disco#info', async () => {
    const alice = await login('alice', 'a');
    const reply = await alice.iqCaller.request(
      xml(
        'iq',
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    const features = reply
      .getChild('query')!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(features).to.include(LAST);
  });

  it('answers a query to the server with its uptime and no text', async () => {
    const alice = await login('alice', 'a');
    const reply = await request(alice, 'localhost');
    const query = expectResult(reply, 'localhost', 'alice@localhost/a');
    expect(seconds(query)).to.be.within(0, elapsed(startedBy));
    expect(query.children).to.deep.equal([]);
  });

  it('answers 0 seconds for an account with a connected resource, asked by itself', async () => {
    const alice = await login('alice', 'a');
    await login('alice', 'b');
    for (const to of ['alice@localhost', undefined]) {
      const query = expectResult(await request(alice, to), 'alice@localhost', 'alice@localhost/a');
      expect(query.attrs.seconds).to.equal('0');
      expect(query.children).to.deep.equal([]);
    }
  });

  it('refuses anyone not subscribed to the account with forbidden, online or not', async () => {
    const carol = await login('carol', 'c');
    expectForbidden(await request(carol, 'alice@localhost'), 'alice@localhost');
    await login('alice', 'a');
    expectForbidden(await request(carol, 'alice@localhost'), 'alice@localhost');
    // The same for an account that does not exist: nothing to learn from the answer.
    expectForbidden(await request(carol, 'nobody@localhost'), 'nobody@localhost');
  });

  it('refuses a query to a full JID from a non-subscriber without passing it on, and passes on a subscriber’s', async () => {
    await grant('alice', 'bob');
    const alice = await login('alice', 'a');
    const carol = await login('carol', 'c');
    const bob = await login('bob', 'b');

    const refused = await request(carol, 'alice@localhost/a');
    expectForbidden(refused, 'alice@localhost/a');
    // Stanzas from one session are routed in order: once the next one arrives, the query would have too.
    await carol.send(
      xml('message', { to: 'alice@localhost/a', type: 'chat', id: 'after' }, xml('body', {}, 'hi')),
    );
    await alice.waitFor((el) => el.attrs.id === 'after');
    expect(alice.received.filter((el) => el.name === 'iq' && el.attrs.id === refused.attrs.id)).to.deep.equal(
      [],
    );

    const id = `last-${++counter}`;
    await bob.send(xml('iq', { type: 'get', to: 'alice@localhost/a', id }, xml('query', { xmlns: LAST })));
    const passed = await alice.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
    expect(passed.attrs.from).to.equal('bob@localhost/b');
    expect(passed.getChild('query', LAST)).to.not.equal(undefined);
  });

  let leftAfter = 0;
  let leftBy = 0;

  it('tells a subscriber the seconds since logout and the status of the last unavailable presence', async () => {
    await grant('alice', 'bob');
    const alice = await login('alice', 'a');
    await alice.send(xml('presence'));
    leftAfter = Date.now();
    await alice.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Heading Home')));
    await logout(alice);
    leftBy = Date.now();

    const bob = await login('bob', 'b');
    const query = expectResult(await request(bob, 'alice@localhost'), 'alice@localhost', 'bob@localhost/b');
    expect(seconds(query)).to.be.within(0, elapsed(leftAfter));
    expect(query.children).to.deep.equal(['Heading Home']);
  });

  it('counts the seconds up', async () => {
    const bob = await login('bob', 'b');
    const first = seconds(
      expectResult(await request(bob, 'alice@localhost'), 'alice@localhost', 'bob@localhost/b'),
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const query = expectResult(await request(bob, 'alice@localhost'), 'alice@localhost', 'bob@localhost/b');
    expect(seconds(query)).to.be.at.least(first + 1);
    expect(seconds(query)).to.be.within(Math.floor((Date.now() - leftBy) / 1000) - 1, elapsed(leftAfter));
    expect(query.children).to.deep.equal(['Heading Home']);
  });

  it('keeps the last logout across a restart of the server', async () => {
    await ts.stop();
    await start();
    const bob = await login('bob', 'b');
    const query = expectResult(await request(bob, 'alice@localhost'), 'alice@localhost', 'bob@localhost/b');
    // At least the second that passed in the previous test, at most the time since logout.
    expect(seconds(query)).to.be.within(1, elapsed(leftAfter));
    expect(query.children).to.deep.equal(['Heading Home']);
  });

  it('records a logout without a status when the connection just ends', async () => {
    await grant('dave', 'bob');
    const dave = await login('dave', 'd');
    await dave.send(xml('presence', {}, xml('status', {}, 'around')));
    const before = Date.now();
    // No unavailable presence: the client's socket is simply gone.
    (dave as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
    await eventually(() => !ts.server.sessions.hasResources(jid('dave', 'localhost')), 'dave is gone');

    const bob = await login('bob', 'b');
    const query = expectResult(await request(bob, 'dave@localhost'), 'dave@localhost', 'bob@localhost/b');
    expect(seconds(query)).to.be.within(0, elapsed(before));
    expect(query.children).to.deep.equal([]);
  });

  it('answers item-not-found to a subscriber when no logout was ever recorded', async () => {
    await grant('carol', 'bob');
    // As after a crash that took the server down before the account ever logged out.
    ts.server.db.prepare('DELETE FROM last_activity WHERE username = ?').run('carol');
    const bob = await login('bob', 'b');
    const reply = await request(bob, 'carol@localhost');
    expect(reply.attrs.type, reply.toString()).to.equal('error');
    const error = reply.getChild('error')!;
    expect(error.attrs.type).to.equal('cancel');
    expect(error.getChild('item-not-found', STANZAS)).to.not.equal(undefined);
  });
});

describe('XEP-0012 last activity without the roster module', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    ts = await startTestServer({
      extraToml: '[modules]\ndisabled = ["roster"]',
      c2s: 'resumption_timeout = 0',
    });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await ts?.stop();
  });

  it('answers the account itself and refuses everyone else, since nobody is subscribed', async () => {
    const login = async (username: string) => {
      const c = await connect({
        port: ts.port,
        domain: 'localhost',
        username,
        password: `${username}-secret`,
        resource: 'r',
        mechanism: 'PLAIN',
      });
      clients.push(c);
      return c;
    };
    const alice = await login('alice');
    const bob = await login('bob');
    const own = await alice.iqCaller.request(
      xml('iq', { type: 'get', to: 'alice@localhost' }, xml('query', { xmlns: LAST })),
    );
    expect(own.getChild('query', LAST)?.attrs.seconds).to.equal('0');
    await bob.send(
      xml('iq', { type: 'get', to: 'alice@localhost', id: 'no-roster' }, xml('query', { xmlns: LAST })),
    );
    const refused = await bob.waitFor((el) => el.attrs.id === 'no-roster');
    expect(refused.attrs.type).to.equal('error');
    expect(refused.getChild('error')?.getChild('forbidden', STANZAS)).to.not.equal(undefined);
  });
});
