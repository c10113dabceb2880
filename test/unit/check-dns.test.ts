// `warbler check`'s DNS findings (RFC 6120 §3.2, XEP-0368), read from a test DNS server on
// loopback through the same resolver the check uses.

import { expect } from 'chai';
import { dnsServerResolver, type Resolver } from '../../src/net/resolve.js';
import { checkDns, isReservedName, type ServicePorts } from '../../src/ops/check-dns.js';
import { startTestDns, type TestDns } from '../helpers/test-dns.js';

const STANDARD: ServicePorts = { c2s: 5222, c2sDirectTls: 5223, s2s: 5269, s2sDirectTls: 5270 };

describe('warbler check: DNS', () => {
  let dns: TestDns;
  let resolver: Resolver;

  before(async () => {
    dns = await startTestDns();
    resolver = dnsServerResolver([`127.0.0.1:${dns.port}`]);
  });

  after(() => dns.stop());

  it('skips names the public DNS never holds', async () => {
    expect(await checkDns(['localhost', 'chat.test'], STANDARD, resolver)).to.deep.equal([
      {
        level: 'note',
        message:
          'DNS: localhost is not a public DNS name, so clients and servers elsewhere cannot find it; SRV records not checked',
      },
      {
        level: 'note',
        message:
          'DNS: chat.test is not a public DNS name, so clients and servers elsewhere cannot find it; SRV records not checked',
      },
    ]);
    expect(
      ['example.org', 'muc.example', 'x.home.arpa', '127.0.0.1', '[::1]'].map(isReservedName),
    ).to.deep.equal([false, true, true, true, true]);
  });

  it('reports published records, and addresses missing behind them', async () => {
    dns.set('_xmpp-client._tcp.full.org', [
      { type: 'SRV', priority: 0, weight: 5, port: 5222, target: 'xmpp.full.org' },
    ]);
    dns.set('_xmpps-client._tcp.full.org', [
      { type: 'SRV', priority: 0, weight: 5, port: 443, target: 'xmpp.full.org' },
    ]);
    dns.set('_xmpp-server._tcp.full.org', [
      { type: 'SRV', priority: 0, weight: 5, port: 5269, target: 'xmpp.full.org' },
      { type: 'SRV', priority: 10, weight: 0, port: 5269, target: 'backup.full.org' },
    ]);
    dns.set('_xmpps-server._tcp.full.org', [{ type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' }]);
    dns.set('xmpp.full.org', [{ type: 'A', address: '192.0.2.1' }]);
    dns.set('backup.full.org', []);
    expect(await checkDns(['full.org'], STANDARD, resolver)).to.deep.equal([
      {
        level: 'ok',
        message: 'DNS: _xmpp-client._tcp.full.org → xmpp.full.org:5222 (priority 0, weight 5)',
      },
      {
        level: 'ok',
        message: 'DNS: _xmpps-client._tcp.full.org → xmpp.full.org:443 (priority 0, weight 5)',
      },
      {
        level: 'note',
        message:
          'DNS: _xmpps-client._tcp.full.org names port 443 but c2s.direct_tls_port is 5223: fine behind a port forward or proxy, otherwise fix one of them',
      },
      {
        level: 'ok',
        message:
          'DNS: _xmpp-server._tcp.full.org → xmpp.full.org:5269 (priority 0, weight 5), backup.full.org:5269 (priority 10, weight 0)',
      },
      {
        level: 'problem',
        message:
          'DNS: backup.full.org, named by _xmpp-server._tcp.full.org, has no A or AAAA record: other servers cannot reach it; add one',
      },
      { level: 'ok', message: 'DNS: _xmpps-server._tcp.full.org says "." (no direct TLS offered)' },
    ]);
  });

  it('finds a non-standard port without a record, and a "." that turns everyone away', async () => {
    dns.set('_xmpp-server._tcp.bare.org', [{ type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' }]);
    const ports: ServicePorts = { c2s: 15222, c2sDirectTls: undefined, s2s: 5269, s2sDirectTls: undefined };
    expect(await checkDns(['bare.org'], ports, resolver)).to.deep.equal([
      {
        level: 'problem',
        message:
          'DNS: no _xmpp-client._tcp.bare.org record, so clients will connect to bare.org:5222, but c2s.port is 15222: ' +
          'publish "_xmpp-client._tcp.bare.org. SRV 0 5 15222 <this host>." or set c2s.port = 5222',
      },
      {
        level: 'problem',
        message:
          'DNS: _xmpp-server._tcp.bare.org says "." (no service), so other servers will not connect at all: ' +
          'remove that record, or publish one naming this host and port 5269',
      },
    ]);
  });

  it('says what the standard fallback means, and what direct TLS lacks', async () => {
    expect(await checkDns(['plain.org'], STANDARD, resolver)).to.deep.equal([
      { level: 'ok', message: 'DNS: no _xmpp-client._tcp.plain.org record: clients will use plain.org:5222' },
      {
        level: 'note',
        message:
          'DNS: no _xmpps-client._tcp.plain.org record: clients will not know of direct TLS on port 5223; publish one to offer it (XEP-0368)',
      },
      {
        level: 'ok',
        message: 'DNS: no _xmpp-server._tcp.plain.org record: other servers will use plain.org:5269',
      },
      {
        level: 'note',
        message:
          'DNS: no _xmpps-server._tcp.plain.org record: other servers will not know of direct TLS on port 5270; publish one to offer it (XEP-0368)',
      },
    ]);
  });

  it('leaves out server records when federation is off, and notes a DNS it cannot ask', async () => {
    const failing: Resolver = {
      resolveSrv: async () => {
        throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
      },
      lookup: async () => [],
    };
    const ports: ServicePorts = {
      c2s: 5222,
      c2sDirectTls: undefined,
      s2s: undefined,
      s2sDirectTls: undefined,
    };
    expect(await checkDns(['offline.org'], ports, failing)).to.deep.equal([
      {
        level: 'note',
        message: 'DNS: cannot look up _xmpp-client._tcp.offline.org (ETIMEOUT); SRV records not checked',
      },
      {
        level: 'note',
        message: 'DNS: cannot look up _xmpps-client._tcp.offline.org (ETIMEOUT); SRV records not checked',
      },
    ]);
  });
});
