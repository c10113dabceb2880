// Client streams end to end: a real server on loopback, @xmpp/client logging in over
// STARTTLS and direct TLS, binding, and two users exchanging stanzas.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('c2s: login and chat', () => {
  let ts: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  async function login(
    username: string,
    password: string,
    extra: { resource?: string; mechanism?: string; directTls?: boolean } = {},
  ) {
    const c = await connect({
      port: extra.directTls ? ts.tlsPort : ts.port,
      domain: 'localhost',
      username,
      password,
      ...extra,
    });
    clients.push(c);
    return c;
  }

  it('logs in with SCRAM-SHA-1 over STARTTLS and binds the requested resource', async () => {
    const alice = await login('alice', 'alice-secret', { resource: 'laptop', mechanism: 'SCRAM-SHA-1' });
    expect(alice.jid?.toString()).to.equal('alice@localhost/laptop');
  });

  it('delivers a message between full JIDs with the sender stamped', async () => {
    const alice = await login('alice', 'alice-secret', { resource: 'a' });
    const bob = await login('bob', 'bob-secret', { resource: 'b' });
    await alice.send(
      xml('message', { to: 'bob@localhost/b', type: 'chat', id: 'm1' }, xml('body', {}, 'hi bob')),
    );
    const msg = await bob.waitFor((el) => el.name === 'message');
    expect(msg.attrs.from).to.equal('alice@localhost/a');
    expect(msg.attrs.to).to.equal('bob@localhost/b');
    expect(msg.getChildText('body')).to.equal('hi bob');
  });
});

