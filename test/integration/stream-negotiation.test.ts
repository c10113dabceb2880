// Stream negotiation over real sockets, held to RFC 6120 step by step: the stream header (§4.7,
// §4.8) and the errors it can earn (§4.9.1.2, §4.9.3), stream features, STARTTLS (§5), SASL (§6),
// resource binding (§7), the legacy session of RFC 3921 §3 (RFC 6121 Appendix E), what a bound
// client may send (§4.9.3.9, §4.9.3.24, §8.1.2.1), closing (§4.4), direct TLS (XEP-0368) and a
// graceful shutdown (§4.9.3.20).
//
// A raw socket plays the client, so that every byte is ours; each error case asserts the exact
// stream error (or SASL / stanza error), and that the server itself ends the stream and the TCP
// connection.

import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import {
  connect,
  eventually,
  expectAfter,
  expectStreamError,
  header,
  openStream,
  parseServerStream,
  plainCredentials,
  qname,
  RawClient,
  rawAuthenticate,
  rawBind,
  rawLogin,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const STREAM_NS = `xmlns='jabber:client' xmlns:stream='${NS.STREAM}'`;

/** The mechanism names in a <stream:features/>, in the order offered. */
function mechanismNames(features: Element): string[] {
  const mechanisms = features.getChild('mechanisms', NS.SASL);
  return mechanisms ? mechanisms.getChildren('mechanism').map((m) => m.text) : [];
}

/** The error condition of an error stanza or SASL failure: the first child of <error/> or <failure/>. */
function condition(el: Element): string | undefined {
  const holder = el.localName === 'failure' ? el : el.getChild('error');
  const first = holder?.elements[0];
  return first && qname(first);
}

/** Waits for a new element matching `pattern` after `since` and returns the last element received. */
async function nextElement(raw: RawClient, since: number, pattern: RegExp): Promise<Element> {
  await expectAfter(raw, since, pattern);
  return parseServerStream(raw.received).elements.at(-1)!;
}

/**
 * The features the stream negotiation itself offers (RFC 6120 and XEP-0440), in order.
 * Modules add their own (entity capabilities, registration, roster versioning…), which
 * their own tests check; these tests are about the core's list.
 */
const CORE_FEATURE_NAMESPACES = new Set<string>([NS.TLS, NS.SASL, NS.SASL_CB, NS.BIND, NS.SESSION]);
function coreFeatures(features: Element): string[] {
  return features.elements
    .map(qname)
    .filter((q) => CORE_FEATURE_NAMESPACES.has(q.slice(0, q.lastIndexOf(' '))));
}

describe('stream negotiation (RFC 6120)', () => {
  let ts: TestServer;
  const raws: RawClient[] = [];
  const clients: TestClient[] = [];

  async function raw(options: { tls?: boolean } = {}): Promise<RawClient> {
    const c = await RawClient.connect(options.tls ? ts.tlsPort : ts.port, options);
    raws.push(c);
    return c;
  }

  async function login(username: string, password: string, resource?: string) {
    const session = await rawLogin(ts.port, username, password, { resource });
    raws.push(session.raw);
    return session;
  }

  before(async () => {
    // SASL failures from the raw tests must not lock 127.0.0.1 out (the throttle has its own test).
    ts = await startTestServer({ c2s: 'auth_failures_per_ip = 1000' });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('carol', 'carol-secret');
  });
  afterEach(async () => {
    for (const c of raws.splice(0)) c.close();
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts.stop();
  });

  describe('the stream header (§4.7, §4.8)', () => {
    it('answers with its own header: a fresh id, from the host, version 1.0, xml:lang, then features', async () => {
      const c = await raw();
      await openStream(c, header('localhost', " xml:lang='de'"));
      const first = parseServerStream(c.received);
      expect(first.name).to.equal('stream:stream');
      expect(Object.keys(first.header).sort()).to.deep.equal(
        ['from', 'id', 'version', 'xml:lang', 'xmlns', 'xmlns:stream'].sort(),
      );
      expect(first.header).to.include({
        from: 'localhost',
        version: '1.0',
        'xml:lang': 'de',
        xmlns: NS.CLIENT,
        'xmlns:stream': NS.STREAM,
      });
      expect(first.header.id).to.match(/^[A-Za-z0-9_-]{16,}$/);

      // §4.7.3: the id is unique per stream, so the stream after STARTTLS gets another one.
      c.send(`<starttls xmlns='${NS.TLS}'/>`);
      await c.expect(/<proceed /);
      await c.startTls();
      await openStream(c);
      expect(parseServerStream(c.received).header.id).to.not.equal(first.header.id);
    });

    it('answers version 1.1 with 1.0, the lower of the two (§4.7.5), and negotiates on', async () => {
      const c = await raw();
      const features = await openStream(
        c,
        `<?xml version='1.0'?><stream:stream ${STREAM_NS} to='localhost' version='1.1'>`,
      );
      expect(parseServerStream(c.received).header.version).to.equal('1.0');
      expect(coreFeatures(features)).to.deep.equal([`${NS.TLS} starttls`]);
    });

    it('accepts the stream element under another prefix and a header without an XML declaration', async () => {
      const c = await raw();
      await openStream(
        c,
        `<s:stream xmlns='jabber:client' xmlns:s='${NS.STREAM}' to='localhost' version='1.0'>`,
      );
      expect(parseServerStream(c.received).header.from).to.equal('localhost');
    });

    // §4.9.1.2: an error in the client's header still gets the server's header first.
    const headerErrors: Array<{
      what: string;
      header: string;
      condition: string;
      from?: string;
      version?: string;
    }> = [
      {
        what: 'a wrong stream namespace',
        header: `<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.example/streams' to='localhost' version='1.0'>`,
        condition: 'invalid-namespace',
        from: 'localhost',
        version: '1.0',
      },
      {
        what: 'the server-to-server content namespace on a client stream',
        header: `<stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}' to='localhost' version='1.0'>`,
        condition: 'invalid-namespace',
        from: 'localhost',
        version: '1.0',
      },
      {
        what: 'no content namespace at all',
        header: `<stream:stream xmlns:stream='${NS.STREAM}' to='localhost' version='1.0'>`,
        condition: 'invalid-namespace',
        from: 'localhost',
        version: '1.0',
      },
      {
        what: 'the stream element in the default namespace (§4.8.5: use a prefix)',
        header: `<stream xmlns='${NS.STREAM}' to='localhost' version='1.0'>`,
        condition: 'bad-namespace-prefix',
        from: 'localhost',
        version: '1.0',
      },
      {
        what: 'no to',
        header: `<stream:stream ${STREAM_NS} version='1.0'>`,
        condition: 'host-unknown',
        version: '1.0',
      },
      {
        what: 'a to the server does not serve',
        header: `<stream:stream ${STREAM_NS} to='elsewhere.example' version='1.0'>`,
        condition: 'host-unknown',
        version: '1.0',
      },
      {
        what: 'a to that is a user, not a domain',
        header: `<stream:stream ${STREAM_NS} to='alice@localhost' version='1.0'>`,
        condition: 'host-unknown',
        version: '1.0',
      },
      {
        what: 'version 2.0 (answered with 1.0, then refused as §4.9.3.25 shows)',
        header: `<stream:stream ${STREAM_NS} to='localhost' version='2.0'>`,
        condition: 'unsupported-version',
        from: 'localhost',
        version: '1.0',
      },
      {
        // §4.7.5 rule 4: a header without a version means 0.9; the answer carries no version.
        what: 'no version (a pre-XMPP-1.0 client)',
        header: `<stream:stream ${STREAM_NS} to='localhost'>`,
        condition: 'unsupported-version',
        from: 'localhost',
      },
      {
        what: 'a version that is not a number',
        header: `<stream:stream ${STREAM_NS} to='localhost' version='one'>`,
        condition: 'unsupported-version',
        from: 'localhost',
        version: '1.0',
      },
    ];
    for (const t of headerErrors) {
      it(`sends its header, then <${t.condition}/>, then closes, for ${t.what}`, async () => {
        const c = await raw();
        c.send(`<?xml version='1.0'?>${t.header}`);
        const stream = await expectStreamError(c, t.condition);
        expect(stream.name).to.equal('stream:stream');
        expect(stream.header.xmlns).to.equal(NS.CLIENT);
        expect(stream.header['xmlns:stream']).to.equal(NS.STREAM);
        expect(stream.header.id).to.be.a('string').and.not.equal('');
        expect(stream.header.from).to.equal(t.from);
        expect(stream.header.version).to.equal(t.version);
        // Nothing but the error: no features for a stream that was refused.
        expect(stream.elements.map(qname)).to.deep.equal([`${NS.STREAM} error`]);
      });
    }
  });

  describe('stream features', () => {
    it('offers exactly <starttls><required/></starttls> before TLS (§5.3.1)', async () => {
      const features = await openStream(await raw());
      expect(coreFeatures(features)).to.deep.equal([`${NS.TLS} starttls`]);
      expect(features.getChild('starttls')!.elements.map(qname)).to.deep.equal([`${NS.TLS} required`]);
    });

    it('offers SASL with channel binding and the XEP-0440 binding types after STARTTLS, and no STARTTLS', async () => {
      const c = await raw();
      await rawStartTls(c);
      const features = await openStream(c);
      expect(coreFeatures(features)).to.deep.equal([
        `${NS.SASL} mechanisms`,
        `${NS.SASL_CB} sasl-channel-binding`,
      ]);
      expect(mechanismNames(features)).to.deep.equal([
        'SCRAM-SHA-256-PLUS',
        'SCRAM-SHA-1-PLUS',
        'SCRAM-SHA-256',
        'SCRAM-SHA-1',
        'PLAIN',
      ]);
      const types = features
        .getChild('sasl-channel-binding', NS.SASL_CB)!
        .getChildren('channel-binding')
        .map((b) => b.attrs.type);
      // TLS 1.3 with an ECDSA certificate: tls-unique is undefined there (RFC 9266).
      expect(types.sort()).to.deep.equal(['tls-exporter', 'tls-server-end-point']);
    });

    it('offers binding and the optional legacy session after authentication (RFC 6121 Appendix E)', async () => {
      const c = await raw();
      await rawStartTls(c);
      await rawAuthenticate(c, 'alice', 'alice-secret');
      const features = await openStream(c);
      const names = coreFeatures(features);
      expect(names).to.include(`${NS.BIND} bind`);
      expect(names).to.include(`${NS.SESSION} session`);
      expect(names).to.not.include(`${NS.SASL} mechanisms`);
      expect(names).to.not.include(`${NS.TLS} starttls`);
      expect(features.getChild('session', NS.SESSION)!.elements.map(qname)).to.deep.equal([
        `${NS.SESSION} optional`,
      ]);
    });

    it('gives SASL features straight away on a direct TLS connection with ALPN xmpp-client (XEP-0368)', async () => {
      const c = await raw({ tls: true });
      expect((c.socket as import('node:tls').TLSSocket).alpnProtocol).to.equal('xmpp-client');
      const features = await openStream(c);
      expect(coreFeatures(features)).to.deep.equal([
        `${NS.SASL} mechanisms`,
        `${NS.SASL_CB} sasl-channel-binding`,
      ]);
      expect(mechanismNames(features)).to.include.members(['SCRAM-SHA-256-PLUS', 'PLAIN']);
      const since = c.received.length;
      c.send(
        `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials('alice', 'alice-secret')}</auth>`,
      );
      await expectAfter(c, since, /<success/);
      expect(await rawBind(c, 'direct')).to.equal('alice@localhost/direct');
    });

    describe('with require_encryption = false', () => {
      let open: TestServer;
      before(async () => {
        open = await startTestServer({ c2s: 'require_encryption = false' });
        await open.addUser('alice', 'alice-secret');
      });
      after(async () => {
        await open.stop();
      });

      it('offers optional STARTTLS and SCRAM, but never PLAIN, before TLS (RFC 6120 §13.8)', async () => {
        const c = await RawClient.connect(open.port);
        raws.push(c);
        const features = await openStream(c);
        expect(coreFeatures(features)).to.deep.equal([`${NS.TLS} starttls`, `${NS.SASL} mechanisms`]);
        expect(features.getChild('starttls')!.elements).to.deep.equal([]);
        expect(mechanismNames(features)).to.deep.equal(['SCRAM-SHA-256', 'SCRAM-SHA-1']);

        // Asked for anyway, PLAIN is refused without looking at the password.
        const since = c.received.length;
        c.send(
          `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials('alice', 'alice-secret')}</auth>`,
        );
        const failure = await nextElement(c, since, /<\/failure>/);
        expect(condition(failure)).to.equal(`${NS.SASL} encryption-required`);
      });
    });
  });

  describe('STARTTLS (§5)', () => {
    it('answers <auth/> before TLS with <failure><encryption-required/></failure>', async () => {
      const c = await raw();
      await openStream(c);
      const since = c.received.length;
      c.send(`<auth xmlns='${NS.SASL}' mechanism='SCRAM-SHA-1'>biwsbj1hbGljZSxyPWFiY2Q=</auth>`);
      const failure = await nextElement(c, since, /<\/failure>/);
      expect(qname(failure)).to.equal(`${NS.SASL} failure`);
      expect(condition(failure)).to.equal(`${NS.SASL} encryption-required`);
      // The stream stays usable: STARTTLS still works.
      c.send(`<starttls xmlns='${NS.TLS}'/>`);
      await c.expect(/<proceed /);
    });

    for (const stanza of [
      `<message to='bob@localhost'><body>in the clear</body></message>`,
      `<presence/>`,
      `<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>`,
    ]) {
      it(`closes with <not-authorized/> for ${stanza.slice(0, stanza.indexOf(' ') < 0 ? 9 : stanza.indexOf(' '))}> before TLS (§4.9.3.12)`, async () => {
        const c = await raw();
        await openStream(c);
        c.send(stanza);
        await expectStreamError(c, 'not-authorized');
      });
    }

    it('answers a second <starttls/> with a TLS <failure/>, closes the stream and the connection (§5.4.2.2)', async () => {
      const c = await raw();
      await rawStartTls(c);
      await openStream(c);
      c.send(`<starttls xmlns='${NS.TLS}'/>`);
      await c.waitClosed();
      const stream = parseServerStream(c.received);
      expect(qname(stream.elements.at(-1)!)).to.equal(`${NS.TLS} failure`);
      expect(stream.ended).to.equal(true);
    });

    it('ignores plaintext pipelined after <starttls/> (a STARTTLS injection, CVE-2011-0411 style)', async () => {
      const c = await raw();
      await openStream(c);
      // The <auth/> arrives in the same packet as <starttls/>: acted on, it would fail or succeed in
      // the clear. It must be dropped, and the stream after TLS must start fresh.
      c.send(
        `<starttls xmlns='${NS.TLS}'/><auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials('alice', 'alice-secret')}</auth>`,
      );
      await c.expect(/<proceed /);
      expect(c.received).to.not.match(/<failure|<success/);
      await c.startTls();
      const features = await openStream(c);
      expect(mechanismNames(features)).to.include('PLAIN');
    });
  });

  describe('SASL (§6)', () => {
    async function secureStream(): Promise<RawClient> {
      const c = await raw();
      await rawStartTls(c);
      await openStream(c);
      return c;
    }

    async function auth(c: RawClient, mechanism: string, initial: string): Promise<Element> {
      const since = c.received.length;
      c.send(`<auth xmlns='${NS.SASL}' mechanism='${mechanism}'>${initial}</auth>`);
      return nextElement(c, since, /<\/failure>|<failure[^>]*\/>|<success|<challenge/);
    }

    it('fails a wrong password with <not-authorized/>, and a retry with the right one succeeds', async () => {
      const c = await secureStream();
      const failure = await auth(c, 'PLAIN', plainCredentials('alice', 'wrong'));
      expect(condition(failure)).to.equal(`${NS.SASL} not-authorized`);
      const success = await auth(c, 'PLAIN', plainCredentials('alice', 'alice-secret'));
      expect(qname(success)).to.equal(`${NS.SASL} success`);
    });

    it('fails an unknown user exactly like a wrong password', async () => {
      const c = await secureStream();
      const failure = await auth(c, 'PLAIN', plainCredentials('nobody', 'alice-secret'));
      expect(condition(failure)).to.equal(`${NS.SASL} not-authorized`);
    });

    it('closes with <policy-violation/> after c2s.max_auth_attempts (3) failures (§6.4.5)', async () => {
      const c = await secureStream();
      for (let i = 1; i <= 3; i++) {
        const since = c.received.length;
        c.send(
          `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials('alice', `wrong-${i}`)}</auth>`,
        );
        if (i < 3) await expectAfter(c, since, /<\/failure>/);
      }
      const stream = await expectStreamError(c, 'policy-violation');
      const names = stream.elements.map(qname);
      expect(names.slice(-4)).to.deep.equal([
        `${NS.SASL} failure`,
        `${NS.SASL} failure`,
        `${NS.SASL} failure`,
        `${NS.STREAM} error`,
      ]);
    });

    it('fails invalid base64 with <incorrect-encoding/> (§6.4.2)', async () => {
      const c = await secureStream();
      const failure = await auth(c, 'PLAIN', 'not*base64!');
      expect(condition(failure)).to.equal(`${NS.SASL} incorrect-encoding`);
    });

    for (const [what, mechanism] of [
      ['an unknown mechanism', 'X-MADE-UP'],
      ['a mechanism in the wrong case (names are case-sensitive)', 'plain'],
      ['no mechanism', ''],
    ] as const) {
      it(`fails ${what} with <invalid-mechanism/> (§6.4.1)`, async () => {
        const c = await secureStream();
        const failure = await auth(c, mechanism, '=');
        expect(condition(failure)).to.equal(`${NS.SASL} invalid-mechanism`);
      });
    }

    it('answers <abort/> during an exchange with <failure><aborted/></failure> (§6.4.4)', async () => {
      const c = await secureStream();
      const clientFirst = Buffer.from('n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL').toString('base64');
      const challenge = await auth(c, 'SCRAM-SHA-1', clientFirst);
      expect(qname(challenge)).to.equal(`${NS.SASL} challenge`);
      const since = c.received.length;
      c.send(`<abort xmlns='${NS.SASL}'/>`);
      const failure = await nextElement(c, since, /<\/failure>|<failure[^>]*\/>/);
      expect(condition(failure)).to.equal(`${NS.SASL} aborted`);
      // An abort is no failed attempt: authentication still works on this stream.
      const success = await auth(c, 'PLAIN', plainCredentials('alice', 'alice-secret'));
      expect(qname(success)).to.equal(`${NS.SASL} success`);
    });

    it('prompts with an empty challenge when <auth/> has no initial response (§6.4.2)', async () => {
      const c = await secureStream();
      const challenge = await auth(c, 'PLAIN', '');
      expect(qname(challenge)).to.equal(`${NS.SASL} challenge`);
      expect(challenge.children).to.deep.equal([]);
      const since = c.received.length;
      c.send(`<response xmlns='${NS.SASL}'>${plainCredentials('alice', 'alice-secret')}</response>`);
      await expectAfter(c, since, /<success/);
    });
  });

  describe('what a client may send when (§4.9.3.12, §7.1, §8.1.2.1)', () => {
    it('closes with <not-authorized/> for a stanza after TLS but before SASL', async () => {
      const c = await raw();
      await rawStartTls(c);
      await openStream(c);
      c.send(`<message to='bob@localhost'><body>too early</body></message>`);
      await expectStreamError(c, 'not-authorized');
    });

    for (const stanza of [
      `<message to='bob@localhost'><body>not bound yet</body></message>`,
      `<presence/>`,
      `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`,
    ]) {
      it(`closes with <not-authorized/> for ${stanza.slice(0, stanza.indexOf(' ') < 0 ? 9 : stanza.indexOf(' '))}> before resource binding (§7.1)`, async () => {
        const c = await raw();
        await rawStartTls(c);
        await rawAuthenticate(c, 'alice', 'alice-secret');
        await openStream(c);
        c.send(stanza);
        await expectStreamError(c, 'not-authorized');
      });
    }

    it('closes with <unsupported-stanza-type/> for an unknown top-level element after binding', async () => {
      const { raw: c } = await login('alice', 'alice-secret');
      c.send(`<frobnicate xmlns='urn:example:unknown'/>`);
      await expectStreamError(c, 'unsupported-stanza-type');
    });

    it('closes with <unsupported-stanza-type/> for a <message/> in the jabber:server namespace', async () => {
      // §4.9.3.10 keeps <invalid-namespace/> for the stream and content namespaces of the header,
      // and names jabber:server a supported content namespace; a first-level element the client
      // stream does not support is §4.9.3.24's case. Prosody closes with the same condition.
      const { raw: c } = await login('alice', 'alice-secret');
      c.send(`<message xmlns='jabber:server' to='bob@localhost'><body>s2s?</body></message>`);
      await expectStreamError(c, 'unsupported-stanza-type');
    });

    for (const from of [
      'bob@localhost/x',
      'bob@localhost',
      'localhost',
      'alice@localhost/someone-else',
      '@@@',
    ]) {
      it(`closes with <invalid-from/> for a stanza from '${from}' (§4.9.3.9)`, async () => {
        const { raw: c } = await login('alice', 'alice-secret', 'spoof');
        c.send(`<message from='${from}' to='bob@localhost'><body>it was not me</body></message>`);
        await expectStreamError(c, 'invalid-from');
      });
    }

    it("accepts its own bare or full JID in from, and the delivered stanza carries the sender's full JID", async () => {
      const bob = await connect({
        port: ts.port,
        domain: 'localhost',
        username: 'bob',
        password: 'bob-secret',
        mechanism: 'PLAIN',
      });
      clients.push(bob);
      const { raw: c, jid: alice } = await login('alice', 'alice-secret', 'Desk');
      const to = bob.jid!.toString();
      for (const [id, from] of [
        ['own-full', alice],
        ['own-bare', 'alice@localhost'],
        ['own-unprepared', 'ALICE@LocalHost/Desk'],
        ['none', undefined],
      ] as const) {
        c.send(`<message id='${id}' to='${to}'${from ? ` from='${from}'` : ''}><body>${id}</body></message>`);
        const message = await bob.waitFor((el) => el.name === 'message' && el.attrs.id === id);
        expect(message.attrs.from).to.equal('alice@localhost/Desk');
        expect(message.getChildText('body')).to.equal(id);
      }
      expect(c.closed).to.equal(false);
    });
  });

  describe('resource binding (§7)', () => {
    it('binds the resource the client asks for', async () => {
      const { jid: full } = await login('alice', 'alice-secret', 'laptop');
      expect(full).to.equal('alice@localhost/laptop');
      expect(ts.server.sessions.get(jid('alice', 'localhost', 'laptop'))).to.not.equal(undefined);
    });

    it('generates a distinct resource when the client asks for none', async () => {
      const one = await login('alice', 'alice-secret');
      const two = await login('alice', 'alice-secret');
      expect(one.jid).to.match(/^alice@localhost\/.+$/);
      expect(two.jid).to.match(/^alice@localhost\/.+$/);
      expect(one.jid).to.not.equal(two.jid);
    });

    for (const [what, resource] of [
      ['a control character', 'bad&#x7F;resource'],
      ['a zero-width space', 'a&#x200B;b'],
      ['more than 1023 bytes', 'r'.repeat(1024)],
    ] as const) {
      it(`answers a resourcepart with ${what} with <bad-request/>, and the stream goes on`, async () => {
        const c = await raw();
        await rawStartTls(c);
        await rawAuthenticate(c, 'alice', 'alice-secret');
        await openStream(c);
        const since = c.received.length;
        c.send(
          `<iq type='set' id='bad-bind'><bind xmlns='${NS.BIND}'><resource>${resource}</resource></bind></iq>`,
        );
        const reply = await nextElement(c, since, /<\/iq>/);
        expect(reply.attrs).to.include({ type: 'error', id: 'bad-bind' });
        expect(reply.getChild('error')!.attrs.type).to.equal('modify');
        expect(condition(reply)).to.equal(`${NS.STANZAS_ERROR} bad-request`);
        const retry = c.received.length;
        c.send(
          `<iq type='set' id='good-bind'><bind xmlns='${NS.BIND}'><resource>good</resource></bind></iq>`,
        );
        const bound = await nextElement(c, retry, /<\/iq>/);
        expect(bound.attrs).to.include({ type: 'result', id: 'good-bind' });
        expect(bound.getChild('bind', NS.BIND)!.getChildText('jid')).to.equal('alice@localhost/good');
      });
    }

    it('replaces an older session on the same resource: it gets <conflict/>, the new one binds (§7.7.2.2)', async () => {
      const old = await login('carol', 'carol-secret', 'phone');
      const fresh = await login('carol', 'carol-secret', 'phone');
      expect(fresh.jid).to.equal('carol@localhost/phone');
      await expectStreamError(old.raw, 'conflict');
      // The new session is the one registered, and it works.
      const since = fresh.raw.received.length;
      fresh.raw.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='${NS.PING}'/></iq>`);
      const pong = await nextElement(fresh.raw, since, /<iq [^>]*id="p1"/);
      expect(pong.attrs).to.include({ type: 'result', id: 'p1' });
      expect(ts.server.sessions.resources('carol@localhost')).to.have.length(1);
    });

    describe('with resource_conflict = "refuse" and max_resources = 2', () => {
      let strict: TestServer;
      before(async () => {
        strict = await startTestServer({ c2s: 'resource_conflict = "refuse"\nmax_resources = 2' });
        await strict.addUser('alice', 'alice-secret');
      });
      after(async () => {
        await strict.stop();
      });

      async function bindOn(c: RawClient, id: string, resource: string): Promise<Element> {
        const since = c.received.length;
        c.send(
          `<iq type='set' id='${id}'><bind xmlns='${NS.BIND}'><resource>${resource}</resource></bind></iq>`,
        );
        return nextElement(c, since, /<\/iq>/);
      }

      async function authenticated(): Promise<RawClient> {
        const c = await RawClient.connect(strict.port);
        raws.push(c);
        await rawStartTls(c);
        await rawAuthenticate(c, 'alice', 'alice-secret');
        await openStream(c);
        return c;
      }

      it('refuses a resource in use with a <conflict/> error and keeps the older session', async () => {
        const first = await authenticated();
        expect((await bindOn(first, 'b1', 'dup')).attrs.type).to.equal('result');
        const second = await authenticated();
        const refused = await bindOn(second, 'b2', 'dup');
        expect(refused.attrs).to.include({ type: 'error', id: 'b2' });
        expect(refused.getChild('error')!.attrs.type).to.equal('cancel');
        expect(condition(refused)).to.equal(`${NS.STANZAS_ERROR} conflict`);
        expect(first.closed).to.equal(false);

        // One more resource fits; a third does not (resource-constraint, §7.6.2.1).
        expect((await bindOn(second, 'b3', 'other')).attrs.type).to.equal('result');
        const third = await authenticated();
        const constrained = await bindOn(third, 'b4', 'third');
        expect(constrained.attrs).to.include({ type: 'error', id: 'b4' });
        expect(constrained.getChild('error')!.attrs.type).to.equal('wait');
        expect(condition(constrained)).to.equal(`${NS.STANZAS_ERROR} resource-constraint`);
        expect(strict.server.sessions.resources('alice@localhost')).to.have.length(2);
      });
    });
  });

  describe('legacy session establishment (RFC 3921 §3, RFC 6121 Appendix E)', () => {
    it('answers an iq set with <session/> with an empty result', async () => {
      const { raw: c } = await login('alice', 'alice-secret');
      const since = c.received.length;
      c.send(`<iq type='set' id='sess-1'><session xmlns='${NS.SESSION}'/></iq>`);
      const result = await nextElement(c, since, /<iq [^>]*id="sess-1"/);
      expect(result.attrs.type).to.equal('result');
      expect(result.attrs.id).to.equal('sess-1');
      expect(result.children).to.deep.equal([]);
    });
  });

  describe('closing (§4.4)', () => {
    it('answers </stream:stream> with its own, closes the connection and forgets the session', async () => {
      const { raw: c, jid: full } = await login('alice', 'alice-secret', 'leaving');
      const [, resource] = full.split('/');
      expect(ts.server.sessions.get(jid('alice', 'localhost', resource))).to.not.equal(undefined);
      c.send('</stream:stream>');
      await c.waitClosed();
      expect(parseServerStream(c.received).ended).to.equal(true);
      expect(ts.server.sessions.get(jid('alice', 'localhost', resource))).to.equal(undefined);
    });

    it('forgets a session whose socket vanishes without a goodbye', async () => {
      const { raw: c } = await login('alice', 'alice-secret', 'vanishing');
      const address = jid('alice', 'localhost', 'vanishing');
      expect(ts.server.sessions.get(address)).to.not.equal(undefined);
      c.socket.destroy();
      await eventually(() => ts.server.sessions.get(address) === undefined, 'the session is unbound');
    });
  });

  describe('graceful shutdown', () => {
    it('sends <system-shutdown/> to every stream, bound or not, and closes them', async () => {
      const doomed = await startTestServer();
      await doomed.addUser('alice', 'alice-secret');
      const early = await RawClient.connect(doomed.port);
      raws.push(early);
      await openStream(early);
      const bound = await rawLogin(doomed.port, 'alice', 'alice-secret', { resource: 'r' });
      raws.push(bound.raw);
      const library = await connect({
        port: doomed.port,
        domain: 'localhost',
        username: 'alice',
        password: 'alice-secret',
        mechanism: 'PLAIN',
      });
      const libraryError = new Promise<Error>((resolve) => library.on('error', resolve));
      await doomed.stop();
      await expectStreamError(early, 'system-shutdown');
      await expectStreamError(bound.raw, 'system-shutdown');
      expect(((await libraryError) as Error & { condition?: string }).condition).to.equal('system-shutdown');
      expect(doomed.server.sessions.size).to.equal(0);
    });
  });
});
