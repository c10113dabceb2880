// A minimal, fast XMPP client for the load generator: RFC 6120 §4 (stream header), §5
// (STARTTLS), §6 (SASL, here SCRAM-SHA-1 only), §7 (resource binding). It is deliberately
// independent of the server's code and reads the server's replies with indexOf rather than
// an XML parser: the replies during negotiation have a known shape, and afterwards only
// message bodies matter to the benchmark.

import net from 'node:net';
import tls from 'node:tls';
import { ScramSha1Client } from './scram-client.js';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

export interface Target {
  host: string;
  port: number;
  /** The XMPP domain (stream `to`, TLS SNI). */
  domain: string;
}

export interface Account {
  username: string;
  password: string;
}

// One client context for every connection: building one per handshake costs the load
// generator more than the handshake's own cryptography.
const clientContext = tls.createSecureContext();

export class LoginError extends Error {
  override name = 'LoginError';
}

/**
 * The end index (exclusive) of the first complete `<name …/>` or `<name …>…</name>` in
 * `text`, or -1 while it is incomplete. Good enough for the server's negotiation replies,
 * which never nest an element of the same name.
 */
function elementEnd(text: string, name: string, start: number): number {
  const open = text.indexOf('>', start);
  if (open < 0) return -1;
  if (text.charCodeAt(open - 1) === 47 /* / */) return open + 1;
  const close = text.indexOf(`</${name}>`, open);
  return close < 0 ? -1 : close + name.length + 3;
}

/** The text content of `<name …>text</name>` in `element` ('' for `<name/>`). */
function textOf(element: string, name: string): string {
  const start = element.indexOf(`<${name}`);
  const open = element.indexOf('>', start);
  if (start < 0 || open < 0 || element.charCodeAt(open - 1) === 47) return '';
  const close = element.indexOf(`</${name}>`, open);
  return close < 0 ? '' : element.slice(open + 1, close);
}

function streamHeader(domain: string): string {
  return (
    `<?xml version='1.0'?><stream:stream xmlns='jabber:client' ` +
    `xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0' xml:lang='en'>`
  );
}

/** Called with the text of each <body/> a bound session receives. */
export type BodyHandler = (body: string) => void;

/**
 * One client connection. `login` walks it through the negotiation; afterwards it scans the
 * stream for message bodies and hands them to `onBody`.
 */
