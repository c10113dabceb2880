// Warbler's outgoing server streams against a scripted peer on a plain socket, for what a
// polite peer never does: refusing our dialback key (XEP-0220 §2.1.1: stanzas come back with
// internal-server-error), and, on a bidirectional stream (XEP-0288), sending stanzas back,
// asking us to verify a key (answered), asking to prove another domain on our stream
// (refused without ending it) and sending a stanza from a domain it never proved
// (invalid-from). TLS is off here (s2s.require_encryption = false) so the script reads XML.

import net from 'node:net';
import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { dialbackKey } from '../../src/s2s/dialback-key.js';
import { NS } from '../../src/xml/ns.js';
import type { TestClient } from '../helpers/client.js';
import { errorOf, login, upcoming } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DOMAIN_A } from './s2s-support.js';

const SECRET = 'outbound test secret';
const PEER = 'peer.localhost';

/** The far end of one connection Warbler opened: reads what it sends, writes what we script. */
class ScriptedPeer {
  private text = '';
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

  get received(): string {
    return this.text;
  }

  send(data: string): void {
    this.socket.write(data);
  }

  /** Waits until what Warbler sent after character `from` matches. */
  async expect(pattern: RegExp, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const match = this.text.slice(from).match(pattern);
      if (match) return match;
      if (this.closed) throw new Error(`closed; received: ${this.text}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; received: ${this.text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Answers Warbler's stream header with ours (stream id `id`) and these features. */
  async open(id: string, features: string): Promise<void> {
    await this.expect(/<stream:stream [^>]*>/);
    this.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAM}' ` +
        `xmlns:db='${NS.DIALBACK}' id='${id}' from='${PEER}' to='${DOMAIN_A}' version='1.0'>` +
        `<stream:features>${features}</stream:features>`,
    );
  }
}

describe('s2s: outgoing streams against a scripted peer', function () {
  this.timeout(20_000);
  let listener: net.Server;
  const peers: ScriptedPeer[] = [];
  let nextPeer: ((peer: ScriptedPeer) => void) | undefined;
  let ts: TestServer;
  let alice: TestClient;

  const accepted = () => new Promise<ScriptedPeer>((resolve) => (nextPeer = resolve));

  before(async () => {
    listener = net.createServer((socket) => {
      const peer = new ScriptedPeer(socket);
      peers.push(peer);
      nextPeer?.(peer);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    ts = await startTestServer({
      hosts: [DOMAIN_A],
      s2s: ['require_encryption = false', `dialback_secret = "${SECRET}"`].join('\n'),
      extraToml: [
        `[s2s.routes."${PEER}"]`,
        'host = "127.0.0.1"',
        `port = ${port}`,
        '[modules]',
        'disabled = ["mam"]',
      ].join('\n'),
    });
    await ts.addUser('alice', 'alice-secret');
    alice = await login(ts, 'alice');
    await alice.send(xml('presence'));
  });

  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
    for (const peer of peers) peer.socket.destroy();
    listener?.close();
  });

  it('sends a XEP-0185 key, and bounces with internal-server-error when the peer refuses it', async () => {
    const connection = accepted();
    const bounced = upcoming(alice)((el) => el.attrs.id === 'refused-1' && el.attrs.type === 'error');
    await alice.send(xml('message', { to: `bob@${PEER}`, id: 'refused-1' }, xml('body', {}, 'hi')));
    const peer = await connection;
    await peer.open('stream-one', `<dialback xmlns='${NS.DIALBACK_FEATURE}'><errors/></dialback>`);
    const [, key] = await peer.expect(
      /<db:result from="a\.localhost" to="peer\.localhost">([0-9a-f]+)<\/db:result>/,
    );
    expect(key).to.equal(dialbackKey(SECRET, PEER, DOMAIN_A, 'stream-one'));
    peer.send(`<db:result from='${PEER}' to='${DOMAIN_A}' type='invalid'/>`);
    expect(errorOf(await bounced)).to.deep.equal({ type: 'cancel', condition: 'internal-server-error' });
    expect(peer.received).to.not.include('<message');
  });

  it('on a bidirectional stream, takes stanzas back, answers verification, refuses piggybacking and foreign senders', async () => {
    const connection = accepted();
    await alice.send(
      xml('message', { to: `bob@${PEER}`, id: 'bidi-1', type: 'chat' }, xml('body', {}, 'there?')),
    );
    const peer = await connection;
    await peer.open(
      'stream-two',
      `<dialback xmlns='${NS.DIALBACK_FEATURE}'><errors/></dialback><bidi xmlns='${NS.BIDI_FEATURE}'/>`,
    );
    await peer.expect(
      /<bidi xmlns=['"]urn:xmpp:bidi['"]\/>[\s\S]*<db:result from="a\.localhost" to="peer\.localhost">/,
    );
    peer.send(`<db:result from='${PEER}' to='${DOMAIN_A}' type='valid'/>`);
    await peer.expect(/<message [^>]*id="bidi-1"[^>]*>.*there\?.*<\/message>/);

    const back = upcoming(alice)((el) => el.name === 'message' && el.attrs.id === 'back-1');
    peer.send(
      `<message from='bob@${PEER}/r' to='${alice.jid!.toString()}' type='chat' id='back-1'><body>over bidi</body></message>`,
    );
    const received = await back;
    expect(received.attrs.from).to.equal(`bob@${PEER}/r`);
    expect(received.getChildText('body')).to.equal('over bidi');

    let mark = peer.received.length;
    const key = dialbackKey(SECRET, PEER, DOMAIN_A, 'their-stream');
    peer.send(`<db:verify from='${PEER}' to='${DOMAIN_A}' id='their-stream'>${key}</db:verify>`);
    await peer.expect(
      /<db:verify from="a\.localhost" to="peer\.localhost" id="their-stream" type="valid"\/>/,
      mark,
    );

    mark = peer.received.length;
    peer.send(`<db:result from='conference.${PEER}' to='${DOMAIN_A}'>abcdef</db:result>`);
    await peer.expect(
      /<db:result from="a\.localhost" to="conference\.peer\.localhost" type="error"><error type="cancel"[^>]*><feature-not-implemented /,
      mark,
    );

    mark = peer.received.length;
    peer.send(
      `<message from='mallory@evil.localhost' to='${alice.jid!.toString()}'><body>x</body></message>`,
    );
    await peer.expect(/<stream:error><invalid-from xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, mark);
  });
});