describe('c2s: routing rules (RFC 6120 §10, RFC 6121 §8.5)', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let bob2: TestClient;

  before(async () => {
    // Without offline storage, so that the router's own fallback (RFC 6121 §8.5.2.2.1) shows.
    // Without XEP-0198 resumption either: a vanished client's session ends at once.
    ts = await startTestServer({
      extraToml: '[modules]\ndisabled = ["offline"]',
      c2s: 'resumption_timeout = 0',
    });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('carol', 'carol-secret');
    const at = (username: string, resource: string) =>
      connect({ port: ts.port, domain: 'localhost', username, password: `${username}-secret`, resource });
    alice = await at('alice', 'a');
    bob = await at('bob', 'desk');
    bob2 = await at('bob', 'phone');
  });
  after(async () => {
    await Promise.all([alice, bob, bob2].map((c) => c.stop().catch(() => {})));
    await ts.stop();
  });

  const chat = (to: string, id: string, body = 'hello') =>
    xml('message', { to, type: 'chat', id }, xml('body', {}, body));
  const errorFor = (id: string) => (el: XmlElement) => el.attrs.id === id && el.attrs.type === 'error';
  const condition = (el: XmlElement) =>
    el.getChild('error')?.children.find((c) => typeof c !== 'string') as XmlElement;

  it('bounces a message for a user without available resources with service-unavailable and code 503', async () => {
    // carol exists but is offline, and offline storage is disabled here.
    await alice.send(chat('carol@localhost', 'to-offline'));
    const error = await alice.waitFor(errorFor('to-offline'));
    expect(error.attrs.from).to.equal('carol@localhost');
    expect(condition(error).name).to.equal('service-unavailable');
    expect(condition(error).attrs.xmlns).to.equal('urn:ietf:params:xml:ns:xmpp-stanzas');
    expect(error.getChild('error')?.attrs.type).to.equal('cancel');
    expect(error.getChild('error')?.attrs.code).to.equal('503');
    // The original payload comes back with the error.
    expect(error.getChildText('body')).to.equal('hello');
  });

  it('bounces a message for an account that does not exist', async () => {
    await alice.send(chat('nobody@localhost', 'to-nobody'));
    const error = await alice.waitFor(errorFor('to-nobody'));
    expect(condition(error).name).to.equal('service-unavailable');
  });

  it('treats a message of a type it does not know as normal (RFC 6121 §5.2.2)', async () => {
    // Offline storage is disabled here: a normal message for offline carol is bounced.
    await alice.send(
      xml('message', { to: 'carol@localhost', type: 'x-odd', id: 'odd-type' }, xml('body', {}, 'hi')),
    );
    const error = await alice.waitFor(errorFor('odd-type'));
    expect(condition(error).name).to.equal('service-unavailable');
    expect(error.attrs.from).to.equal('carol@localhost');
  });

  it('never answers an error with an error', async () => {
    await alice.send(xml('message', { to: 'nobody@localhost', type: 'error', id: 'err-1' }));
    await alice.send(
      xml('iq', { to: 'localhost', type: 'get', id: 'after-err' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    await alice.waitFor((el) => el.attrs.id === 'after-err');
    expect(alice.received.filter((el) => el.attrs.id === 'err-1')).to.have.length(0);
  });

  it('delivers a chat message to a bare JID to the available resources with the highest priority', async () => {
    await bob.send(xml('presence', {}, xml('priority', {}, '5')));
    await bob2.send(xml('presence', {}, xml('priority', {}, '1')));
    // Both resources' presences are processed in order before alice's message arrives.
    await new Promise((r) => setTimeout(r, 100));
    await alice.send(chat('bob@localhost', 'to-bare', 'to the top resource'));
    const got = await bob.waitFor((el) => el.attrs.id === 'to-bare');
    expect(got.attrs.to).to.equal('bob@localhost');
    expect(got.attrs.from).to.equal('alice@localhost/a');
    await new Promise((r) => setTimeout(r, 100));
    expect(bob2.received.filter((el) => el.attrs.id === 'to-bare')).to.have.length(0);
  });

  it('delivers a headline to a bare JID to every available resource', async () => {
    await alice.send(
      xml('message', { to: 'bob@localhost', type: 'headline', id: 'hl' }, xml('body', {}, 'news')),
    );
    await bob.waitFor((el) => el.attrs.id === 'hl');
    await bob2.waitFor((el) => el.attrs.id === 'hl');
  });

  it('treats a chat message for an unknown resource as addressed to the bare JID', async () => {
    await alice.send(chat('bob@localhost/gone', 'to-gone'));
    const got = await bob.waitFor((el) => el.attrs.id === 'to-gone');
    expect(got.attrs.to).to.equal('bob@localhost/gone');
  });

  it('answers an iq get for an unknown resource with service-unavailable', async () => {
    await alice.send(
      xml(
        'iq',
        { to: 'bob@localhost/gone', type: 'get', id: 'iq-gone' },
        xml('query', { xmlns: 'jabber:iq:version' }),
      ),
    );
    const error = await alice.waitFor(errorFor('iq-gone'));
    expect(condition(error).name).to.equal('service-unavailable');
  });

  it('routes an iq between full JIDs and its result back', async () => {
    await alice.send(
      xml(
        'iq',
        { to: 'bob@localhost/phone', type: 'get', id: 'v1' },
        xml('query', { xmlns: 'jabber:iq:version' }),
      ),
    );
    const request = await bob2.waitFor((el) => el.name === 'iq' && el.attrs.id === 'v1');
    expect(request.attrs.from).to.equal('alice@localhost/a');
    await bob2.send(
      xml(
        'iq',
        { to: request.attrs.from, type: 'result', id: 'v1' },
        xml('query', { xmlns: 'jabber:iq:version' }),
      ),
    );
    const result = await alice.waitFor((el) => el.attrs.id === 'v1' && el.attrs.type === 'result');
    expect(result.attrs.from).to.equal('bob@localhost/phone');
  });

  it('delivers directed presence to a full JID', async () => {
    await alice.send(xml('presence', { to: 'bob@localhost/desk', id: 'dp' }, xml('status', {}, 'hi')));
    const got = await bob.waitFor((el) => el.name === 'presence' && el.attrs.id === 'dp');
    expect(got.attrs.from).to.equal('alice@localhost/a');
  });

  it('prepares the to address (case-folded localpart and domain) before routing', async () => {
    await alice.send(chat('BOB@LocalHost/desk', 'case'));
    const got = await bob.waitFor((el) => el.attrs.id === 'case');
    expect(got.attrs.to).to.equal('bob@localhost/desk');
  });

  it('bounces a malformed to with jid-malformed', async () => {
    await alice.send(chat('bad@@localhost', 'malformed'));
    const error = await alice.waitFor(errorFor('malformed'));
    expect(condition(error).name).to.equal('jid-malformed');
    expect(error.getChild('error')?.attrs.code).to.equal('400');
  });

  it('treats a message without to as addressed to the sender’s own bare JID', async () => {
    await bob.send(xml('message', { type: 'chat', id: 'self' }, xml('body', {}, 'note to self')));
    const got = await bob.waitFor((el) => el.attrs.id === 'self');
    expect(got.attrs.from).to.equal('bob@localhost/desk');
  });

  it('answers an iq get or set without exactly one payload with bad-request', async () => {
    await alice.send(
      xml(
        'iq',
        { to: 'localhost', type: 'get', id: 'two' },
        xml('a', { xmlns: 'urn:x' }),
        xml('b', { xmlns: 'urn:x' }),
      ),
    );
    const error = await alice.waitFor(errorFor('two'));
    expect(condition(error).name).to.equal('bad-request');
  });

  it('forgets a session whose client vanished', async () => {
    const c = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'carol',
      password: 'carol-secret',
      resource: 'x',
    });
    expect(ts.server.sessions.resources('carol@localhost')).to.have.length(1);
    (c as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
    for (let i = 0; i < 50 && ts.server.sessions.resources('carol@localhost').length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ts.server.sessions.resources('carol@localhost')).to.have.length(0);
  });
});
