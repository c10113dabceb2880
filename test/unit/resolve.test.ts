// Server-to-server resolution (RFC 6120 §3.2, RFC 2782, XEP-0368 §3) against a fake resolver.

import type { SrvRecord } from 'node:dns';
import { expect } from 'chai';
import {
  dnsName,
  dnsServerResolver,
  orderSrv,
  type ResolvedAddress,
  type Resolver,
  resolveServerTargets,
} from '../../src/net/resolve.js';
import { startTestDns, type TestDns } from '../helpers/test-dns.js';

/** A resolver answering from a table; names without an entry have no records. */
function fakeResolver(srv: Record<string, SrvRecord[] | Error>): Resolver & { queried: string[] } {
  const queried: string[] = [];
  return {
    queried,
    async resolveSrv(name) {
      queried.push(name);
      const answer = srv[name];
      if (answer instanceof Error) throw answer;
      return answer ?? [];
    },
    async lookup(): Promise<ResolvedAddress[]> {
      throw new Error('resolution must not look addresses up');
    },
  };
}

function srv(name: string, port: number, priority = 0, weight = 0): SrvRecord {
  return { name, port, priority, weight };
}

/** A random source that returns these numbers in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('resolveServerTargets', () => {
  it('falls back to the domain on 5269 with STARTTLS when there are no SRV records', async () => {
    const resolver = fakeResolver({});
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([
      { host: 'example.org', port: 5269, directTls: false },
    ]);
    expect(resolver.queried.sort()).to.deep.equal([
      '_xmpp-server._tcp.example.org',
      '_xmpps-server._tcp.example.org',
    ]);
  });

  it('treats a failing SRV query as no records', async () => {
    const resolver = fakeResolver({ '_xmpp-server._tcp.example.org': new Error('SERVFAIL') });
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([
      { host: 'example.org', port: 5269, directTls: false },
    ]);
  });

  it('orders records by priority, mixing direct TLS and STARTTLS ones', async () => {
    const resolver = fakeResolver({
      '_xmpps-server._tcp.example.org': [srv('tls2.example.org', 5270, 20), srv('tls1.example.org', 443, 5)],
      '_xmpp-server._tcp.example.org': [srv('b.example.org', 5269, 10), srv('a.example.org', 5269, 30)],
    });
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([
      { host: 'tls1.example.org', port: 443, directTls: true },
      { host: 'b.example.org', port: 5269, directTls: false },
      { host: 'tls2.example.org', port: 5270, directTls: true },
      { host: 'a.example.org', port: 5269, directTls: false },
    ]);
  });

  it('returns nothing when the only STARTTLS record is "." and there is no direct TLS one', async () => {
    const resolver = fakeResolver({ '_xmpp-server._tcp.example.org': [srv('.', 0)] });
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([]);
  });

  it('returns nothing, without an A/AAAA fallback, when the direct TLS record is "." and there is no other', async () => {
    const resolver = fakeResolver({ '_xmpps-server._tcp.example.org': [srv('', 0)] });
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([]);
  });

  it('uses the STARTTLS records when the direct TLS service is "."', async () => {
    const resolver = fakeResolver({
      '_xmpps-server._tcp.example.org': [srv('.', 0)],
      '_xmpp-server._tcp.example.org': [srv('xmpp.example.org.', 5999, 1, 1)],
    });
    expect(await resolveServerTargets('example.org', { resolver })).to.deep.equal([
      { host: 'xmpp.example.org', port: 5999, directTls: false },
    ]);
  });

  it('queries A-labels for an internationalized domain, and falls back to its A-label', async () => {
    const resolver = fakeResolver({});
    expect(await resolveServerTargets('Bücher.example', { resolver })).to.deep.equal([
      { host: 'xn--bcher-kva.example', port: 5269, directTls: false },
    ]);
    expect(resolver.queried).to.include('_xmpp-server._tcp.xn--bcher-kva.example');
  });

  it('uses an address literal as it is, without DNS', async () => {
    const resolver = fakeResolver({});
    expect(await resolveServerTargets('[::1]', { resolver })).to.deep.equal([
      { host: '::1', port: 5269, directTls: false },
    ]);
    expect(await resolveServerTargets('127.0.0.1', { resolver })).to.deep.equal([
      { host: '127.0.0.1', port: 5269, directTls: false },
    ]);
    expect(resolver.queried).to.deep.equal([]);
  });

  it('refuses a domain DNS cannot carry', async () => {
    let error: unknown;
    try {
      await resolveServerTargets('exa mple..org', { resolver: fakeResolver({}) });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(RangeError);
  });
});

describe('orderSrv (RFC 2782 weights)', () => {
  const entries = (records: SrvRecord[]) => records.map((record) => ({ record }));
  const names = (ordered: Array<{ record: SrvRecord }>) => ordered.map((e) => e.record.name);

  it('picks by running sum: a low random number picks the first record, a high one the last', () => {
    const records = entries([srv('a', 1, 0, 10), srv('b', 1, 0, 30), srv('c', 1, 0, 60)]);
    // total 100: 0 → a (running 10 ≥ 0); then total 90 over b, c: 0 → b.
    expect(names(orderSrv(records, sequence(0)))).to.deep.equal(['a', 'b', 'c']);
    // 0.99 × 101 = 99 → c (running 100); then 0.99 × 41 = 40 → b (running 40), then a.
    expect(names(orderSrv(records, sequence(0.99)))).to.deep.equal(['c', 'b', 'a']);
    // 0.3 × 101 = 30 → b (running 40 ≥ 30); then 0.3 × 71 = 21 → c (10, 70).
    expect(names(orderSrv(records, sequence(0.3)))).to.deep.equal(['b', 'c', 'a']);
  });

  it('puts weight-0 records first in the running sum, so they win only on a zero draw', () => {
    const records = entries([srv('heavy', 1, 0, 5), srv('zero', 1, 0, 0)]);
    expect(names(orderSrv(records, sequence(0)))).to.deep.equal(['zero', 'heavy']);
    expect(names(orderSrv(records, sequence(0.5)))).to.deep.equal(['heavy', 'zero']);
  });

  it('never lets a lower priority (higher number) overtake, whatever the weights', () => {
    const records = entries([srv('backup', 1, 20, 1000), srv('main', 1, 10, 0)]);
    expect(names(orderSrv(records, sequence(0.99)))).to.deep.equal(['main', 'backup']);
  });

  it('spreads choices in proportion to weight', () => {
    const records = entries([srv('a', 1, 0, 1), srv('b', 1, 0, 3)]);
    const firsts = { a: 0, b: 0 } as Record<string, number>;
    // Every draw in [0, total] once: a for 0 and 1 (its running sum is 1), b for 2, 3 and 4.
    for (let i = 0; i < 5; i++) {
      const first = names(orderSrv(records, sequence(i / 5, 0)))[0]!;
      firsts[first]!++;
    }
    expect(firsts).to.deep.equal({ a: 2, b: 3 });
  });
});

describe('dnsName', () => {
  it('lower-cases, strips the root dot and converts to A-labels', () => {
    expect(dnsName('Example.ORG.')).to.equal('example.org');
    expect(dnsName('例え.テスト')).to.equal('xn--r8jz45g.xn--zckzah');
  });
});

describe('resolution over real DNS (a test server on loopback)', () => {
  let dns: TestDns;

  before(async () => {
    dns = await startTestDns();
    dns.set('_xmpp-server._tcp.example.test', [
      { type: 'SRV', priority: 10, weight: 0, port: 15269, target: 'xmpp.example.test' },
    ]);
    dns.set('_xmpps-server._tcp.example.test', [
      { type: 'SRV', priority: 5, weight: 0, port: 15270, target: 'tls.example.test' },
    ]);
    dns.set('xmpp.example.test', [
      { type: 'A', address: '127.0.0.1' },
      { type: 'AAAA', address: '::1' },
    ]);
    dns.set('v4only.example.test', [{ type: 'A', address: '192.0.2.7' }]);
    dns.set('_xmpp-server._tcp.gone.test', [{ type: 'SRV', priority: 0, weight: 0, port: 0, target: '.' }]);
  });

  after(() => dns.stop());

  it('reads SRV records of both services', async () => {
    const resolver = dnsServerResolver([`127.0.0.1:${dns.port}`]);
    expect(await resolveServerTargets('example.test', { resolver })).to.deep.equal([
      { host: 'tls.example.test', port: 15270, directTls: true },
      { host: 'xmpp.example.test', port: 15269, directTls: false },
    ]);
  });

  it('falls back when the domain has no SRV records, and refuses a "." target', async () => {
    const resolver = dnsServerResolver([`127.0.0.1:${dns.port}`]);
    expect(await resolveServerTargets('nothing.test', { resolver })).to.deep.equal([
      { host: 'nothing.test', port: 5269, directTls: false },
    ]);
    expect(await resolveServerTargets('gone.test', { resolver })).to.deep.equal([]);
  });

  it('looks up both address families, and an empty list for a name without addresses', async () => {
    const resolver = dnsServerResolver([`127.0.0.1:${dns.port}`]);
    expect(await resolver.lookup('xmpp.example.test')).to.deep.equal([
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ]);
    expect(await resolver.lookup('v4only.example.test')).to.deep.equal([{ address: '192.0.2.7', family: 4 }]);
    expect(await resolver.lookup('missing.test')).to.deep.equal([]);
  });
});
