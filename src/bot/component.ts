// The assistant's connection to an XMPP server: XEP-0114 Jabber Component Protocol
// (jabber:component:accept), the same protocol every bot and gateway uses, so the assistant runs
// against any server's component port.
//
// References: XEP-0114 §3 (stream header with the component name in 'to'; the server's stream ID;
// <handshake/> carrying lowercase hex SHA-1 of stream ID + secret; an empty <handshake/> on
// success; not-authorized otherwise); RFC 6120 §4.9 stream errors (host-unknown, conflict).
//
// One connection at a time, reconnected with exponential backoff and jitter when it drops. The
// first connection is what start() waits for: a wrong secret or an unknown component name then
// fails loudly; later, the same errors are logged and retried (a server restarting with a new
// configuration should not need the assistant restarted too).

import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Logger } from '../log.js';
import type { Element } from '../xml/element.js';
import { StreamParser } from '../xml/parser.js';
import { NS } from './ns.js';

export interface ComponentOptions {
  readonly host: string;
  readonly port: number;
  /** The component name: the domain this component serves (ai.example.org). */
  readonly domain: string;
  readonly secret: string;
  readonly log: Logger;
  /** Every stanza the server routes to the component, once authenticated. */
  readonly onStanza: (stanza: Element) => void;
  /** A session was established (first time and after each reconnection). */
  readonly onOnline?: () => void;
  /** The session ended (the assistant will reconnect unless stopped). */
  readonly onOffline?: () => void;
  /** First reconnection delay; doubles up to maxBackoffMs. Default 500 ms. */
  readonly initialBackoffMs?: number;
  /** Default 30 s. */
  readonly maxBackoffMs?: number;
  /** From TCP connect to the server's empty <handshake/>. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Whitespace sent this often on an idle stream, so that a dead peer is noticed. Default 60 s; 0 off. */
  readonly keepaliveMs?: number;
}

export type ComponentErrorCode =
  /** The server rejected the secret. */
  | 'not-authorized'
  /** The server does not know the component name. */
  | 'host-unknown'
  /** Another connection already serves the component name. */
  | 'conflict'
  /** Another stream error, or a server that does not speak the protocol. */
  | 'stream-error'
  | 'stopped';

export class ComponentError extends Error {
  override name = 'ComponentError';
  constructor(
    readonly code: ComponentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** XEP-0114 §3: lowercase hex SHA-1 of the stream ID followed by the secret (UTF-8). */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret, 'utf8')
    .digest('hex');
}

/** Generous: the server only sends what its own limits let through. */
const MAX_STANZA_BYTES = 4 << 20;

export class ComponentConnection {
  private socket: net.Socket | undefined;
  private authenticated = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private firstWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private everOnline = false;

  constructor(private readonly options: ComponentOptions) {}

  get online(): boolean {
    return this.authenticated;
  }