export class BenchSession {
  /** The full JID the server bound. */
  jid = '';
  tlsProtocol = '';
  tlsCipher = '';
  onBody: BodyHandler | undefined;
  /** Set when the server ends the stream or the connection drops after login. */
  lost: string | undefined;

  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private bound = false;
  private waiter:
    | { names: readonly string[]; resolve: (element: string) => void; reject: (err: Error) => void }
    | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: string) => this.receive(chunk);

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects, negotiates TLS, authenticates and binds `resource`. */
  static async login(target: Target, account: Account, resource: string): Promise<BenchSession> {
    const raw = await connectTcp(target);
    const session = new BenchSession(raw);
    try {
      await session.negotiate(target, account, resource);
    } catch (err) {
      session.socket.destroy();
      throw err;
    }
    return session;
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', this.onData);
    socket.on('error', (err: Error) => this.broken(err.message));
    socket.on('close', () => this.broken('connection closed'));
  }

  private broken(reason: string): void {
    if (this.bound) {
      this.lost ??= reason;
      return;
    }
    this.failure ??= new LoginError(`${reason}; received: ${this.buffer.slice(-300)}`);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  private receive(chunk: string): void {
    if (this.bound) {
      this.scanBodies(chunk);
      return;
    }
    this.buffer += chunk;
    this.settle();
  }

  private settle(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    if (this.buffer.includes('<stream:error')) {
      this.broken('stream error');
      return;
    }
    // The first of the awaited elements to start in the buffer, once it is complete.
    let name = '';
    let start = -1;
    for (const candidate of waiter.names) {
      const at = this.buffer.indexOf(`<${candidate}`);
      if (at >= 0 && (start < 0 || at < start)) {
        start = at;
        name = candidate;
      }
    }
    if (start < 0) return;
    const end = elementEnd(this.buffer, name, start);
    if (end < 0) return;
    this.waiter = undefined;
    const element = this.buffer.slice(start, end);
    this.buffer = this.buffer.slice(end);
    waiter.resolve(element);
  }

  /** Resolves with the next complete element with one of `names` (or rejects on error or close). */
  private next(...names: string[]): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { names, resolve, reject };
      this.settle();
    });
  }

  /** The next SASL reply: a challenge, success or failure element. */
  private async saslReply(): Promise<{ kind: 'challenge' | 'success'; data: string }> {
    const element = await this.next('challenge', 'success', 'failure');
    if (element.startsWith('<failure')) throw new LoginError(`SASL failure: ${element}`);
    const kind = element.startsWith('<success') ? 'success' : 'challenge';
    return { kind, data: Buffer.from(textOf(element, kind), 'base64').toString('utf8') };
  }

  private async negotiate(target: Target, account: Account, resource: string): Promise<void> {
    const header = streamHeader(target.domain);
    this.socket.write(header);
    const plainFeatures = await this.next('stream:features');
    if (!plainFeatures.includes(NS_TLS)) throw new LoginError(`no STARTTLS offered: ${plainFeatures}`);
    this.socket.write(`<starttls xmlns='${NS_TLS}'/>`);
    await this.next('proceed');
    await this.startTls(target);

    this.socket.write(header);
    const features = await this.next('stream:features');
    if (!features.includes('>SCRAM-SHA-1<')) throw new LoginError(`no SCRAM-SHA-1 offered: ${features}`);
    const scram = new ScramSha1Client(account.username, account.password);
    this.socket.write(
      `<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from(scram.initial()).toString('base64')}</auth>`,
    );
    const first = await this.saslReply();
    if (first.kind !== 'challenge') throw new LoginError('SASL success without a challenge');
    const final = await scram.respond(first.data);
    this.socket.write(`<response xmlns='${NS_SASL}'>${Buffer.from(final).toString('base64')}</response>`);
    const outcome = await this.saslReply();
    if (outcome.kind !== 'success') throw new LoginError('SASL: a second challenge instead of success');
    scram.verify(outcome.data);

    this.socket.write(header);
    const bindFeatures = await this.next('stream:features');
    if (!bindFeatures.includes(NS_BIND)) throw new LoginError(`no resource binding offered: ${bindFeatures}`);
    this.socket.write(
      `<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`,
    );
    const result = await this.next('iq');
    if (!/type=["']result["']/.test(result)) throw new LoginError(`bind failed: ${result}`);
    this.jid = textOf(result, 'jid');
    this.bound = true;
    const rest = this.buffer;
    this.buffer = '';
    if (rest) this.scanBodies(rest);
  }

  private startTls(target: Target): Promise<void> {
    const raw = this.socket as net.Socket;
    raw.removeListener('data', this.onData);
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    this.buffer = '';
    return new Promise((resolve, reject) => {
      const secure = tls.connect({
        socket: raw,
        secureContext: clientContext,
        servername: target.domain,
        // The servers under test use self-signed certificates generated for the run.
        rejectUnauthorized: false,
      });
      secure.once('secureConnect', () => {
        secure.removeListener('error', reject);
        this.tlsProtocol = secure.getProtocol() ?? '';
        this.tlsCipher = secure.getCipher()?.name ?? '';
        this.socket = secure;
        this.attach(secure);
        resolve();
      });
      secure.once('error', reject);
    });
  }

  /** Finds each complete <body>…</body>; keeps an incomplete one for the next chunk. */
  private scanBodies(chunk: string): void {
    const text = this.buffer.length > 0 ? this.buffer + chunk : chunk;
    if (text.includes('<stream:error') || text.includes('</stream:stream>')) {
      this.lost ??= `the server ended the stream: ${text.slice(0, 300)}`;
    }
    let pos = 0;
    for (;;) {
      const start = text.indexOf('<body>', pos);
      if (start < 0) {
        // Keep a possibly split "<body>" tag.
        const keep = Math.max(pos, text.length - 5);
        this.buffer = text.slice(keep);
        return;
      }
      const end = text.indexOf('</body>', start + 6);
      if (end < 0) {
        this.buffer = text.slice(start);
        return;
      }
      this.onBody?.(text.slice(start + 6, end));
      pos = end + 7;
    }
  }

  /** Queues raw XML; writes issued in one tick leave in one TLS record where the socket allows. */
  send(xml: string): void {
    this.socket.write(xml);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Ends the stream politely and the connection with it, without waiting for the server. */
  close(): void {
    this.bound = false;
    this.waiter = undefined;
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => {});
    this.socket.end('</stream:stream>');
  }

  /** Ends the stream and resolves when the server has closed the connection (or after `timeoutMs`). */
  closeAndWait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.bound = false;
      this.socket.on('error', () => {});
      this.socket.end('</stream:stream>');
    });
  }
}

function connectTcp(target: Target): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
