// Clients for integration tests: @xmpp/client (an independent implementation of the
// protocol) for everything a polite client does, and a raw socket for what it never would.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { type Client, client, type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { Attrs, Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { StreamParser } from '../../src/xml/parser.js';

// The test server's certificate is self-signed and generated per run; the TLS unit tests
// check certificate validation itself.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

export interface ConnectOptions {
  port: number;
  domain: string;
  username: string;
  password: string;
  resource?: string;
  /** Force a SASL mechanism (the library's choice otherwise). */
  mechanism?: string;
  /** Use direct TLS (xmpps://) instead of STARTTLS. */
  directTls?: boolean;
}

export type TestClient = Client & {
  /** Every stanza received, in order. */
  received: XmlElement[];
  /** Resolves with the next received stanza matching `predicate` (already received ones count). */
  waitFor(predicate: (el: XmlElement) => boolean, timeoutMs?: number): Promise<XmlElement>;
};

export async function connect(options: ConnectOptions): Promise<TestClient> {
  const scheme = options.directTls ? 'xmpps' : 'xmpp';
  const xmpp = client({
    service: `${scheme}://127.0.0.1:${options.port}`,
    domain: options.domain,
    resource: options.resource,
    // The library's 2 s default is too tight for a loaded CI machine doing TLS and SCRAM.
    timeout: 10_000,
    credentials: async (authenticate, mechanisms) => {
      const mechanism = options.mechanism ?? mechanisms[0]!;
      await authenticate({ username: options.username, password: options.password }, mechanism);
    },
  }) as TestClient;
  xmpp.reconnect.stop();
  xmpp.received = [];
  const waiters: Array<{ predicate: (el: XmlElement) => boolean; resolve: (el: XmlElement) => void }> = [];
  xmpp.on('stanza', (el: XmlElement) => {
    xmpp.received.push(el);
    for (let i = 0; i < waiters.length; i++) {
      if (waiters[i]!.predicate(el)) {
        waiters[i]!.resolve(el);
        waiters.splice(i, 1);
        i--;
      }
    }
  });
  xmpp.on('error', () => {});
  xmpp.waitFor = (predicate, timeoutMs = 5000) => {
    const seen = xmpp.received.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a stanza')), timeoutMs);
      waiters.push({
        predicate,
        resolve: (el) => {
          clearTimeout(timer);
          resolve(el);
        },
      });
    });
  };
  await xmpp.start();
  return xmpp;
}