  /**
   * Connects, and resolves once the server accepted the handshake. Connection failures are
   * retried; a stream error on the first connection rejects with a ComponentError (the
   * connection is then closed for good). `signal` gives up waiting.
   */
  start(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.firstWaiter = { resolve, reject };
      signal?.addEventListener(
        'abort',
        () => {
          if (this.everOnline) return;
          this.failFirst(new ComponentError('stopped', 'gave up connecting to the XMPP server'));
          void this.stop();
        },
        { once: true },
      );
      this.connect();
    });
  }

  /** Sends a stanza; false (the stanza is dropped) while offline. */
  send(stanza: Element | string): boolean {
    const socket = this.socket;
    if (!this.authenticated || socket === undefined) return false;
    // Stanzas written in one turn (a chat state and a message, many answers' chunks) leave in
    // one write: corked until the turn's synchronous work is done.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork, socket);
    }
    socket.write(typeof stanza === 'string' ? stanza : stanza.toString());
    return true;
  }

  private corked = false;
  private readonly uncork = (socket: net.Socket): void => {
    this.corked = false;
    socket.uncork();
  };

  /** Closes the stream politely and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.failFirst(new ComponentError('stopped', 'stopped before connecting'));
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.authenticated) socket.end('</stream:stream>');
      else socket.destroy();
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port, domain, secret, log } = this.options;
    const socket = net.connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    const handshakeTimer = setTimeout(() => {
      log.warn('component handshake timed out', { host, port });
      socket.destroy();
    }, this.options.handshakeTimeoutMs ?? 10_000);
    let streamError: ComponentError | undefined;
    const parser = new StreamParser(
      {
        streamStart: (_name, attrs) => {
          const id = attrs.id;
          if (id === undefined || id === '') {
            streamError = new ComponentError('stream-error', 'the server sent a stream header without an id');
            socket.destroy();
            return;
          }
          socket.write(`<handshake>${handshakeDigest(id, secret)}</handshake>`);
        },
        stanza: (el, ns) => {
          if (el.localName === 'error' && ns === NS.STREAM) {
            streamError = readStreamError(el);
            log.warn('the XMPP server closed the component stream', {
              condition: streamError.code,
              text: streamError.message,
            });
            socket.destroy();
            return;
          }
          if (!this.authenticated) {
            if (el.localName !== 'handshake') return;
            clearTimeout(handshakeTimer);
            this.becomeOnline();
            return;
          }
          try {
            this.options.onStanza(el);
          } catch (err) {
            log.error('stanza handler failed', { err: err as Error });
          }
        },
        streamEnd: () => {
          socket.end();
        },
        error: (condition, text) => {
          log.warn('the XMPP server sent bad XML on the component stream', { condition, text });
          socket.destroy();
        },
      },
      { maxStanzaBytes: MAX_STANZA_BYTES, maxDepth: 64 },
    );
    socket.on('connect', () => {
      socket.write(
        `<?xml version='1.0'?><stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAM}' to='${domain}'>`,
      );
    });
    socket.on('data', (chunk: Buffer) => parser.write(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.stopped)
        log.debug('component connection error', { host, port, code: err.code ?? err.message });
    });
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      if (this.keepalive !== undefined) clearInterval(this.keepalive);
      this.keepalive = undefined;
      parser.stop();
      const wasOnline = this.authenticated;
      this.authenticated = false;
      if (this.socket === socket) this.socket = undefined;
      if (wasOnline) this.options.onOffline?.();
      if (this.stopped) return;
      if (!this.everOnline && streamError !== undefined) {
        // The first connection tells the operator about a misconfiguration, rather than retrying it forever.
        this.stopped = true;
        this.failFirst(streamError);
        return;
      }
      this.scheduleReconnect(wasOnline, streamError);
    });
  }

  private becomeOnline(): void {
    this.authenticated = true;
    this.everOnline = true;
    this.attempt = 0;
    this.options.log.info('connected to the XMPP server as a component', { domain: this.options.domain });
    const keepaliveMs = this.options.keepaliveMs ?? 60_000;
    if (keepaliveMs > 0) {
      this.keepalive = setInterval(() => this.socket?.write(' '), keepaliveMs);
      this.keepalive.unref();
    }
    const waiter = this.firstWaiter;
    this.firstWaiter = undefined;
    waiter?.resolve();
    this.options.onOnline?.();
  }

  private scheduleReconnect(wasOnline: boolean, cause: ComponentError | undefined): void {
    const initial = this.options.initialBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    const fields = { inMs: delay, cause: cause?.code };
    if (wasOnline || cause !== undefined)
      this.options.log.warn('component connection lost; reconnecting', fields);
    else this.options.log.debug('cannot reach the XMPP server yet; retrying', fields);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private failFirst(err: ComponentError): void {
    const waiter = this.firstWaiter;
    this.firstWaiter = undefined;
    waiter?.reject(err);
  }
}

function readStreamError(el: Element): ComponentError {
  let condition = 'undefined-condition';
  let text = '';
  for (const child of el.elements) {
    if (child.getNS() !== NS.STREAMS_ERROR) continue;
    if (child.localName === 'text') text = child.text;
    else condition = child.localName;
  }
  const detail = text === '' ? condition : `${condition}: ${text}`;
  switch (condition) {
    case 'not-authorized':
      return new ComponentError('not-authorized', `the server refused the component secret (${detail})`);
    case 'host-unknown':
      return new ComponentError('host-unknown', `the server does not serve this component name (${detail})`);
    case 'conflict':
      return new ComponentError('conflict', `another connection already serves this component (${detail})`);
    default:
      return new ComponentError('stream-error', `stream error ${detail}`);
  }
}
