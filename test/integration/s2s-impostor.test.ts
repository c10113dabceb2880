// What a server that is not who it claims, or that breaks the rules, gets from Warbler on its
// server-to-server port: host-unknown for a domain not served here (RFC 6120 §4.9.3.6), STARTTLS
// before anything when encryption is required, a dialback key the claimed domain's server does
// not vouch for refused (XEP-0220 §2.1.2 step 4) and the stream closed, stanzas before
// authentication refused (not-authorized), a stanza whose `from` is outside the proved domain
// refused with invalid-from (RFC 6120 §4.9.3.9), and <db:verify/> answered for keys we made.
// A raw socket plays the impostor; b.localhost's real peer a.localhost is the authority asked.

import { expect } from 'chai';
import { dialbackKey } from '../../src/s2s/dialback-key.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { expectAfter, expectStreamError, parseServerStream, qname, RawClient } from '../helpers/client.js';
import { DOMAIN_A, DOMAIN_B, type Pair, startPair } from './s2s-support.js';

const SECRET_A = 'the dialback secret of a';
const MUC_B = `conference.${DOMAIN_B}`;

function s2sHeader(from: string | undefined, to: string): string {
  const fromAttr = from === undefined ? '' : ` from='${from}'`;
  return (
    `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
    ` xmlns:db='${NS.DIALBACK}'${fromAttr} to='${to}' version='1.0'>`
  );
}

/** Sends a header; returns the server's header attributes and its features. */
async function open(raw: RawClient, from: string | undefined, to: string) {
  const since = raw.received.length;
  raw.send(s2sHeader(from, to));
  await expectAfter(raw, since, /<\/stream:features>|<stream:features\/>/);
  const stream = parseServerStream(raw.received);
  return { header: stream.header, features: stream.elements.at(-1)! };
}

/** Connects to `port`, opens a stream from `from` to `to` and upgrades it with STARTTLS. */
async function secured(port: number, from: string | undefined, to: string) {
  const raw = await RawClient.connect(port);
  await open(raw, from, to);
  raw.send(`<starttls xmlns='${NS.TLS}'/>`);
  await raw.expect(/<proceed [^>]*\/>/);
  await raw.startTls();
  return { raw, ...(await open(raw, from, to)) };
}

function shapeOf(el: Element): string[] {
  return el.elements.map(
    (child) => `${qname(child)}${child.elements.map((c) => `[${c.localName}]`).join('')}`,
  );
}

describe('s2s: impostors and rule breakers', function () {
  this.timeout(20_000);
  let pair: Pair;
  const raws: RawClient[] = [];

  before(async () => {
    pair = await startPair({ s2sA: `dialback_secret = "${SECRET_A}"`, services: ['conference'] });
  });

  afterEach(() => {
    for (const raw of raws.splice(0)) raw.close();
  });

  after(async () => {
    await pair?.stop();
  });

  async function connectB(): Promise<RawClient> {
    const raw = await RawClient.connect(pair.b.s2sPort);
    raws.push(raw);
    return raw;
  }

  it('answers a stream for a domain it does not serve with host-unknown', async () => {
    const raw = await connectB();
    raw.send(s2sHeader(DOMAIN_A, 'nowhere.localhost'));
    await expectStreamError(raw, 'host-unknown');
  });

  it('offers only required STARTTLS before TLS, and refuses dialback without it', async () => {
    const raw = await connectB();
    const { header, features } = await open(raw, DOMAIN_A, DOMAIN_B);
    expect(header.from).to.equal(DOMAIN_B);
    expect(header.to).to.equal(DOMAIN_A);
    expect(header.xmlns).to.equal(NS.SERVER);
    expect(header['xmlns:db']).to.equal(NS.DIALBACK);
    expect(shapeOf(features)).to.deep.equal([`${NS.TLS} starttls[required]`]);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>abc</db:result>`);
    await expectStreamError(raw, 'policy-violation');
  });

  it('offers dialback and bidi (XEP-0288) but not EXTERNAL to a peer without a trusted certificate', async () => {
    const { raw, features } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    expect(shapeOf(features)).to.deep.equal([
      `${NS.DIALBACK_FEATURE} dialback[errors]`,
      `${NS.BIDI_FEATURE} bidi`,
    ]);
  });

  it('refuses stanzas before the stream is authenticated', async () => {
    const { raw } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    raw.send(`<message from='alice@${DOMAIN_A}' to='bob@${DOMAIN_B}'><body>hi</body></message>`);
    await expectStreamError(raw, 'not-authorized');
  });

  it('refuses a dialback key the claimed domain’s server does not vouch for, and closes', async () => {
    const { raw } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${'0'.repeat(64)}</db:result>`);
    const stream = await expectStreamError(raw, 'not-authorized');
    const result = stream.elements.at(-2)!;
    expect(qname(result)).to.equal(`${NS.DIALBACK} result`);
    expect(result.attrs).to.include({ from: DOMAIN_B, to: DOMAIN_A, type: 'invalid' });
    expect(pair.b.server.federation!.stats.inboundDialback).to.equal(0);
  });

  it('refuses a stanza whose from is outside the domain the stream proved (invalid-from)', async () => {
    const { raw, header } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    // Knowing a.localhost's secret, the socket is a.localhost as far as dialback can tell.
    const key = dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, header.id!);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${key}</db:result>`);
    await raw.expect(/<db:result [^>]*type="valid"\/>/);
    const result = parseServerStream(raw.received).elements.at(-1)!;
    expect(result.attrs).to.deep.include({ from: DOMAIN_B, to: DOMAIN_A, type: 'valid' });
    raw.send(`<message from='mallory@evil.localhost' to='bob@${DOMAIN_B}'><body>trust me</body></message>`);
    await expectStreamError(raw, 'invalid-from');
  });

  it('refuses a stanza for a domain it does not serve after authentication (host-unknown)', async () => {
    const { raw, header } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    const key = dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, header.id!);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${key}</db:result>`);
    await raw.expect(/<db:result [^>]*type="valid"\/>/);
    raw.send(`<message from='alice@${DOMAIN_A}' to='carol@c.localhost'><body>relay this</body></message>`);
    await expectStreamError(raw, 'host-unknown');
  });

  /** A stream from the socket as a.localhost, proved for a.localhost → b.localhost. */
  async function provedAsA(): Promise<{ raw: RawClient; id: string }> {
    const { raw, header } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    const key = dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, header.id!);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${key}</db:result>`);
    await raw.expect(/<db:result [^>]*type="valid"\/>/);
    return { raw, id: header.id! };
  }

  it('refuses a stanza for a domain pair the stream has not proved (improper-addressing)', async () => {
    const { raw } = await provedAsA();
    raw.send(`<message from='alice@${DOMAIN_A}' to='lobby@${MUC_B}'><body>hi</body></message>`);
    await expectStreamError(raw, 'improper-addressing');
  });

  it('proves a second domain pair on the same stream (RFC 6120 §8.1.1.1 multiplexing)', async () => {
    const { raw, id } = await provedAsA();
    const key = dialbackKey(SECRET_A, MUC_B, DOMAIN_A, id);
    const since = raw.received.length;
    raw.send(`<db:result from='${DOMAIN_A}' to='${MUC_B}'>${key}</db:result>`);
    await expectAfter(raw, since, new RegExp(`<db:result [^>]*from="${MUC_B}"[^>]*type="valid"/>`));
    const stream = pair.b.server.federation!.incoming.find((s) => s.id === id)!;
    expect(stream.provedPairs).to.deep.equal([`${DOMAIN_A}→${DOMAIN_B}`, `${DOMAIN_A}→${MUC_B}`]);
    // A stanza for the new pair is accepted: the stream stays open, and answers the next request.
    raw.send(
      `<iq type='get' id='d1' from='alice@${DOMAIN_A}/r' to='${MUC_B}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    );
    const again = raw.received.length;
    raw.send(
      `<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, id)}</db:result>`,
    );
    await expectAfter(raw, again, new RegExp(`<db:result [^>]*from="${DOMAIN_B}"[^>]*type="valid"/>`));
    expect(raw.closed).to.equal(false);
  });

  it('sends stanzas back over a bidirectional stream, for the pair the peer proved (XEP-0288)', async () => {
    const { raw, header } = await secured(pair.b.s2sPort, DOMAIN_A, DOMAIN_B);
    raws.push(raw);
    raw.send(`<bidi xmlns='${NS.BIDI}'/>`);
    const key = dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, header.id!);
    raw.send(`<db:result from='${DOMAIN_A}' to='${DOMAIN_B}'>${key}</db:result>`);
    await raw.expect(/<db:result [^>]*type="valid"\/>/);
    const since = raw.received.length;
    raw.send(
      `<iq type='get' id='p1' from='alice@${DOMAIN_A}/r' to='${DOMAIN_B}'><ping xmlns='${NS.PING}'/></iq>`,
    );
    await expectAfter(raw, since, /<iq [^>]*id="p1"[^>]*\/>/);
    const pong = parseServerStream(raw.received).elements.at(-1)!;
    expect(qname(pong)).to.equal(`${NS.SERVER} iq`);
    expect(pong.attrs).to.include({ type: 'result', to: `alice@${DOMAIN_A}/r`, from: DOMAIN_B, id: 'p1' });
    expect(pong.elements).to.deep.equal([]);
  });

  it('answers <db:verify/> for the keys it made, and only those', async () => {
    const { raw } = await secured(pair.a.s2sPort, DOMAIN_B, DOMAIN_A);
    raws.push(raw);
    const good = dialbackKey(SECRET_A, DOMAIN_B, DOMAIN_A, 'stream-1');
    raw.send(`<db:verify from='${DOMAIN_B}' to='${DOMAIN_A}' id='stream-1'>${good}</db:verify>`);
    raw.send(`<db:verify from='${DOMAIN_B}' to='${DOMAIN_A}' id='stream-2'>${good}</db:verify>`);
    await raw.expect(/id="stream-2" type="[a-z]+"\/>/);
    const answers = parseServerStream(raw.received).elements.slice(-2);
    expect(answers.map((a) => [qname(a), a.attrs.from, a.attrs.to, a.attrs.id, a.attrs.type])).to.deep.equal([
      [`${NS.DIALBACK} verify`, DOMAIN_A, DOMAIN_B, 'stream-1', 'valid'],
      [`${NS.DIALBACK} verify`, DOMAIN_A, DOMAIN_B, 'stream-2', 'invalid'],
    ]);
  });
});
