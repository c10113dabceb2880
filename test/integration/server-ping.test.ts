// XEP-0199 §4.1 server-to-client pings: a session quiet for [ping] interval is pinged; one that
// answers (with a result, or with an error as a client without ping support does) stays, one
// that says nothing is closed with a connection-timeout stream error after [ping] timeout, and
// the core's 'session/closed' follows (from which unavailable presence is broadcast).
//
// interval = 2 s and timeout = 1 s: a session that should have been closed for not answering
// its first ping would be gone before its second ping could be sent, so receiving a second
// ping proves that the first answer was taken. (Real deployments use minutes: see [ping].)

import type { XmlElement } from '@xmpp/client';
import { expect } from 'chai';
import type { ClientSession } from '../../src/core/session.js';
import { jid } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import {
  connect,
  eventually,
  expectServesClients,
  expectStreamError,
  parseServerStream,
  type RawClient,
  rawLogin,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PING = 'urn:xmpp:ping';
const PING_CONFIG = '[ping]\ninterval = 2\ntimeout = 1';
/** Long enough for a sweep, a ping and a timeout on a loaded machine; not a measurement. */
const WAIT_MS = 10_000;

function isPing(el: XmlElement): boolean {
  return el.name === 'iq' && el.attrs.type === 'get' && el.getChild('ping', PING) !== undefined;
}

/** Waits for the raw client's `n`th ping from the server (1-based) and returns it. */
async function rawPing(raw: RawClient, n: number): Promise<Element> {
  let found: Element | undefined;
  await eventually(
    () => {
      const pings = parseServerStream(raw.received).elements.filter(
        (el) => el.name === 'iq' && el.getChild('ping', PING) !== undefined,
      );
      found = pings[n - 1];
      return found !== undefined;
    },
    `ping ${n} arrives`,
    WAIT_MS,
  );
  return found!;
}

/** Checks a ping is exactly XEP-0199 Example 1, from the server to this session. */
function expectPingTo(ping: Element | XmlElement, to: string): string {
  const { id, xmlns, ...attrs } = ping.attrs;
  expect(attrs).to.deep.equal({ type: 'get', from: 'localhost', to });
  // Either parser may make the stream's namespace explicit on the stanza.
  expect([undefined, 'jabber:client']).to.include(xmlns);
  expect(id).to.be.a('string').and.not.equal('');
  const children = (ping.children as Array<unknown>).map(String);
  expect(children).to.deep.equal([`<ping xmlns="${PING}"/>`]);
  return id!;
}

describe('XEP-0199 server-to-client pings', () => {
  let ts: TestServer;
  let alice: TestClient;
  const closed: Array<{ jid: string; session: ClientSession }> = [];

  before(async () => {
    ts = await startTestServer({ extraToml: PING_CONFIG });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('carol', 'carol-secret');
    await ts.addUser('dave', 'dave-secret');
    ts.server.hooks.on('session/closed', ({ session }) => {
      closed.push({ jid: session.jid.full, session });
    });
    // @xmpp/client answers pings with a result.
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
      resource: 'r',
      mechanism: 'PLAIN',
    });
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  it('pings a quiet client from the server, and keeps it when it answers', async () => {
    const first = await alice.waitFor(isPing, WAIT_MS);
    const firstId = expectPingTo(first, 'alice@localhost/r');
    const second = await alice.waitFor((el) => isPing(el) && el.attrs.id !== firstId, WAIT_MS);
    expectPingTo(second, 'alice@localhost/r');
    expect(ts.server.sessions.get(jid('alice', 'localhost', 'r'))).to.not.equal(undefined);
  });

  it('closes a client that does not answer with connection-timeout', async () => {
    const { raw, jid: full } = await rawLogin(ts.port, 'bob', 'bob-secret', { resource: 'silent' });
    try {
      expectPingTo(await rawPing(raw, 1), full);
      await expectStreamError(raw, 'connection-timeout', WAIT_MS);
      // The session is gone from routing, and the core said so to the modules.
      await eventually(
        () => ts.server.sessions.get(jid('bob', 'localhost', 'silent')) === undefined,
        'unbound',
      );
      expect(closed.map((c) => c.jid)).to.include(full);
      // The error came after the ping and nothing else came between them.
      const elements = parseServerStream(raw.received).elements.map((el) => el.name);
      expect(elements.slice(-2)).to.deep.equal(['iq', 'stream:error']);
    } finally {
      raw.close();
    }
    // Everyone else is served as before.
    await expectServesClients(ts.port, 'localhost', { username: 'dave', password: 'dave-secret' }, alice);
  });

  it('keeps a client that answers with service-unavailable (§4.1: no ping support)', async () => {
    const { raw, jid: full } = await rawLogin(ts.port, 'carol', 'carol-secret', { resource: 'old' });
    try {
      const id = expectPingTo(await rawPing(raw, 1), full);
      raw.send(
        `<iq type='error' id='${id}' to='localhost'><ping xmlns='${PING}'/>` +
          `<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
      );
      const second = await rawPing(raw, 2);
      expect(expectPingTo(second, full)).to.not.equal(id);
      expect(raw.closed).to.equal(false);
      expect(raw.received).to.not.include('stream:error');
    } finally {
      raw.close();
    }
  });

  it('keeps a client that ignores the ping but sends something else (COMPAT)', async () => {
    const { raw, jid: full } = await rawLogin(ts.port, 'carol', 'carol-secret', { resource: 'rude' });
    try {
      expectPingTo(await rawPing(raw, 1), full);
      raw.send('<presence/>');
      expectPingTo(await rawPing(raw, 2), full);
      expect(raw.closed).to.equal(false);
      expect(raw.received).to.not.include('stream:error');
    } finally {
      raw.close();
    }
  });
});
