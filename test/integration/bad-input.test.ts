// Bad input over real sockets: whatever a client sends, it gets the stream error RFC 6120 names
// for it (§4.9.3), its connection is closed by the server, and nobody else notices.
//
// - Malformed XML: not-well-formed (§4.9.3.13, §11.3); what §11.1 restricts (DTDs, entity
//   declarations and references, comments, processing instructions): restricted-xml (§4.9.3.18);
//   anything but UTF-8: unsupported-encoding (§4.9.3.22, §11.6).
// - Limits: a stanza over c2s.max_stanza_bytes or nested deeper than c2s.max_depth:
//   policy-violation (§4.9.3.14, §13.12); whitespace keepalives between stanzas (§4.6.1) are free.
// - Per-address limits: failed authentications (temporary-auth-failure, RFC 6120 §6.5.12) and
//   concurrent connections (policy-violation); the authentication deadline (connection-timeout,
//   §4.9.3.4).
//
// After each case a well-behaved client (@xmpp/client) logs in, messages a session that was up
// all along, and pings the server; where the bad input takes time, it does so meanwhile.

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { NS } from '../../src/xml/ns.js';
import {
  type Credentials,
  connect,
  eventually,
  expectAfter,
  expectServesClients,
  expectStreamError,
  header,
  openStream,
  parseServerStream,
  plainCredentials,
  qname,
  RawClient,
  rawAuthenticate,
  rawLogin,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAX_STANZA_BYTES = 10000;
const MAX_DEPTH = 8;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes, for input that is not valid UTF-8. */
function bytes(...parts: Array<string | number[]>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
}

/** A message whose serialized form is exactly `size` bytes of ASCII. */
function messageOfSize(to: string, size: number): string {
  const open = `<message to='${to}' id='sized'><body>`;
  const close = '</body></message>';
  return open + 'x'.repeat(size - open.length - close.length) + close;
}

/** A message with its body nested inside `extra` further elements. */
function nestedMessage(to: string, id: string, extra: number): string {
  return `<message to='${to}' id='${id}'><body>deep</body>${'<x xmlns="urn:example:nest">'.repeat(extra)}${'</x>'.repeat(extra)}</message>`;
}

describe('bad input never hurts the server (RFC 6120 §4.9.3, §11)', () => {
  let ts: TestServer;
  let alice: TestClient;
  const bob: Credentials = { username: 'bob', password: 'bob-secret' };
  const raws: RawClient[] = [];

  async function raw(localAddress?: string): Promise<RawClient> {
    const c = await RawClient.connect(ts.port, { localAddress });
    raws.push(c);
    return c;
  }

  async function mallory(resource?: string) {
    const session = await rawLogin(ts.port, 'mallory', 'mallory-secret', { resource });
    raws.push(session.raw);
    return session;
  }

  /** Bob logs in afresh and reaches alice, who was connected throughout; the registry still answers. */
  async function expectHealthy(): Promise<void> {
    await expectServesClients(ts.port, 'localhost', bob, alice);
    expect(ts.server.sessions.get(jid('alice', 'localhost', 'home'))).to.not.equal(undefined);
  }

  before(async () => {
    ts = await startTestServer({ c2s: `max_stanza_bytes = ${MAX_STANZA_BYTES}\nmax_depth = ${MAX_DEPTH}` });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('mallory', 'mallory-secret');
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
      resource: 'home',
      mechanism: 'PLAIN',
    });
  });
  afterEach(() => {
    for (const c of raws.splice(0)) c.close();
  });
  after(async () => {
    await alice.stop().catch(() => {});
    await ts.stop();
  });

  // Sent after a good stream header, before authentication.
  const inStream: Array<{ what: string; input: string | Buffer; condition: string }> = [
    // §11.3: not well-formed.
    { what: 'a mismatched end tag', input: `<message><body>hi</message>`, condition: 'not-well-formed' },
    { what: 'text between stanzas', input: `hello, server`, condition: 'not-well-formed' },
    { what: 'an end tag with no start tag', input: `</message>`, condition: 'not-well-formed' },
    {
      what: 'a control character',
      input: `<message><body>\u0001</body></message>`,
      condition: 'not-well-formed',
    },
    { what: 'an unquoted attribute', input: `<iq type=get id='1'/>`, condition: 'not-well-formed' },
    { what: 'an attribute without a value', input: `<presence available/>`, condition: 'not-well-formed' },
    {
      what: 'a duplicate attribute',
      input: `<iq type='get' type='set' id='1'/>`,
      condition: 'not-well-formed',
    },
    { what: "'<' in an attribute value", input: `<message to='a<b'/>`, condition: 'not-well-formed' },
    { what: 'an undeclared prefix', input: `<foo:message/>`, condition: 'not-well-formed' },
    {
      what: 'a bare ampersand',
      input: `<message><body>fish & chips</body></message>`,
      condition: 'not-well-formed',
    },
    {
      what: 'a reference to an illegal character',
      input: `<message><body>&#0;</body></message>`,
      condition: 'not-well-formed',
    },
    // §11.1: restricted XML.
    {
      // Past the prolog, its XML declaration is just a processing instruction.
      what: 'a second stream header',
      input: header(),
      condition: 'restricted-xml',
    },
    { what: 'a document type declaration', input: `<!DOCTYPE message>`, condition: 'restricted-xml' },
    { what: 'an entity declaration', input: `<!ENTITY lol 'lol'>`, condition: 'restricted-xml' },
    {
      what: 'a reference to an undefined entity',
      input: `<message><body>&lol;</body></message>`,
      condition: 'restricted-xml',
    },
    { what: 'a comment between stanzas', input: `<!-- hi -->`, condition: 'restricted-xml' },
    {
      what: 'a comment inside a stanza',
      input: `<message><!-- hi --></message>`,
      condition: 'restricted-xml',
    },
    { what: 'a processing instruction', input: `<?render fancy?>`, condition: 'restricted-xml' },
    // §11.6: UTF-8 only.
    {
      what: 'a broken UTF-8 sequence',
      input: bytes('<message><body>', [0xc3, 0x28], '</body></message>'),
      condition: 'unsupported-encoding',
    },
    {
      what: 'an overlong UTF-8 encoding of "/"',
      input: bytes('<message><body>', [0xc0, 0xaf], '</body></message>'),
      condition: 'unsupported-encoding',
    },
    {
      what: 'a UTF-8-encoded surrogate',
      input: bytes('<message><body>', [0xed, 0xa0, 0x80], '</body></message>'),
      condition: 'unsupported-encoding',
    },
    { what: 'a lone 0xFF byte', input: bytes([0xff]), condition: 'unsupported-encoding' },
  ];
  for (const t of inStream) {
    it(`closes with <${t.condition}/> for ${t.what} in the stream`, async () => {
      const c = await raw();
      await openStream(c);
      c.send(t.input);
      await expectStreamError(c, t.condition);
      await expectHealthy();
    });
  }

  // Sent instead of a good stream header: the server still answers with its header first (§4.9.1.2).
  const beforeHeader: Array<{ what: string; input: string | Buffer; condition: string }> = [
    { what: 'garbage', input: 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', condition: 'not-well-formed' },
    {
      what: 'a document type declaration',
      input: `<?xml version='1.0'?><!DOCTYPE stream:stream>${header()}`,
      condition: 'restricted-xml',
    },
    {
      // The billion laughs: refused at the declaration, never expanded.
      what: 'nested entity declarations',
      input: `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>`,
      condition: 'restricted-xml',
    },
    {
      what: 'an encoding other than UTF-8',
      input: `<?xml version='1.0' encoding='ISO-8859-1'?>`,
      condition: 'unsupported-encoding',
    },
    {
      what: 'UTF-16 (a byte order mark)',
      input: bytes([0xff, 0xfe, 0x3c, 0x00]),
      condition: 'unsupported-encoding',
    },
    {
      what: 'a TLS ClientHello on the STARTTLS port',
      input: bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
      condition: 'not-well-formed',
    },
  ];
  for (const t of beforeHeader) {
    it(`sends its header, then <${t.condition}/>, for ${t.what} before the stream header`, async () => {
      const c = await raw();
      c.send(t.input);
      const stream = await expectStreamError(c, t.condition);
      expect(stream.name).to.equal('stream:stream');
      expect(stream.header.xmlns).to.equal(NS.CLIENT);
      await expectHealthy();
    });
  }

  it('cuts off a client that leaves 2 MiB unread with <policy-violation/>, and the sender carries on', async function () {
    this.timeout(30000);
    const { raw: reader, jid: readerJid } = await mallory('not-reading');
    const { raw: sender } = await mallory('flooding');
    reader.socket.pause();
    const message = `<message to='${readerJid}' type='chat'><body>${'z'.repeat(8000)}</body></message>`;
    // The kernel's buffers on both ends take a few megabytes before the server holds any: keep
    // sending until the server gives up on the reader, but not without end.
    let sent = 0;
    while (ts.server.sessions.get(jid('mallory', 'localhost', 'not-reading')) !== undefined) {
      expect(sent, 'bytes sent to a reader that is never cut off').to.be.below(100_000_000);
      for (let i = 0; i < 100; i++) sender.send(message);
      sent += 100 * message.length;
      await pause(5);
    }
    // Reading again, the client finds what had been waiting, then the stream error. (Only the
    // end is looked at: the megabytes before it would drown a failure message.)
    reader.socket.resume();
    await reader.waitClosed();
    const end = reader.received.slice(reader.received.lastIndexOf('</message>') + '</message>'.length);
    expect(end).to.match(
      /^<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text [^>]*>[^<]+<\/text><\/stream:error><\/stream:stream>$/,
    );
    expect(sender.closed).to.equal(false);
    await expectHealthy();
  });

  it('ends only the connection where a module failed, with <internal-server-error/>', async () => {
    // A bug in a module's stream feature: it throws while the server answers a stream header.
    const remove = ts.server.streamFeatures.add('pre-auth', () => {
      throw new Error('a bug in a module');
    });
    try {
      const c = await raw();
      c.send(header());
      await expectStreamError(c, 'internal-server-error');
    } finally {
      remove();
    }
    await expectHealthy();
  });

  it('closes a bound session with <not-well-formed/> and unbinds it', async () => {
    const { raw: c } = await mallory('broken');
    c.send(`<message to='${alice.jid}'><body>hi</bdy></message>`);
    await expectStreamError(c, 'not-well-formed');
    expect(ts.server.sessions.get(jid('mallory', 'localhost', 'broken'))).to.equal(undefined);
    await expectHealthy();
  });

  it('reassembles UTF-8 characters split across TCP writes (§11.6)', async () => {
    const { raw: c } = await mallory('split');
    const body = 'héllo → 👋🏽 ✓ 汉字';
    c.send(`<message to='${alice.jid}' type='chat' id='utf8'><body>`);
    // Every byte in its own write, with a pause so that each arrives in its own segment.
    c.socket.setNoDelay(true);
    for (const byte of Buffer.from(body)) {
      c.send(Buffer.from([byte]));
      await pause(2);
    }
    c.send('</body></message>');
    const message = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'utf8');
    expect(message.getChildText('body')).to.equal(body);
    expect(message.attrs.from).to.equal('mallory@localhost/split');
    expect(c.closed).to.equal(false);
  });

  it('drops a connection that answers <proceed/> with plaintext instead of a TLS handshake', async () => {
    const c = await raw();
    await openStream(c);
    c.send(`<starttls xmlns='${NS.TLS}'/>`);
    await c.expect(/<proceed /);
    c.send(header());
    await c.waitClosed();
    await expectHealthy();
  });

  it('drops a plaintext stream on the direct TLS port', async () => {
    const c = await RawClient.connect(ts.tlsPort);
    raws.push(c);
    c.send(header());
    await c.waitClosed();
    expect(c.received).to.equal('');
    await expectHealthy();
  });

  describe('size and depth limits (c2s.max_stanza_bytes, c2s.max_depth)', () => {
    it('closes with <policy-violation/> for a stanza over the limit before authentication', async () => {
      const c = await raw();
      await openStream(c);
      c.send(messageOfSize('alice@localhost', MAX_STANZA_BYTES + 1));
      await expectStreamError(c, 'policy-violation');
      await expectHealthy();
    });

    it('closes with <policy-violation/> for a stream header over the limit', async () => {
      const c = await raw();
      c.send(header('localhost', ` padding='${'p'.repeat(MAX_STANZA_BYTES)}'`));
      await expectStreamError(c, 'policy-violation');
      await expectHealthy();
    });

    it('delivers a stanza of exactly the limit, and closes a bound session for one byte more', async () => {
      const { raw: c } = await mallory('big');
      c.send(messageOfSize(alice.jid!.toString(), MAX_STANZA_BYTES));
      const delivered = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'sized');
      expect(delivered.attrs.from).to.equal('mallory@localhost/big');
      c.send(messageOfSize(alice.jid!.toString(), MAX_STANZA_BYTES + 1));
      await expectStreamError(c, 'policy-violation');
      expect(ts.server.sessions.get(jid('mallory', 'localhost', 'big'))).to.equal(undefined);
      await expectHealthy();
    });

    it('counts the limit in UTF-8 bytes, not characters', async () => {
      const { raw: c } = await mallory('wide');
      // 'é' is two bytes: a stanza of fewer than the limit in characters but more in bytes.
      const open = `<message to='${alice.jid}'><body>`;
      const close = '</body></message>';
      const chars = Math.ceil((MAX_STANZA_BYTES - open.length - close.length) / 2) + 1;
      c.send(open + 'é'.repeat(chars) + close);
      await expectStreamError(c, 'policy-violation');
      await expectHealthy();
    });

    it('does not stall anyone while a stanza trickles in slowly, then closes it at the limit', async () => {
      const { raw: c } = await mallory('slow');
      c.send(`<message to='${alice.jid}' id='slow'><body>`);
      let others = false;
      let sent = 0;
      const trickle = (async () => {
        while (!others) {
          // 500 bytes a second: the budget would last 20 s, far beyond the checks meanwhile.
          c.send('y'.repeat(5));
          sent += 5;
          await pause(10);
        }
      })();
      try {
        await expectHealthy();
      } finally {
        others = true;
        await trickle;
      }
      // The well-behaved clients were served while the stanza was still coming in.
      expect(sent).to.be.below(MAX_STANZA_BYTES);
      expect(c.closed).to.equal(false);
      c.send('y'.repeat(MAX_STANZA_BYTES));
      await expectStreamError(c, 'policy-violation');
    });

    it(`delivers a stanza nested ${MAX_DEPTH} deep and closes with <policy-violation/> one deeper`, async () => {
      // The stream is depth 1 and the message depth 2, so MAX_DEPTH - 2 more levels fit.
      const { raw: c } = await mallory('deep');
      c.send(nestedMessage(alice.jid!.toString(), 'deep-ok', MAX_DEPTH - 2));
      const delivered = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'deep-ok');
      expect(delivered.getChildText('body')).to.equal('deep');
      c.send(nestedMessage(alice.jid!.toString(), 'deep-bad', MAX_DEPTH - 1));
      await expectStreamError(c, 'policy-violation');
      await expectHealthy();
    });

    it('closes with <policy-violation/> for deep nesting before authentication', async () => {
      const c = await raw();
      await openStream(c);
      c.send('<a>'.repeat(MAX_DEPTH));
      await expectStreamError(c, 'policy-violation');
      await expectHealthy();
    });

    it('takes a megabyte of whitespace keepalives between stanzas without complaint (§4.6.1)', async () => {
      const { raw: c } = await mallory('idle');
      const chunk = ' \n\t\r'.repeat(16 * 1024);
      for (let i = 0; i < 16; i++) c.send(chunk);
      c.send(`<message to='${alice.jid}' id='after-space'><body>still here</body></message>`);
      const delivered = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'after-space');
      expect(delivered.getChildText('body')).to.equal('still here');
      expect(c.closed).to.equal(false);
    });
  });

  describe('per-address limits and deadlines', () => {
    // 127.0.0.0/8 is all loopback on Linux: each attacker below connects from its own address,
    // and the well-behaved clients from 127.0.0.1 must not feel it.
    let limited: TestServer;
    let carol: TestClient;

    async function rawFrom(address: string): Promise<RawClient> {
      const c = await RawClient.connect(limited.port, { localAddress: address });
      raws.push(c);
      return c;
    }

    async function authAttempt(c: RawClient, mechanism: string, payload: string): Promise<string> {
      const since = c.received.length;
      c.send(`<auth xmlns='${NS.SASL}' mechanism='${mechanism}'>${payload}</auth>`);
      await expectAfter(c, since, /<\/failure>|<success/);
      const last = parseServerStream(c.received).elements.at(-1)!;
      return last.localName === 'success' ? 'success' : qname(last.elements[0]!).split(' ')[1]!;
    }

    async function healthyHere(): Promise<void> {
      await expectServesClients(limited.port, 'localhost', bob, carol);
    }

    before(async () => {
      limited = await startTestServer({
        c2s: 'auth_failures_per_ip = 2\nmax_connections_per_ip = 3\nauth_timeout = 5',
      });
      await limited.addUser('bob', 'bob-secret');
      await limited.addUser('carol', 'carol-secret');
      await limited.addUser('mallory', 'mallory-secret');
      carol = await connect({
        port: limited.port,
        domain: 'localhost',
        username: 'carol',
        password: 'carol-secret',
        mechanism: 'PLAIN',
      });
    });
    after(async () => {
      await carol.stop().catch(() => {});
      await limited.stop();
    });

    it('answers temporary-auth-failure, even to the right password, once an address used up its failures', async () => {
      const first = await rawFrom('127.0.0.2');
      await rawStartTls(first);
      await openStream(first);
      expect(await authAttempt(first, 'PLAIN', plainCredentials('mallory', 'guess-1'))).to.equal(
        'not-authorized',
      );
      expect(await authAttempt(first, 'PLAIN', plainCredentials('mallory', 'guess-2'))).to.equal(
        'not-authorized',
      );
      expect(await authAttempt(first, 'PLAIN', plainCredentials('mallory', 'mallory-secret'))).to.equal(
        'temporary-auth-failure',
      );
      // A new connection from the same address is no way around it.
      const second = await rawFrom('127.0.0.2');
      await rawStartTls(second);
      await openStream(second);
      expect(await authAttempt(second, 'PLAIN', plainCredentials('mallory', 'mallory-secret'))).to.equal(
        'temporary-auth-failure',
      );
      // Another address is not affected: the same account logs in from 127.0.0.3...
      const elsewhere = await rawFrom('127.0.0.3');
      await rawStartTls(elsewhere);
      await rawAuthenticate(elsewhere, 'mallory', 'mallory-secret');
      // ...and the well-behaved clients on 127.0.0.1 carry on.
      await healthyHere();
    });

    it('counts only failed credentials against an address, not protocol mistakes', async () => {
      // Four failures that guess no password, from one address with a limit of two.
      for (let i = 0; i < 2; i++) {
        const c = await rawFrom('127.0.0.4');
        await rawStartTls(c);
        await openStream(c);
        expect(await authAttempt(c, 'X-UNKNOWN', '=')).to.equal('invalid-mechanism');
        expect(await authAttempt(c, 'PLAIN', '!!!')).to.equal('incorrect-encoding');
        expect(await authAttempt(c, 'PLAIN', plainCredentials('mallory', 'mallory-secret'))).to.equal(
          'success',
        );
      }
    });

    it('gives an address its connections back even when a module fails as a session ends', async () => {
      // First in line, so that it throws while the stream is still closing, not in a promise.
      const remove = limited.server.hooks.on(
        'session/closed',
        () => {
          throw new Error('a bug in a module');
        },
        1000,
      );
      try {
        // One more than max_connections_per_ip (3) in turn, each vanishing without a goodbye: a
        // count not given back would refuse the last.
        for (let i = 0; i < 4; i++) {
          const { raw: c } = await rawLogin(limited.port, 'mallory', 'mallory-secret', {
            resource: `vanishing-${i}`,
            localAddress: '127.0.0.9',
          });
          c.close();
          await eventually(
            () => limited.server.sessions.get(jid('mallory', 'localhost', `vanishing-${i}`)) === undefined,
            'the session is gone',
          );
        }
      } finally {
        remove();
      }
      await healthyHere();
    });

    it('refuses a connection over c2s.max_connections_per_ip with <policy-violation/> after its header', async () => {
      const held: RawClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await rawFrom('127.0.0.5');
        await openStream(c);
        held.push(c);
      }
      const extra = await rawFrom('127.0.0.5');
      extra.send(header());
      const stream = await expectStreamError(extra, 'policy-violation');
      expect(stream.header.from).to.equal('localhost');
      await healthyHere();
      for (const c of held) expect(c.closed).to.equal(false);

      // A connection that ends gives its place back.
      held[0]!.close();
      await eventually(() => held[0]!.closed, 'the connection is closed');
      let admitted = false;
      for (let attempt = 0; attempt < 50 && !admitted; attempt++) {
        const c = await rawFrom('127.0.0.5');
        c.send(header());
        await c.expect(/<\/stream:features>|<\/stream:stream>/);
        admitted = !c.received.includes('</stream:stream>');
        if (!admitted) await pause(20);
      }
      expect(admitted).to.equal(true);
    });

    it('closes with <connection-timeout/> connections that do not authenticate or bind within c2s.auth_timeout, and refused ones sooner', async function () {
      this.timeout(15000);
      const silent = await rawFrom('127.0.0.6');
      await openStream(silent);
      const unbound = await rawFrom('127.0.0.7');
      await rawStartTls(unbound);
      await rawAuthenticate(unbound, 'mallory', 'mallory-secret');
      await openStream(unbound);
      // An address at its connection limit, and one more connection that never sends a header:
      // not counted, it must not be able to wait out the whole deadline (or silent connections
      // would evade the limit), so it is refused sooner.
      const held: RawClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await rawFrom('127.0.0.8');
        await openStream(c);
        held.push(c);
      }
      const mute = await rawFrom('127.0.0.8');
      // On the direct TLS port, a connection that never finishes its TLS handshake is not a
      // stream yet: only the handshake deadline ends it (there is no stream to send an error on).
      const handshakeless = await RawClient.connect(limited.tlsPort);
      raws.push(handshakeless);
      // They all wait out their deadlines together, while others are served.
      await healthyHere();
      await expectStreamError(mute, 'policy-violation', 8000);
      for (const c of [silent, unbound, handshakeless, ...held]) expect(c.closed).to.equal(false);
      await Promise.all([
        ...[silent, unbound, ...held].map((c) => expectStreamError(c, 'connection-timeout', 8000)),
        handshakeless.waitClosed(8000),
      ]);
      expect(handshakeless.received).to.equal('');
      await healthyHere();
    });
  });

  it('still has its long-lived session after all of the above', async () => {
    const reply = await alice.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost', id: 'final-ping' }, xml('ping', { xmlns: NS.PING })),
    );
    expect(reply.attrs.type).to.equal('result');
    expect(ts.server.sessions.resources('alice@localhost').map((s) => s.jid.full)).to.deep.equal([
      'alice@localhost/home',
    ]);
  });
});
