// A stream that has proved nothing may not keep us connecting to domains of its choosing: each
// <db:result/> sends the receiving server to the named domain's authoritative server (XEP-0220
// §2.1.2), so a peer could use us to probe or load any host its DNS points at. Requests whose
// authority cannot be reached are answered with a dialback error (§2.4), and after a few of them
// the stream is closed with policy-violation (RFC 6120 §4.9.3.15).

import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { expectAfter, expectStreamError, parseServerStream, qname, RawClient } from '../helpers/client.js';
import { DOMAIN_B, freePort, type Pair, startPair } from './s2s-support.js';

const DEAD = ['dead1.example', 'dead2.example', 'dead3.example', 'dead4.example'];

function header(from: string, to: string): string {
  return (
    `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}'` +
    ` xmlns:db='${NS.DIALBACK}' from='${from}' to='${to}' version='1.0'>`
  );
}

async function open(raw: RawClient, from: string, to: string): Promise<void> {
  const since = raw.received.length;
  raw.send(header(from, to));
  await expectAfter(raw, since, /<\/stream:features>|<stream:features\/>/);
}

describe('s2s: dialback requests that cannot be checked', function () {
  this.timeout(20_000);
  let pair: Pair;
  let raw: RawClient | undefined;

  before(async () => {
    // Nothing listens there: connections to it are refused at once.
    const port = await freePort();
    pair = await startPair({
      extraToml: DEAD.flatMap((domain) => [
        `[s2s.routes."${domain}"]`,
        'host = "127.0.0.1"',
        `port = ${port}`,
      ]).join('\n'),
    });
  });

  after(async () => {
    raw?.close();
    await pair?.stop();
  });

  it('answers each with a dialback error and closes the stream after four (policy-violation)', async () => {
    raw = await RawClient.connect(pair.b.s2sPort);
    await open(raw, DEAD[0]!, DOMAIN_B);
    raw.send(`<starttls xmlns='${NS.TLS}'/>`);
    await raw.expect(/<proceed [^>]*\/>/);
    await raw.startTls();
    await open(raw, DEAD[0]!, DOMAIN_B);
    for (const [i, domain] of DEAD.entries()) {
      const since = raw.received.length;
      raw.send(`<db:result from='${domain}' to='${DOMAIN_B}'>${'ab'.repeat(32)}</db:result>`);
      if (i < DEAD.length - 1) await expectAfter(raw, since, /type=['"]error['"]/);
    }
    const stream = await expectStreamError(raw, 'policy-violation');
    const results = stream.elements.filter((el) => qname(el) === `${NS.DIALBACK} result`);
    expect(results.map((el) => [el.attrs.from, el.attrs.to, el.attrs.type])).to.deep.equal(
      DEAD.map((domain) => [DOMAIN_B, domain, 'error']),
    );
    for (const result of results) expect(result.getChild('error')?.attrs.type).to.equal('cancel');
    expect(pair.b.server.federation!.stats.inboundDialback).to.equal(0);
    expect(parseServerStream(raw.received).header.from).to.equal(DOMAIN_B);
  });
});
