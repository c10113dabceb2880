// Federation between two Warbler servers in one process (RFC 6120 §4–§13 for server streams,
// XEP-0220 dialback, XEP-0178 SASL EXTERNAL): users of a.localhost and b.localhost exchange
// messages, subscribe to each other's presence and query the other server, once with
// self-signed certificates (dialback authenticates) and once with certificates from a shared
// test CA under s2s.secure_auth (only SASL EXTERNAL may authenticate).

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { eventually, parseServerStream, RawClient, type TestClient } from '../helpers/client.js';
import { befriend, expectStanza, login, presenceFrom, request, rosterOf, upcoming } from '../helpers/im.js';
import { DOMAIN_A, DOMAIN_B, type Pair, startPair } from './s2s-support.js';

const BOB = `bob@${DOMAIN_B}`;

function exchangeTests(get: () => { pair: Pair; alice: TestClient; bob: TestClient }): void {
  it('carries a message each way with the sender’s full JID', async () => {
    const { alice, bob } = get();
    const toBob = upcoming(bob)((el) => el.name === 'message' && el.attrs.id === 'm1');
    await alice.send(xml('message', { to: BOB, type: 'chat', id: 'm1' }, xml('body', {}, 'hello from a')));
    expectStanza(
      await toBob,
      xml(
        'message',
        { to: BOB, from: alice.jid!.toString(), type: 'chat', id: 'm1' },
        xml('body', {}, 'hello from a'),
      ),
    );
    const toAlice = upcoming(alice)((el) => el.name === 'message' && el.attrs.id === 'm2');
    await bob.send(
      xml('message', { to: alice.jid!.toString(), type: 'chat', id: 'm2' }, xml('body', {}, 'hi b')),
    );
    expectStanza(
      await toAlice,
      xml(
        'message',
        { to: alice.jid!.toString(), from: bob.jid!.toString(), type: 'chat', id: 'm2' },
        xml('body', {}, 'hi b'),
      ),
    );
  });

  it('subscribes both ways and then carries presence', async () => {
    const { alice, bob } = get();
    await befriend(alice, bob);
    expect(await rosterOf(alice)).to.deep.equal({ [BOB]: 'both' });
    expect(await rosterOf(bob)).to.deep.equal({ [`alice@${DOMAIN_A}`]: 'both' });
    // Now that each is subscribed to the other, a new availability reaches the contact.
    const seen = upcoming(bob)(presenceFrom(alice.jid!.toString()));
    await alice.send(xml('presence', {}, xml('status', {}, 'federated')));
    expect((await seen).getChildText('status')).to.equal('federated');
    const back = upcoming(alice)(presenceFrom(bob.jid!.toString()));
    await bob.send(xml('presence', {}, xml('show', {}, 'away')));
    expect((await back).getChildText('show')).to.equal('away');
  });

  it('probes the remote contact for a resource that comes online (RFC 6121 §4.3)', async () => {
    const { pair, bob } = get();
    const second = await login(pair.a, 'alice', 'second');
    try {
      const probed = upcoming(second)(presenceFrom(bob.jid!.toString()));
      await second.send(xml('presence'));
      expect((await probed).getChildText('show')).to.equal('away');
    } finally {
      await second.stop().catch(() => {});
    }
  });

  it('answers an iq from the other server’s domain (ping, version)', async () => {
    const { alice, bob } = get();
    const pong = await request(alice, 'get', xml('ping', { xmlns: NS.PING }), DOMAIN_B);
    expectStanza(pong, xml('iq', { type: 'result', from: DOMAIN_B, to: alice.jid!.toString() }), ['id']);
    const version = await request(bob, 'get', xml('query', { xmlns: NS.VERSION }), DOMAIN_A);
    expect(version.attrs.type, version.toString()).to.equal('result');
    expect(version.attrs.from).to.equal(DOMAIN_A);
    expect(version.getChild('query', NS.VERSION)?.getChildText('name')).to.equal('Warbler');
  });
}

async function loginBoth(pair: Pair): Promise<{ alice: TestClient; bob: TestClient }> {
  await pair.a.addUser('alice', 'alice-secret');
  await pair.b.addUser('bob', 'bob-secret');
  const alice = await login(pair.a, 'alice');
  const bob = await login(pair.b, 'bob');
  // Interested resources (RFC 6121 §2.2), so that they get roster pushes.
  expect(await rosterOf(alice)).to.deep.equal({});
  expect(await rosterOf(bob)).to.deep.equal({});
  await alice.send(xml('presence'));
  await bob.send(xml('presence'));
  return { alice, bob };
}