/** A raw connection for sending what no client library would. */
export class RawClient {
  private buffer = '';
  private closedFlag = false;
  private readonly listeners: Array<() => void> = [];

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  /**
   * localAddress (plain TCP only): the source address; on Linux all of 127.0.0.0/8 is loopback,
   * so 127.0.0.2 connects as another client IP.
   */
  static connect(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({
            port,
            host: '127.0.0.1',
            servername: 'localhost',
            rejectUnauthorized: false,
            ALPNProtocols: ['xmpp-client'],
          })
        : net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      this.notify();
    });
    socket.on('close', () => {
      this.closedFlag = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  private notify(): void {
    for (const listener of this.listeners.splice(0)) listener();
  }

  get received(): string {
    return this.buffer;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until the received text matches, returning the match. */
  async expect(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.buffer.match(pattern);
      if (match) return match;
      if (this.closedFlag) throw new Error(`connection closed; received: ${this.buffer}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${pattern}; received: ${this.buffer}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the server to close the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedFlag) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`connection still open; received: ${this.buffer}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Upgrades to TLS after <proceed/> (the buffer is cleared). */
  async startTls(): Promise<void> {
    const secure = tls.connect({
      socket: this.socket as net.Socket,
      servername: 'localhost',
      rejectUnauthorized: false,
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket.removeAllListeners('data');
    this.buffer = '';
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function header(domain = 'localhost', extra = ''): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'${extra}>`;
}

// ---- reading and driving raw streams ----

/** What the server wrote on its current stream, as parsed by Warbler's own strict parser. */
export interface ServerStream {
  /** The name of the server's latest stream header, as written (e.g. 'stream:stream'). */
  name: string;
  /** The attributes of that header. */
  header: Attrs;
  /** The top-level elements the server sent after that header, in order. */
  elements: Element[];
  /** Whether the server closed the stream with </stream:stream>. */
  ended: boolean;
}

/**
 * Parses what the server sent since its latest stream header (after STARTTLS and SASL it sends
 * a new one, each behind an XML declaration). Throws when the server's own XML is bad.
 */
export function parseServerStream(text: string): ServerStream {
  const start = text.lastIndexOf('<?xml');
  if (start < 0) throw new Error(`no stream header in: ${text}`);
  const stream: ServerStream = { name: '', header: {}, elements: [], ended: false };
  let failure: string | undefined;
  const parser = new StreamParser(
    {
      streamStart: (name, attrs) => {
        stream.name = name;
        stream.header = attrs;
      },
      stanza: (el, ns) => {
        // Make the namespace the stream gave this element explicit, so that getNS() answers for it
        // and its descendants without the header.
        const colon = el.name.indexOf(':');
        const key = colon < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
        if (ns !== undefined && el.attrs[key] === undefined) el.attrs[key] = ns;
        stream.elements.push(el);
      },
      streamEnd: () => {
        stream.ended = true;
      },
      error: (condition, message) => {
        failure = `${condition}: ${message}`;
      },
    },
    { maxStanzaBytes: 1 << 24, maxDepth: 256 },
  );
  parser.write(Buffer.from(text.slice(start)));
  if (failure !== undefined) throw new Error(`the server sent bad XML (${failure}): ${text}`);
  return stream;
}

/** One element as "namespace localName", for comparing element lists exactly. */
export function qname(el: Element): string {
  return `${el.getNS()} ${el.localName}`;
}

/**
 * Waits for the server to close the connection (we neither answer nor close: it must do so
 * itself), then checks that its stream ended with exactly this error (RFC 6120 §4.9): a
 * <stream:error/> holding the condition in the xmpp-streams namespace and at most a <text/>,
 * as the last element, followed by </stream:stream>.
 */
export async function expectStreamError(
  raw: RawClient,
  condition: string,
  timeoutMs = 5000,
): Promise<ServerStream> {
  await raw.waitClosed(timeoutMs);
  const stream = parseServerStream(raw.received);
  const error = stream.elements.at(-1);
  expect(error && qname(error), `last element in ${raw.received}`).to.equal(`${NS.STREAM} error`);
  const children = error!.elements.map(qname);
  const expected = [`${NS.STREAMS_ERROR} ${condition}`];
  if (children.length > 1) expected.push(`${NS.STREAMS_ERROR} text`);
  expect(children, raw.received).to.deep.equal(expected);
  expect(stream.ended, `</stream:stream> in ${raw.received}`).to.equal(true);
  return stream;
}

/** A RegExp that only looks at the text after a given position (for RawClient.expect). */
class RegExpFrom extends RegExp {
  constructor(
    pattern: RegExp,
    private readonly from: number,
  ) {
    super(pattern.source, pattern.flags);
  }

  override [Symbol.match](text: string): RegExpMatchArray | null {
    return super[Symbol.match](text.slice(this.from));
  }
}

/** Waits for `pattern` in what the server sent after character `since` of raw.received. */
export function expectAfter(
  raw: RawClient,
  since: number,
  pattern: RegExp,
  timeoutMs?: number,
): Promise<RegExpMatchArray> {
  return raw.expect(new RegExpFrom(pattern, since), timeoutMs);
}

/** Sends a stream header and returns the server's <stream:features/> for it. */
export async function openStream(raw: RawClient, streamHeader = header()): Promise<Element> {
  const since = raw.received.length;
  raw.send(streamHeader);
  await expectAfter(raw, since, /<\/stream:features>/);
  const features = parseServerStream(raw.received).elements.at(-1)!;
  expect(qname(features)).to.equal(`${NS.STREAM} features`);
  return features;
}

/** Opens a stream and upgrades it with STARTTLS. */
export async function rawStartTls(raw: RawClient): Promise<void> {
  await openStream(raw);
  raw.send(`<starttls xmlns='${NS.TLS}'/>`);
  await raw.expect(/<proceed [^>]*\/>/);
  await raw.startTls();
}

/** The base64 SASL PLAIN message (RFC 4616) for a username and password. */
export function plainCredentials(username: string, password: string): string {
  return Buffer.from(`\0${username}\0${password}`).toString('base64');
}

/** On a TLS stream: opens a stream and authenticates with PLAIN. */
export async function rawAuthenticate(raw: RawClient, username: string, password: string): Promise<void> {
  await openStream(raw);
  const since = raw.received.length;
  raw.send(`<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials(username, password)}</auth>`);
  await expectAfter(raw, since, /<success[ />]/);
}

/** After authentication: opens the new stream and binds (the requested resource, if any); returns the full JID. */
export async function rawBind(raw: RawClient, resource?: string): Promise<string> {
  await openStream(raw);
  const since = raw.received.length;
  const requested = resource === undefined ? '' : `<resource>${resource}</resource>`;
  raw.send(`<iq type='set' id='bind-1'><bind xmlns='${NS.BIND}'>${requested}</bind></iq>`);
  await expectAfter(raw, since, /<\/iq>|<iq [^>]*\/>/);
  const reply = parseServerStream(raw.received).elements.at(-1)!;
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.getChild('bind', NS.BIND)!.getChildText('jid')!;
}

/** A raw client through STARTTLS, PLAIN and resource binding, ready to send stanzas. */
export async function rawLogin(
  port: number,
  username: string,
  password: string,
  options: { resource?: string; localAddress?: string } = {},
): Promise<{ raw: RawClient; jid: string }> {
  const raw = await RawClient.connect(port, { localAddress: options.localAddress });
  await rawStartTls(raw);
  await rawAuthenticate(raw, username, password);
  return { raw, jid: await rawBind(raw, options.resource) };
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Proves that the server still serves well-behaved clients: `sender` logs in afresh with
 * @xmpp/client, sends `recipient` (a session that was already up) a message that arrives intact
 * with the sender's full JID, and gets an answer to a ping to the server.
 */
export async function expectServesClients(
  port: number,
  domain: string,
  sender: Credentials,
  recipient: TestClient,
): Promise<void> {
  // PLAIN (over TLS): the client library computes SCRAM's PBKDF2 with thousands of awaited
  // WebCrypto calls, seconds on a busy machine; c2s.test.ts covers SCRAM logins.
  const c = await connect({ port, domain, ...sender, mechanism: 'PLAIN' });
  try {
    const id = `health-${randomBytes(6).toString('hex')}`;
    const to = recipient.jid!.toString();
    await c.send(xml('message', { to, type: 'chat', id }, xml('body', {}, 'still here?')));
    const message = await recipient.waitFor((el) => el.name === 'message' && el.attrs.id === id);
    expect(message.attrs.from).to.equal(c.jid!.toString());
    expect(message.getChildText('body')).to.equal('still here?');
    const pong = await c.iqCaller.request(
      xml('iq', { type: 'get', to: domain, id: `${id}-ping` }, xml('ping', { xmlns: NS.PING })),
    );
    expect(pong.attrs.type).to.equal('result');
  } finally {
    await c.stop().catch(() => {});
  }
}

/** Polls until `check` holds: for state the server updates when a socket event reaches it. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
