// Review findings on Warbler as a receiving server (XEP-0220 §2.2): a raw socket claims to be
// peer.localhost and sends a dialback key; the server Warbler then asks, as peer.localhost's
// authoritative server, is a scripted socket (a static route), so that it can misbehave.
// TLS is off (s2s.require_encryption = false) so that both scripts read XML.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import {
  expectAfter,
  expectStreamError,
  parseServerStream,
  qname,
  RawClient,
  type TestClient,
} from '../helpers/client.js';
import { login, upcoming } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DOMAIN_A, DOMAIN_B, type Pair, startPair } from './s2s-support.js';

const LOCAL = 'b.localhost';
const PEER = 'peer.localhost';
/** A second domain of the same peer, so that one stream can ask for a second pair. */
const OTHER_PEER = 'other.peer.localhost';
const DIALBACK_ERRORS = `<dialback xmlns='${NS.DIALBACK_FEATURE}'><errors/></dialback>`;

/** The authoritative server's end of a connection Warbler opened: what it got, what we script. */
class ScriptedAuthority {
  text = '';
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', () => {});
  }

  send(data: string): void {
    this.socket.write(data);
  }

  async expect(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      if (this.closed) throw new Error(`closed; received: ${this.text}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Answers Warbler's header with ours; features only when given. */
  async open(features: string | undefined, as = PEER): Promise<void> {
    await this.expect(/<stream:stream [^>]*>/);
    this.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}' ` +
        `xmlns:db='${NS.DIALBACK}' id='authority-stream' from='${as}' to='${LOCAL}' version='1.0'>` +
        (features === undefined ? '' : `<stream:features>${features}</stream:features>`),
    );
  }
}

