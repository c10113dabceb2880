// Clients for integration tests: @xmpp/client (an independent implementation of the
// protocol) for everything a polite client does, and a raw socket for what it never would.

import net from 'node:net';
import tls from 'node:tls';
import { type Client, client, type XmlElement } from '@xmpp/client';

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

  static connect(port: number, options: { tls?: boolean } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({
            port,
            host: '127.0.0.1',
            servername: 'localhost',
            rejectUnauthorized: false,
            ALPNProtocols: ['xmpp-client'],
          })
        : net.connect({ port, host: '127.0.0.1' });
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
