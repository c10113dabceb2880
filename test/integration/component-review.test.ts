// Review findings on the component port (XEP-0114 with RFC 6120 §4.9): a raw socket plays a
// component that breaks the rules, and each test pins the answer the specs ask for.

import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { parseServerStream, qname, RawClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DOMAIN = 'bot.localhost';
const SECRET = 'a review secret';

function componentHeader(domain: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAM}' to='${domain}'>`;
}

const STREAM_ERROR =
  `<stream:error><undefined-condition xmlns='${NS.STREAMS_ERROR}'/>` +
  `<text xmlns='${NS.STREAMS_ERROR}'>the component gives up</text></stream:error>`;

describe('components: review findings', function () {
  this.timeout(20_000);
  let ts: TestServer;
  let port: number;

  before(async () => {
    ts = await startTestServer({
      extraToml: [
        '[component]',
        'addresses = ["127.0.0.1"]',
        'port = 0',
        `[components."${DOMAIN}"]`,
        `secret = "${SECRET}"`,
      ].join('\n'),
    });
    port = ts.server.listening.component[0]!.port;
  });

  after(async () => {
    await ts?.stop();
  });

  /** Waits for the server to close; the names of the elements it sent on the stream. */
  async function elementsAfterClose(raw: RawClient): Promise<string[]> {
    await raw.waitClosed();
    const stream = parseServerStream(raw.received);
    expect(stream.ended, raw.received).to.equal(true);
    return stream.elements.map(qname);
  }

  // RFC 6120 §4.9.1.1: a stream error ends the stream; answering it with one of ours would
  // only bounce errors between the two ends.
  it('closes without a stream error of its own when the component sends one after the handshake', async () => {
    const raw = await RawClient.connect(port);
    try {
      raw.send(componentHeader(DOMAIN));
      const [, id] = await raw.expect(/<stream:stream[^>]* id="([^"]+)"/);
      const digest = createHash('sha1')
        .update(id + SECRET)
        .digest('hex');
      raw.send(`<handshake>${digest}</handshake>`);
      await raw.expect(/<handshake\/>/);
      raw.send(STREAM_ERROR);
      expect(await elementsAfterClose(raw)).to.deep.equal([`${NS.COMPONENT} handshake`]);
    } finally {
      raw.close();
    }
  });

  it('closes without a stream error of its own when the component sends one instead of the handshake', async () => {
    const raw = await RawClient.connect(port);
    try {
      raw.send(componentHeader(DOMAIN));
      await raw.expect(/<stream:stream[^>]* id="[^"]+"/);
      raw.send(STREAM_ERROR);
      expect(await elementsAfterClose(raw)).to.deep.equal([]);
    } finally {
      raw.close();
    }
  });
});