describe('s2s: review findings (receiving server)', function () {
  this.timeout(25_000);
  let listener: net.Server;
  const authorities: ScriptedAuthority[] = [];
  const raws: RawClient[] = [];
  let nextAuthority: ((authority: ScriptedAuthority) => void) | undefined;
  let ts: TestServer;

  const accepted = () => new Promise<ScriptedAuthority>((resolve) => (nextAuthority = resolve));

  before(async () => {
    listener = net.createServer((socket) => {
      const authority = new ScriptedAuthority(socket);
      authorities.push(authority);
      nextAuthority?.(authority);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    ts = await startTestServer({
      hosts: [LOCAL],
      // The shortest s2s.auth_timeout, for the authority that never answers.
      s2s: ['require_encryption = false', 'auth_timeout = 5'].join('\n'),
      extraToml: [PEER, OTHER_PEER]
        .flatMap((domain) => [`[s2s.routes."${domain}"]`, 'host = "127.0.0.1"', `port = ${port}`])
        .join('\n'),
    });
  });

  afterEach(() => {
    for (const raw of raws.splice(0)) raw.close();
    for (const authority of authorities.splice(0)) authority.socket.destroy();
  });

  after(async () => {
    await ts?.stop();
    listener?.close();
  });

  /** A stream claiming to be peer.localhost that has sent a key; returns its stream id. */
  async function claimPeer(): Promise<{ raw: RawClient; id: string }> {
    const raw = await RawClient.connect(ts.server.federation!.listening.s2s[0]!.port);
    raws.push(raw);
    raw.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
        ` xmlns:db='${NS.DIALBACK}' from='${PEER}' to='${LOCAL}' version='1.0'>`,
    );
    await raw.expect(/<\/stream:features>|<stream:features\/>/);
    const id = parseServerStream(raw.received).header.id!;
    raw.send(`<db:result from='${PEER}' to='${LOCAL}'>${'0'.repeat(64)}</db:result>`);
    return { raw, id };
  }

  /** The verdict Warbler sent the claimed peer. */
  async function verdict(raw: RawClient): Promise<Element> {
    await expectAfter(raw, 0, /<db:result [^>]*type="[a-z]+"(\/>|[\s\S]*?<\/db:result>)/);
    return parseServerStream(raw.received).elements.find((e) => qname(e) === `${NS.DIALBACK} result`)!;
  }

  // XEP-0220 §2.2.2: the answer must correlate to a request sent over the same stream; an answer
  // for an id Warbler has not asked about yet (it waits for the features) is not one.
  it('ignores a verification answer that comes before the request was sent', async () => {
    const authorityConnects = accepted();
    const { raw, id } = await claimPeer();
    const authority = await authorityConnects;
    await authority.open(undefined);
    authority.send(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='valid'/>`);
    authority.send(`<stream:features>${DIALBACK_ERRORS}</stream:features>`);
    // Before the fix the early answer settled it: the verdict came and no request was sent.
    const early = await Promise.race([
      authority.expect(new RegExp(`<db:verify [^>]*id="${id}"`)).then(() => undefined),
      verdict(raw),
    ]);
    expect(early?.attrs, 'a verdict before the request was sent').to.equal(undefined);
    authority.send(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='invalid'/>`);
    const result = await verdict(raw);
    expect(result.attrs).to.deep.include({ from: LOCAL, to: PEER, type: 'invalid' });
  });

  // XEP-0220 §2.4 (the table of dialback errors): an authoritative server that closes the stream
  // without answering is remote-server-timeout; remote-server-not-found is for one not found.
  it('answers remote-server-timeout when the authoritative server closes without answering', async () => {
    const authorityConnects = accepted();
    const { raw } = await claimPeer();
    const authority = await authorityConnects;
    await authority.open(DIALBACK_ERRORS);
    await authority.expect(/<db:verify [^>]*>/);
    authority.socket.destroy();
    const result = await verdict(raw);
    expect(result.attrs).to.deep.include({ from: LOCAL, to: PEER, type: 'error' });
    expect(result.getChild('error')?.elements.map(qname)).to.deep.equal([
      'urn:ietf:params:xml:ns:xmpp-stanzas remote-server-timeout',
    ]);
  });

  // XEP-0220 §2.4: an authoritative server that takes our connection, even authenticates it,
  // but never answers a <db:verify/> must not hold the request forever: the link would then
  // never idle out, and every key such a peer sends would stay in memory.
  it('gives up on a verification the authoritative server never answers (remote-server-timeout)', async () => {
    const firstConnects = accepted();
    const { raw, id } = await claimPeer();
    const first = await firstConnects;
    await first.open(DIALBACK_ERRORS);
    await first.expect(/<db:verify [^>]*>/);
    first.send(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='valid'/>`);
    await verdict(raw);
    // The stream is authenticated now, so its own timeout no longer ends it; a second pair:
    const secondConnects = accepted();
    const since = raw.received.length;
    raw.send(`<db:result from='${OTHER_PEER}' to='${LOCAL}'>${'1'.repeat(64)}</db:result>`);
    const second = await secondConnects;
    await second.open(DIALBACK_ERRORS, OTHER_PEER);
    await second.expect(/<db:result [^>]*>[^<]*<\/db:result>/);
    second.send(`<db:result from='${OTHER_PEER}' to='${LOCAL}' type='valid'/>`);
    await second.expect(/<db:verify [^>]*>/);
    // No answer from the second authority: after s2s.auth_timeout the request is given up.
    await expectAfter(raw, since, /<db:result [^>]*type="error"[\s\S]*?<\/db:result>/, 15_000);
    const result = parseServerStream(raw.received).elements.at(-1)!;
    expect(result.attrs).to.deep.include({ from: LOCAL, to: OTHER_PEER, type: 'error' });
    expect(result.getChild('error')?.elements.map(qname)).to.deep.equal([
      'urn:ietf:params:xml:ns:xmpp-stanzas remote-server-timeout',
    ]);
  });

  // RFC 6120 §4.9.3.8: a 'from' that is no JID at all is improper-addressing; invalid-from
  // (§4.9.3.9) is for a well-formed one the stream has not proved.
  it('answers a stanza whose from is not a JID with improper-addressing', async () => {
    const authorityConnects = accepted();
    const { raw, id } = await claimPeer();
    const authority = await authorityConnects;
    await authority.open(DIALBACK_ERRORS);
    await authority.expect(/<db:verify [^>]*>/);
    authority.send(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='valid'/>`);
    expect((await verdict(raw)).attrs.type).to.equal('valid');
    raw.send(`<message from='a@b@${PEER}' to='bob@${LOCAL}'><body>hi</body></message>`);
    await expectStreamError(raw, 'improper-addressing');
  });

  // RFC 6120 §5.4.3.3: after TLS, both sides discard what they learnt before it. A pair proved
  // by dialback in the clear (s2s.require_encryption = false) is proved again, encrypted.
  it('forgets the pairs proved in the clear once the stream is upgraded with STARTTLS', async () => {
    const authorityConnects = accepted();
    const { raw, id } = await claimPeer();
    const authority = await authorityConnects;
    await authority.open(DIALBACK_ERRORS);
    await authority.expect(/<db:verify [^>]*>/);
    authority.send(`<db:verify from='${PEER}' to='${LOCAL}' id='${id}' type='valid'/>`);
    expect((await verdict(raw)).attrs.type).to.equal('valid');
    raw.send(`<starttls xmlns='${NS.TLS}'/>`);
    await raw.expect(/<proceed [^>]*\/>/);
    await raw.startTls();
    const since = raw.received.length;
    raw.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
        ` xmlns:db='${NS.DIALBACK}' from='${PEER}' to='${LOCAL}' version='1.0'>`,
    );
    await expectAfter(raw, since, /<\/stream:features>|<stream:features\/>/);
    raw.send(`<message from='alice@${PEER}' to='bob@${LOCAL}'><body>hi</body></message>`);
    await expectStreamError(raw, 'not-authorized');
  });
});

