// XEP-0160 offline messages end to end: a real server on loopback, @xmpp/client over STARTTLS,
// three accounts, and a restart of the server between storing and delivering.
//
// XEP-0160 §2 (store, refuse when full, deliver at non-negative available presence), §3
// (message types), §4 (msgoffline); XEP-0203 (the notation, forged ones dropped); XEP-0334
// (no-store, store); XEP-0085 §5.5 (standalone chat states); RFC 6121 §8.5.2.2.1.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { SqliteOfflineStore } from '../../xeps/0160-offline/store.js';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const DELAY = 'urn:xmpp:delay';
const HINTS = 'urn:xmpp:hints';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
/** Small, so that the quota is quick to reach. */
const QUOTA = 4;

describe('XEP-0160 offline messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-offline-'));
  let ts: TestServer;
  const clients: TestClient[] = [];

  // The archive is left out so that stored stanzas can be compared exactly (it would add a
  // stanza-id of its own; mam.test.ts covers the two together).
  const start = () =>
    startTestServer({ dir, extraToml: `[offline]\nmax_messages = ${QUOTA}\n[modules]\ndisabled = ["mam"]` });

  before(async () => {
    ts = await start();
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

  let pings = 0;
  /**
   * A ping round trip: the server handles a client's stanzas in order, and delivery and storage
   * complete within the handling of the stanza that caused them, so everything the client sent
   * before has met its fate when the pong arrives.
   */
  async function settle(c: TestClient): Promise<void> {
    const id = `settle-${++pings}`;
    await c.send(xml('iq', { type: 'get', to: 'localhost', id }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    await c.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
  }

  const stored = (username: string) => new SqliteOfflineStore(ts.server.db).count(jid(username, 'localhost'));
  const chat = (to: string, id: string, body: string, ...extra: XmlElement[]) =>
    xml('message', { to, type: 'chat', id }, xml('body', {}, body), ...extra);
  const messages = (c: TestClient) => c.received.filter((el) => el.name === 'message');
  const ids = (els: XmlElement[]) => els.map((el) => el.attrs.id);

  /** The stamp of the server's notation, checked to lie within [from, to]. */
  function stampOf(message: XmlElement, from: number, to: number): string {
    const delays = message.getChildren('delay', DELAY);
    expect(delays, message.toString()).to.have.length(1);
    const stamp = delays[0]!.attrs.stamp!;
    expect(stamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(stamp)).to.be.within(from, to);
    return stamp;
  }

  function expectServiceUnavailable(error: XmlElement, from: string, body: string): void {
    expect(error.attrs.type).to.equal('error');
    expect(error.attrs.from).to.equal(from);
    expect(error.getChildText('body')).to.equal(body);
    const e = error.getChild('error')!;
    expect({ type: e.attrs.type, code: e.attrs.code }).to.deep.equal({ type: 'cancel', code: '503' });
    const conditions = e.children.filter((c): c is XmlElement => typeof c !== 'string');
    expect(conditions.map((c) => `${c.attrs.xmlns} ${c.name}`)).to.deep.equal([
      `${STANZAS} service-unavailable`,
    ]);
  }

  it('advertises msgoffline in the server disco#info', async () => {
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
    expect(features).to.include('msgoffline');
  });

  it('delivers messages sent while the user was offline at the next login, in order, with the server’s delay stamp', async () => {
    const alice = await login('alice', 'a');
    const before = Date.now();
    await alice.send(chat('bob@localhost', 'm1', 'one'));
    // A notation claiming to be the server's is the sender's forgery and must not survive.
    await alice.send(
      chat(
        'bob@localhost',
        'm2',
        'two',
        xml('delay', { xmlns: DELAY, from: 'localhost', stamp: '2000-01-01T00:00:00Z' }),
      ),
    );
    await alice.send(xml('message', { to: 'bob@localhost', id: 'm3' }, xml('body', {}, 'three')));
    await settle(alice);
    const after = Date.now();
    expect(await stored('bob')).to.equal(3);
    expect(alice.received.filter((el) => el.attrs.type === 'error')).to.deep.equal([]);

    const bob = await login('bob', 'desk');
    expect(messages(bob), 'nothing before initial presence').to.deep.equal([]);
    await bob.send(xml('presence'));
    await bob.waitFor((el) => el.attrs.id === 'm3');
    const got = messages(bob);
    expect(ids(got)).to.deep.equal(['m1', 'm2', 'm3']);
    const delay = (stamp: string) =>
      `<delay xmlns="${DELAY}" from="localhost" stamp="${stamp}">Offline Storage</delay>`;
    expect(got[0]!.toString()).to.equal(
      `<message to="bob@localhost" type="chat" id="m1" from="alice@localhost/a">` +
        `<body>one</body>${delay(stampOf(got[0]!, before, after))}</message>`,
    );
    expect(got[1]!.toString()).to.equal(
      `<message to="bob@localhost" type="chat" id="m2" from="alice@localhost/a">` +
        `<body>two</body>${delay(stampOf(got[1]!, before, after))}</message>`,
    );
    expect(got[2]!.toString()).to.equal(
      `<message to="bob@localhost" id="m3" from="alice@localhost/a">` +
        `<body>three</body>${delay(stampOf(got[2]!, before, after))}</message>`,
    );
    const stamps = got.map((m) => Date.parse(m.getChild('delay', DELAY)!.attrs.stamp!));
    expect(stamps).to.deep.equal([...stamps].sort((a, b) => a - b));
    // Delivered means removed: the next login gets nothing again.
    expect(await stored('bob')).to.equal(0);
  });

  it('keeps stored messages across a restart of the server', async () => {
    const alice = await login('alice', 'a');
    await alice.send(chat('carol@localhost', 'r1', 'before the restart'));
    await alice.send(chat('carol@localhost', 'r2', 'still there?'));
    await settle(alice);
    const storedBy = Date.now();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await ts.stop();

    ts = await start();
    const carol = await login('carol', 'phone');
    await carol.send(xml('presence'));
    await carol.waitFor((el) => el.attrs.id === 'r2');
    const got = messages(carol);
    expect(ids(got)).to.deep.equal(['r1', 'r2']);
    expect(got.map((m) => m.getChildText('body'))).to.deep.equal(['before the restart', 'still there?']);
    for (const m of got) {
      expect(m.attrs.from).to.equal('alice@localhost/a');
      expect(m.getChild('delay', DELAY)!.attrs.from).to.equal('localhost');
      stampOf(m, 0, storedBy);
    }
    expect(await stored('carol')).to.equal(0);
  });

  it('refuses messages beyond the quota with service-unavailable, and loses none of those it took', async () => {
    const alice = await login('alice', 'a');
    for (let i = 1; i <= QUOTA + 1; i++) await alice.send(chat('bob@localhost', `q${i}`, `number ${i}`));
    const error = await alice.waitFor((el) => el.attrs.type === 'error');
    expect(error.attrs.id).to.equal(`q${QUOTA + 1}`);
    expectServiceUnavailable(error, 'bob@localhost', `number ${QUOTA + 1}`);
    await settle(alice);
    expect(alice.received.filter((el) => el.attrs.type === 'error')).to.have.length(1);
    expect(await stored('bob')).to.equal(QUOTA);

    const bob = await login('bob', 'desk');
    await bob.send(xml('presence'));
    await bob.waitFor((el) => el.attrs.id === `q${QUOTA}`);
    expect(ids(messages(bob))).to.deep.equal(['q1', 'q2', 'q3', 'q4']);
    expect(await stored('bob')).to.equal(0);
  });

  it('stores chat and normal content only: not headlines, groupchat, standalone chat states or <no-store/>', async () => {
    const alice = await login('alice', 'a');
    await alice.send(
      xml('message', { to: 'carol@localhost', type: 'headline', id: 'h1' }, xml('body', {}, 'news')),
    );
    await alice.send(
      xml('message', { to: 'carol@localhost', type: 'groupchat', id: 'g1' }, xml('body', {}, 'room')),
    );
    await alice.send(chat('carol@localhost', 'n1', 'do not keep', xml('no-store', { xmlns: HINTS })));
    await alice.send(
      xml(
        'message',
        { to: 'carol@localhost', type: 'chat', id: 'c1' },
        xml('composing', { xmlns: CHATSTATES }),
      ),
    );
    await alice.send(
      xml(
        'message',
        { to: 'carol@localhost', type: 'chat', id: 's1' },
        xml('gone', { xmlns: CHATSTATES }),
        xml('store', { xmlns: HINTS }),
      ),
    );
    await alice.send(
      chat('carol@localhost', 'k1', 'temporary is fine', xml('no-permanent-store', { xmlns: HINTS })),
    );
    await alice.send(
      xml(
        'message',
        { to: 'carol@localhost', id: 'x1' },
        xml('received', { xmlns: 'urn:xmpp:receipts', id: 'm0' }),
      ),
    );
    await alice.send(chat('carol@localhost', 'z1', 'last'));
    await settle(alice);

    const errors = alice.received.filter((el) => el.attrs.type === 'error');
    expect(ids(errors)).to.deep.equal(['g1', 'n1']);
    expectServiceUnavailable(errors[0]!, 'carol@localhost', 'room');
    expectServiceUnavailable(errors[1]!, 'carol@localhost', 'do not keep');

    const carol = await login('carol', 'phone');
    await carol.send(xml('presence'));
    await carol.waitFor((el) => el.attrs.id === 'z1');
    // Stored messages are delivered together, so everything stored has arrived by now.
    expect(ids(messages(carol))).to.deep.equal(['s1', 'k1', 'x1', 'z1']);
  });

  it('delivers nothing to a negative-priority resource, then everything once it sends priority 0', async () => {
    const alice = await login('alice', 'a');
    await alice.send(chat('dave@localhost', 'p1', 'first'));
    await settle(alice);

    const dave = await login('dave', 'hidden');
    await dave.send(xml('presence', {}, xml('priority', {}, '-1')));
    await settle(dave);
    expect(messages(dave)).to.deep.equal([]);
    // While dave only has a negative-priority resource, new messages are stored too (RFC 6121 §8.5.2.1.1).
    await alice.send(chat('dave@localhost', 'p2', 'second'));
    await settle(alice);
    await settle(dave);
    expect(messages(dave)).to.deep.equal([]);
    expect(await stored('dave')).to.equal(2);

    await dave.send(xml('presence', {}, xml('priority', {}, '0')));
    await dave.waitFor((el) => el.attrs.id === 'p2');
    expect(ids(messages(dave))).to.deep.equal(['p1', 'p2']);
    expect(await stored('dave')).to.equal(0);
  });

  it('delivers to the resource that became available, once', async () => {
    const alice = await login('alice', 'a');
    await alice.send(chat('bob@localhost', 'o1', 'for whoever comes first'));
    await settle(alice);
    const desk = await login('bob', 'desk');
    const phone = await login('bob', 'phone');
    await phone.send(xml('presence'));
    await phone.waitFor((el) => el.attrs.id === 'o1');
    await desk.send(xml('presence'));
    await settle(desk);
    expect(messages(desk).filter((m) => m.attrs.id === 'o1')).to.deep.equal([]);
    expect(ids(messages(phone))).to.deep.equal(['o1']);
  });

  it('deletes stored messages with the account', async () => {
    const alice = await login('alice', 'a');
    await alice.send(chat('dave@localhost', 'd1', 'goodbye'));
    await settle(alice);
    expect(await stored('dave')).to.equal(1);
    await ts.server.accounts.delete(jid('dave', 'localhost'));
    expect(await stored('dave')).to.equal(0);
  });
});
