// What becomes of stanzas for a remote domain that cannot be reached (RFC 6120 §8.3.3.15 and
// §8.3.3.16, XEP-0220 §2.1.1 queueing): messages and requests come back with
// remote-server-not-found when nothing answers or policy forbids the domain, with
// remote-server-timeout when a server accepts the connection but never authenticates; errors
// and presence are never bounced; what waits beyond s2s.queue_limit comes back at once.

import net from 'node:net';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { eventually, expectStreamError, RawClient, type TestClient } from '../helpers/client.js';
import { errorOf, login, request, settle } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort } from './s2s-support.js';

describe('s2s: unreachable domains', function () {
  this.timeout(30_000);
  let ts: TestServer;
  let alice: TestClient;
  /** Accepts connections and never says a word. */
  let silent: net.Server;
  const held: net.Socket[] = [];

  before(async () => {
    const closedPort = await freePort();
    silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    ts = await startTestServer({
      hosts: ['a.localhost'],
      s2s: [
        'auth_timeout = 5',
        'queue_limit = 4',
        'deny = ["denied.localhost"]',
        'max_connections_per_ip = 1',
      ].join('\n'),
      extraToml: [
        '[s2s.routes."dead.localhost"]',
        'host = "127.0.0.1"',
        `port = ${closedPort}`,
        '[s2s.routes."silent.localhost"]',
        'host = "127.0.0.1"',
        `port = ${silentPort}`,
        '[modules]',
        'disabled = ["mam"]',
      ].join('\n'),
    });
    await ts.addUser('alice', 'alice-secret');
    alice = await login(ts, 'alice');
  });

  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
    for (const socket of held) socket.destroy();
    silent?.close();
  });

  /** The error that comes back for the stanza `id`; waits past s2s.auth_timeout. */
  const errorFor = (c: TestClient, id: string) => {
    const mark = c.received.length;
    return c.waitFor(
      (el) => c.received.indexOf(el) >= mark && el.attrs.id === id && el.attrs.type === 'error',
      15_000,
    );
  };

  it('bounces a message for a domain whose server does not answer with remote-server-not-found', async () => {
    const bounced = errorFor(alice, 'dead-1');
    await alice.send(
      xml('message', { to: 'bob@dead.localhost', id: 'dead-1', type: 'chat' }, xml('body', {}, 'hi')),
    );
    const reply = await bounced;
    expect(reply.name).to.equal('message');
    expect(reply.attrs.from).to.equal('bob@dead.localhost');
    expect(reply.attrs.to).to.equal(alice.jid!.toString());
    expect(errorOf(reply)).to.deep.equal({ type: 'cancel', condition: 'remote-server-not-found' });
    expect(reply.getChildText('body')).to.equal('hi');
  });

  it('bounces an iq request the same way, but never an error, a result or presence', async () => {
    const mark = alice.received.length;
    const reply = request(alice, 'get', xml('ping', { xmlns: NS.PING }), 'dead.localhost');
    await alice.send(xml('message', { to: 'bob@dead.localhost', id: 'err-1', type: 'error' }));
    await alice.send(xml('iq', { to: 'bob@dead.localhost', id: 'res-1', type: 'result' }));
    await alice.send(xml('presence', { to: 'bob@dead.localhost', id: 'pres-1' }));
    expect(errorOf(await reply)).to.deep.equal({ type: 'cancel', condition: 'remote-server-not-found' });
    await settle(alice);
    const answered = alice.received.slice(mark).map((el) => el.attrs.id);
    expect(answered).to.not.include.members(['err-1', 'res-1', 'pres-1']);
  });

  it('bounces a message for a denied domain without connecting', async () => {
    const bounced = errorFor(alice, 'denied-1');
    await alice.send(xml('message', { to: 'eve@denied.localhost', id: 'denied-1' }, xml('body', {}, 'x')));
    expect(errorOf(await bounced)).to.deep.equal({ type: 'cancel', condition: 'remote-server-not-found' });
    expect(ts.server.federation!.manager.connections).to.not.include('a.localhost→denied.localhost');
  });

  it('holds at most queue_limit stanzas for a server that never authenticates, then bounces with remote-server-timeout', async () => {
    const ids = ['slow-1', 'slow-2', 'slow-3', 'slow-4', 'slow-5'];
    const replies = ids.map((id) => errorFor(alice, id));
    for (const id of ids)
      await alice.send(xml('message', { to: 'bob@silent.localhost', id }, xml('body', {}, id)));
    // The fifth does not fit in the queue and comes back at once.
    expect(errorOf(await replies[4]!)).to.deep.equal({ type: 'wait', condition: 'resource-constraint' });
    expect(ts.server.federation!.manager.connections).to.include('a.localhost→silent.localhost');
    for (const reply of replies.slice(0, 4))
      expect(errorOf(await reply)).to.deep.equal({ type: 'wait', condition: 'remote-server-timeout' });
    expect(ts.server.federation!.manager.connections).to.not.include('a.localhost→silent.localhost');
  });

  it('refuses an incoming stream from a denied domain with policy-violation', async () => {
    const raw = await RawClient.connect(ts.s2sPort);
    try {
      raw.send(
        `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
          ` xmlns:db='${NS.DIALBACK}' from='conference.denied.localhost' to='a.localhost' version='1.0'>`,
      );
      await expectStreamError(raw, 'policy-violation');
    } finally {
      raw.close();
    }
    await eventually(() => ts.server.federation!.incoming.length === 0, 'the refused stream is gone');
  });

  it('refuses a second incoming connection from an address at s2s.max_connections_per_ip', async () => {
    const header =
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
      ` xmlns:db='${NS.DIALBACK}' from='other.localhost' to='a.localhost' version='1.0'>`;
    const first = await RawClient.connect(ts.s2sPort);
    try {
      first.send(header);
      await first.expect(/<\/stream:features>/);
      const second = await RawClient.connect(ts.s2sPort);
      await expectStreamError(second, 'policy-violation');
    } finally {
      first.close();
    }
  });
});