// A component's domain is a domain of its server like a MUC service's: a remote server reaches
// it over s2s (dialback for that pair, RFC 6120 §8.1.1.1), and it answers from that domain.
describe('s2s: a component of another server', function () {
  this.timeout(30_000);
  const BOT = `bot.${DOMAIN_B}`;
  const BOT_SECRET = 'bot secret of b';
  let pair: Pair;
  let alice: TestClient;
  let component: RawClient | undefined;

  before(async () => {
    pair = await startPair({
      services: ['bot'],
      // Inside b's [s2s] comes last, so tables of its own can follow: only b has the component.
      s2sB: [
        '[component]',
        'addresses = ["127.0.0.1"]',
        'port = 0',
        `[components."${BOT}"]`,
        `secret = "${BOT_SECRET}"`,
      ].join('\n'),
    });
    await pair.a.addUser('alice', 'alice-secret');
    alice = await login(pair.a, 'alice');
  });

  after(async () => {
    component?.close();
    await alice?.stop().catch(() => {});
    await pair?.stop();
  });

  it('carries a remote user’s message to the component, and its answer back', async () => {
    component = await RawClient.connect(pair.b.server.listening.component[0]!.port);
    component.send(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAM}' to='${BOT}'>`,
    );
    const [, id] = await component.expect(/<stream:stream[^>]* id="([^"]+)"/);
    const digest = createHash('sha1')
      .update(id + BOT_SECRET)
      .digest('hex');
    component.send(`<handshake>${digest}</handshake>`);
    await component.expect(/<handshake\/>/);

    await alice.send(xml('message', { to: `echo@${BOT}`, id: 'm1' }, xml('body', {}, 'hello bot')));
    await component.expect(/<message [^>]*id="m1"[^>]*>[\s\S]*?<\/message>/);
    const got = parseServerStream(component.received).elements.at(-1)!;
    expect(qname(got)).to.equal(`${NS.COMPONENT} message`);
    expect(got.attrs).to.include({ from: alice.jid!.toString(), to: `echo@${BOT}` });
    expect(got.getChildText('body')).to.equal('hello bot');

    const answer = upcoming(alice)((el) => el.name === 'message' && el.attrs.id === 'r1');
    component.send(
      `<message from='echo@${BOT}' to='${alice.jid!.toString()}' id='r1'><body>hello human</body></message>`,
    );
    const reply = await answer;
    expect(reply.attrs.from).to.equal(`echo@${BOT}`);
    expect(reply.getChildText('body')).to.equal('hello human');
    expect(pair.a.server.federation!.manager.connections).to.include(`${DOMAIN_A}→${BOT}`);
    expect(pair.b.server.federation!.manager.connections).to.include(`${BOT}→${DOMAIN_A}`);
  });
});
