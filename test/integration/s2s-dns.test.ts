// Two Warbler servers finding each other through DNS rather than static routes (RFC 6120 §3.2,
// XEP-0368 §3), each asking a test DNS server (s2s.dns_servers): a.localhost publishes an
// `_xmpp-server._tcp` record (STARTTLS), b.localhost only an `_xmpps-server._tcp` one (direct
// TLS; its `_xmpp-server` record says "." — not here). A domain whose records all say "." gets
// its stanzas bounced without a connection attempt.

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { errorOf, login, upcoming } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestDns, type TestDns } from '../helpers/test-dns.js';
import { DOMAIN_A, DOMAIN_B, freePort } from './s2s-support.js';

describe('s2s: servers found through DNS', function () {
  this.timeout(30_000);
  let dns: TestDns;
  let a: TestServer;
  let b: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    dns = await startTestDns();
    const [portA, portB, tlsPortB] = [await freePort(), await freePort(), await freePort()];
    dns.set(`_xmpp-server._tcp.${DOMAIN_A}`, [
      { type: 'SRV', priority: 0, weight: 5, port: portA, target: 'xmpp.a.test' },
    ]);
    dns.set('xmpp.a.test', [{ type: 'A', address: '127.0.0.1' }]);
    dns.set(`_xmpps-server._tcp.${DOMAIN_B}`, [
      { type: 'SRV', priority: 0, weight: 5, port: tlsPortB, target: 'xmpp.b.test' },
    ]);
    dns.set(`_xmpp-server._tcp.${DOMAIN_B}`, [{ type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' }]);
    dns.set('xmpp.b.test', [{ type: 'A', address: '127.0.0.1' }]);
    for (const service of ['_xmpp-server', '_xmpps-server'])
      dns.set(`${service}._tcp.nowhere.localhost`, [
        { type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' },
      ]);
    const resolverLine = `dns_servers = ["127.0.0.1:${dns.port}"]`;
    const modules = '[modules]\ndisabled = ["mam", "vcard"]';
    a = await startTestServer({
      hosts: [DOMAIN_A],
      s2s: [`port = ${portA}`, 'direct_tls = false', resolverLine].join('\n'),
      extraToml: modules,
    });
    b = await startTestServer({
      hosts: [DOMAIN_B],
      s2s: [`port = ${portB}`, `direct_tls_port = ${tlsPortB}`, resolverLine].join('\n'),
      extraToml: modules,
    });
    await a.addUser('alice', 'alice-secret');
    await b.addUser('bob', 'bob-secret');
    alice = await login(a, 'alice');
    bob = await login(b, 'bob');
    // Available, so that messages to the bare JIDs reach them rather than offline storage.
    await alice.send(xml('presence'));
    await bob.send(xml('presence'));
  });

  after(async () => {
    await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
    await Promise.all([a?.stop(), b?.stop()]);
    await dns?.stop();
  });

  it('carries a message each way, each server found by its SRV records', async () => {
    const toBob = upcoming(bob)((el) => el.name === 'message' && el.attrs.id === 'dns-1');
    await alice.send(
      xml('message', { to: `bob@${DOMAIN_B}`, type: 'chat', id: 'dns-1' }, xml('body', {}, 'via SRV')),
    );
    expect((await toBob).getChildText('body')).to.equal('via SRV');
    const toAlice = upcoming(alice)((el) => el.name === 'message' && el.attrs.id === 'dns-2');
    await bob.send(
      xml('message', { to: alice.jid!.toString(), type: 'chat', id: 'dns-2' }, xml('body', {}, 'back')),
    );
    expect((await toAlice).getChildText('body')).to.equal('back');
    expect(dns.queries).to.include.members([
      `_xmpps-server._tcp.${DOMAIN_B} SRV`,
      `_xmpp-server._tcp.${DOMAIN_B} SRV`,
      'xmpp.b.test A',
    ]);
  });

  it('bounces a stanza for a domain whose SRV records say the service is not there', async () => {
    const bounced = upcoming(alice)((el) => el.attrs.id === 'dns-3' && el.attrs.type === 'error');
    await alice.send(
      xml('message', { to: 'carol@nowhere.localhost', id: 'dns-3' }, xml('body', {}, 'hello?')),
    );
    expect(errorOf(await bounced)).to.deep.equal({ type: 'cancel', condition: 'remote-server-not-found' });
    expect(dns.queries.filter((q) => q.startsWith('nowhere'))).to.deep.equal([]);
  });
});