describe('s2s: two Warbler servers', function () {
  this.timeout(30_000);

  describe('with self-signed certificates (dialback)', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair({ s2s: 'bidi = false' });
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    exchangeTests(() => ({ pair, alice, bob }));

    it('authenticated each direction with dialback, one connection per pair', () => {
      const { a, b } = pair;
      expect(a.server.federation!.stats).to.deep.equal({
        inboundExternal: 0,
        inboundDialback: 1,
        outboundExternal: 0,
        outboundDialback: 1,
      });
      expect(b.server.federation!.stats).to.deep.equal({
        inboundExternal: 0,
        inboundDialback: 1,
        outboundExternal: 0,
        outboundDialback: 1,
      });
      expect(a.server.federation!.manager.connections).to.deep.equal([`${DOMAIN_A}→${DOMAIN_B}`]);
      expect(b.server.federation!.manager.connections).to.deep.equal([`${DOMAIN_B}→${DOMAIN_A}`]);
    });
  });

  describe('with certificates from a shared CA and secure_auth (SASL EXTERNAL)', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair({ ca: true, s2s: 'secure_auth = true\nbidi = false' });
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    exchangeTests(() => ({ pair, alice, bob }));

    it('offers a peer without a trusted certificate no way in, and refuses its dialback', async () => {
      const raw = await RawClient.connect(pair.b.s2sPort);
      try {
        const header =
          `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
          ` xmlns:db='${NS.DIALBACK}' from='${DOMAIN_A}' to='${DOMAIN_B}' version='1.0'>`;
        raw.send(header);
        await raw.expect(/<\/stream:features>/);
        raw.send(`<starttls xmlns='${NS.TLS}'/>`);
        await raw.expect(/<proceed [^>]*\/>/);
        await raw.startTls();
        raw.send(header);
        await raw.expect(/<stream:features\/>|<\/stream:features>/);
        expect(parseServerStream(raw.received).elements.at(-1)!.elements).to.deep.equal([]);
        raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${'0'.repeat(64)}</db:result>`);
        await raw.expect(/<\/db:result>/);
        const refusal = parseServerStream(raw.received).elements.at(-1)!;
        expect(refusal.attrs).to.deep.include({ from: DOMAIN_B, to: DOMAIN_A, type: 'error' });
        expect(refusal.getChild('error')?.getChild('not-allowed', NS.STANZAS_ERROR)).to.not.equal(undefined);
      } finally {
        raw.close();
      }
    });

    it('authenticated each direction with SASL EXTERNAL and never with dialback', () => {
      for (const server of [pair.a.server, pair.b.server]) {
        expect(server.federation!.stats).to.deep.equal({
          inboundExternal: 1,
          inboundDialback: 0,
          outboundExternal: 1,
          outboundDialback: 0,
        });
      }
    });
  });

  describe('over direct TLS (XEP-0368) with certificates from a shared CA', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair({ ca: true, directTls: true, s2s: 'bidi = false' });
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    it('carries messages both ways, authenticated with SASL EXTERNAL', async () => {
      const toBob = upcoming(bob)((el) => el.name === 'message' && el.attrs.id === 'tls-1');
      await alice.send(xml('message', { to: BOB, type: 'chat', id: 'tls-1' }, xml('body', {}, 'direct')));
      expect((await toBob).getChildText('body')).to.equal('direct');
      const toAlice = upcoming(alice)((el) => el.name === 'message' && el.attrs.id === 'tls-2');
      await bob.send(
        xml('message', { to: alice.jid!.toString(), type: 'chat', id: 'tls-2' }, xml('body', {}, 'tls')),
      );
      expect((await toAlice).getChildText('body')).to.equal('tls');
      expect(pair.a.server.federation!.stats.outboundExternal).to.equal(1);
      expect(pair.b.server.federation!.stats.outboundExternal).to.equal(1);
    });
  });

  describe('with an idle timeout', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair({ s2sA: 'idle_timeout = 1', s2s: 'bidi = false' });
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    it('closes a connection that carried nothing for idle_timeout, and opens a new one when needed', async () => {
      const manager = pair.a.server.federation!.manager;
      const first = upcoming(bob)((el) => el.name === 'message' && el.attrs.id === 'idle-1');
      await alice.send(xml('message', { to: BOB, type: 'chat', id: 'idle-1' }, xml('body', {}, 'one')));
      await first;
      expect(manager.connections).to.deep.equal([`${DOMAIN_A}→${DOMAIN_B}`]);
      await eventually(() => manager.connections.length === 0, 'the idle connection is closed', 5_000);
      const second = upcoming(bob)((el) => el.name === 'message' && el.attrs.id === 'idle-2');
      await alice.send(xml('message', { to: BOB, type: 'chat', id: 'idle-2' }, xml('body', {}, 'two')));
      expect((await second).getChildText('body')).to.equal('two');
      expect(pair.a.server.federation!.stats.outboundDialback).to.equal(2);
    });
  });

  describe('bidirectional (XEP-0288) with certificates from a shared CA', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair({ ca: true, s2s: 'secure_auth = true' });
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    exchangeTests(() => ({ pair, alice, bob }));

    it('carried everything over the one connection a.localhost opened', () => {
      const a = pair.a.server.federation!;
      const b = pair.b.server.federation!;
      expect(a.manager.connections).to.deep.equal([`${DOMAIN_A}→${DOMAIN_B}`]);
      expect(b.manager.connections).to.deep.equal([]);
      expect(b.manager.returnPairs).to.deep.equal([`${DOMAIN_B}→${DOMAIN_A}`]);
      expect(a.stats).to.deep.equal({
        inboundExternal: 0,
        inboundDialback: 0,
        outboundExternal: 1,
        outboundDialback: 0,
      });
      expect(b.stats).to.deep.equal({
        inboundExternal: 1,
        inboundDialback: 0,
        outboundExternal: 0,
        outboundDialback: 0,
      });
    });
  });

  describe('bidirectional (XEP-0288) with dialback', () => {
    let pair: Pair;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      pair = await startPair();
      ({ alice, bob } = await loginBoth(pair));
    });

    after(async () => {
      await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
      await pair?.stop();
    });

    exchangeTests(() => ({ pair, alice, bob }));
  });
});
