// XEP-0049 private XML storage end to end: a real server on loopback, @xmpp/client over
// STARTTLS, two accounts, a restart between storing and reading, and an account deleted.
//
// XEP-0049 §2.3: set and get by (namespace, name); the empty element for what was never
// stored; forbidden for another account; not-acceptable without a namespaced child and for
// reserved namespaces; plus this server's per-account quota.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PRIVATE = 'jabber:iq:private';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const QUOTA = 4096;

let counter = 0;

async function request(client: TestClient, attrs: Record<string, string>, payload: XmlElement) {
  const id = `priv-${++counter}`;
  await client.send(xml('iq', { ...attrs, id }, payload));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

function errorOf(reply: XmlElement): { type: string; code: string; condition: string } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error')!;
  const condition = error.children.find(
    (c): c is XmlElement => typeof c !== 'string' && c.name !== 'text' && c.attrs.xmlns === STANZAS,
  );
  return { type: error.attrs.type!, code: error.attrs.code!, condition: condition!.name };
}

const NOT_ACCEPTABLE = { type: 'modify', code: '406', condition: 'not-acceptable' };

function store(client: TestClient, ...elements: XmlElement[]): Promise<XmlElement> {
  return request(client, { type: 'set' }, xml('query', { xmlns: PRIVATE }, ...elements));
}

/** What the server holds under the element's key, as the <query/> payload of its answer. */
async function fetch(client: TestClient, element: XmlElement, to?: string): Promise<string[]> {
  const attrs: Record<string, string> = to === undefined ? { type: 'get' } : { type: 'get', to };
  const reply = await request(client, attrs, xml('query', { xmlns: PRIVATE }, element));
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.children.map(String);
}

const query = (inner: string) => `<query xmlns="${PRIVATE}">${inner}</query>`;

const prefs = (nick: string) => xml('exodus', { xmlns: 'exodus:prefs' }, xml('defaultnick', {}, nick));
const bookmarks = () =>
  xml(
    'storage',
    { xmlns: 'storage:bookmarks' },
    xml('conference', { jid: 'council@conference.localhost', autojoin: 'true', name: 'Council' }),
  );

function login(ts: TestServer, username: string, resource: string): Promise<TestClient> {
  return connect({
    port: ts.port,
    domain: 'localhost',
    username,
    password: `${username}-secret`,
    resource,
    mechanism: 'PLAIN',
  });
}

