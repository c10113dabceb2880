// Client streams end to end: a real server on loopback, @xmpp/client logging in over
// STARTTLS and direct TLS, binding, and two users exchanging stanzas.

import { xml } from '@xmpp/client';
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