describe('XEP-0049 private XML storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-private-'));
  const start = () => startTestServer({ dir, extraToml: `[private]\nquota = ${QUOTA}` });
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    ts = await start();
    for (const user of ['alice', 'bob']) await ts.addUser(user, `${user}-secret`);
    alice = await login(ts, 'alice', 'laptop');
    bob = await login(ts, 'bob', 'phone');
  });
  after(async () => {
    await Promise.all([alice, bob].map((c) => c?.stop().catch(() => {})));
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the empty element for what was never stored', async () => {
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query('<exodus xmlns="exodus:prefs"/>'),
    ]);
  });

  it('stores an element and returns it, from the account bare JID', async () => {
    const reply = await store(alice, prefs('Hamlet'));
    expect(reply.attrs.type).to.equal('result');
    expect(reply.attrs.from).to.equal('alice@localhost');
    expect(reply.children).to.deep.equal([]);
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query(prefs('Hamlet').toString()),
    ]);
    // A get may address the own bare JID as well.
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }), 'alice@localhost')).to.deep.equal([
      query(prefs('Hamlet').toString()),
    ]);
  });

  it('keeps one element per namespace and name, replaced by the next set', async () => {
    expect((await store(alice, bookmarks(), prefs('Ophelia'))).attrs.type).to.equal('result');
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query(prefs('Ophelia').toString()),
    ]);
    expect(await fetch(alice, xml('storage', { xmlns: 'storage:bookmarks' }))).to.deep.equal([
      query(bookmarks().toString()),
    ]);
    // Same namespace, another name: another key.
    expect(await fetch(alice, xml('other', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query('<other xmlns="exodus:prefs"/>'),
    ]);
    // Accounts do not share anything.
    expect(await fetch(bob, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query('<exodus xmlns="exodus:prefs"/>'),
    ]);
  });

  it('keeps namespace prefixes the element inherited from its query', async () => {
    const reply = await request(
      alice,
      { type: 'set' },
      xml(
        'query',
        { xmlns: PRIVATE, 'xmlns:n': 'urn:example:notes' },
        xml('n:notes', {}, xml('n:note', {}, 'hi')),
      ),
    );
    expect(reply.attrs.type).to.equal('result');
    const [answer] = await fetch(alice, xml('notes', { xmlns: 'urn:example:notes' }));
    expect(answer).to.equal(query('<n:notes xmlns:n="urn:example:notes"><n:note>hi</n:note></n:notes>'));
  });

  it("refuses another account's private data with forbidden, both ways", async () => {
    const get = await request(
      bob,
      { type: 'get', to: 'alice@localhost' },
      xml('query', { xmlns: PRIVATE }, xml('exodus', { xmlns: 'exodus:prefs' })),
    );
    expect(errorOf(get)).to.deep.equal({ type: 'auth', code: '403', condition: 'forbidden' });
    const set = await request(
      bob,
      { type: 'set', to: 'alice@localhost' },
      xml('query', { xmlns: PRIVATE }, prefs('Macbeth')),
    );
    expect(errorOf(set)).to.deep.equal({ type: 'auth', code: '403', condition: 'forbidden' });
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query(prefs('Ophelia').toString()),
    ]);
  });

  it('refuses reserved namespaces with not-acceptable', async () => {
    const reserved = [
      xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Hamlet')),
      xml('query', { xmlns: 'jabber:iq:roster' }),
      xml('x', { xmlns: 'jabber:x:data', type: 'submit' }),
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
    ];
    for (const element of reserved) {
      expect(errorOf(await store(alice, element)), element.toString()).to.deep.equal(NOT_ACCEPTABLE);
      const get = await request(alice, { type: 'get' }, xml('query', { xmlns: PRIVATE }, element));
      expect(errorOf(get), element.toString()).to.deep.equal(NOT_ACCEPTABLE);
    }
  });

  it('refuses a query without a namespaced child with not-acceptable', async () => {
    expect(errorOf(await store(alice))).to.deep.equal(NOT_ACCEPTABLE);
    const get = await request(alice, { type: 'get' }, xml('query', { xmlns: PRIVATE }));
    expect(errorOf(get)).to.deep.equal(NOT_ACCEPTABLE);
    // A child without a namespace of its own is in jabber:iq:private.
    expect(errorOf(await store(alice, xml('prefs')))).to.deep.equal(NOT_ACCEPTABLE);
  });

  it('refuses a get for more than one element with bad-request', async () => {
    const reply = await request(
      alice,
      { type: 'get' },
      xml(
        'query',
        { xmlns: PRIVATE },
        xml('exodus', { xmlns: 'exodus:prefs' }),
        xml('storage', { xmlns: 'storage:bookmarks' }),
      ),
    );
    expect(errorOf(reply)).to.deep.equal({ type: 'modify', code: '400', condition: 'bad-request' });
  });

  it('refuses what would exceed the quota, all of the set or nothing, without echoing it', async () => {
    const big = xml('big', { xmlns: 'urn:example:big' }, 'x'.repeat(QUOTA / 2));
    const bigger = xml('bigger', { xmlns: 'urn:example:big' }, 'x'.repeat(QUOTA / 2));
    const reply = await store(alice, big, bigger);
    expect(errorOf(reply)).to.deep.equal(NOT_ACCEPTABLE);
    expect(reply.getChild('query')).to.equal(undefined);
    expect(reply.getChild('error')!.getChildText('text')).to.match(
      new RegExp(`^private storage would hold \\d+ bytes; this server keeps up to ${QUOTA} per account$`),
    );
    expect(await fetch(alice, xml('big', { xmlns: 'urn:example:big' }))).to.deep.equal([
      query('<big xmlns="urn:example:big"/>'),
    ]);
    // Half of it fits.
    expect((await store(alice, big)).attrs.type).to.equal('result');
    expect(await fetch(alice, xml('big', { xmlns: 'urn:example:big' }))).to.deep.equal([
      query(big.toString()),
    ]);
    // Storing the empty element clears the key, and frees its bytes.
    expect((await store(alice, xml('big', { xmlns: 'urn:example:big' }))).attrs.type).to.equal('result');
    expect((await store(alice, bigger)).attrs.type).to.equal('result');
  });

  it('is kept in SQLite across a restart', async () => {
    await Promise.all([alice, bob].map((c) => c.stop().catch(() => {})));
    await ts.stop();
    ts = await start();
    alice = await login(ts, 'alice', 'laptop');
    bob = await login(ts, 'bob', 'phone');
    expect(await fetch(alice, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query(prefs('Ophelia').toString()),
    ]);
    expect(await fetch(alice, xml('storage', { xmlns: 'storage:bookmarks' }))).to.deep.equal([
      query(bookmarks().toString()),
    ]);
  });

  it('goes with the account when it is deleted', async () => {
    expect((await store(bob, prefs('Bob'))).attrs.type).to.equal('result');
    await bob.stop().catch(() => {});
    await ts.server.accounts.delete(jid('bob', 'localhost'));
    await ts.addUser('bob', 'bob-secret');
    bob = await login(ts, 'bob', 'phone');
    expect(await fetch(bob, xml('exodus', { xmlns: 'exodus:prefs' }))).to.deep.equal([
      query('<exodus xmlns="exodus:prefs"/>'),
    ]);
  });
});
