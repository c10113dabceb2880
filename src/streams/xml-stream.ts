// What every XMPP stream does regardless of its kind (client, server, component): reads a
// socket through the strict parser, writes with one syscall per tick, sends stream errors
// with the header the peer may not have had yet, and closes with the handshake of RFC 6120
// §4.4. Subclasses decide what the header and the elements mean.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { type Flushable, flushAtEndOfTurn, runBeforeOutputTasks } from '../core/end-of-turn.js';
import { StreamError, type StreamErrorCondition } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { Attrs, Element } from '../xml/element.js';
import { escapeAttr } from '../xml/escape.js';
import { NS } from '../xml/ns.js';
import { StreamParser, type StreamParserHandler, type StreamParserLimits } from '../xml/parser.js';

/** How long we wait for the peer's </stream:stream> after sending ours (RFC 6120 §4.4). */
const CLOSE_GRACE_MS = 5_000;
/**
 * Output a peer may leave unread before its stream is cut off (or four maximal stanzas, where
 * c2s.max_stanza_bytes is set higher): a client that stops reading must not make the server
 * hold everything others send it, while one on a slow link still gets a large roster and the
 * presence burst of a login through.
 */
const MIN_UNREAD_BYTES = 2 * 1024 * 1024;
/** Elements waiting behind one still being handled, beyond which the socket is not read. */
const MAX_WAITING_ELEMENTS = 64;

export type AnySocket = Socket | TLSSocket;

/**
 * The stream a socket carries. The socket listeners below are shared by every connection and
 * find their stream here: an idle server holds tens of thousands of connections, and a closure
 * per listener per socket would cost each of them a few hundred bytes for nothing.
 */
const STREAM = Symbol('warbler.stream');
type OwnedSocket = AnySocket & { [STREAM]?: XmlStream };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[STREAM]?.receive(chunk);
}

function onSocketClose(this: OwnedSocket): void {
  this[STREAM]?.socketClosed();
}

function onSocketError(this: OwnedSocket, err: NodeJS.ErrnoException): void {
  this[STREAM]?.socketError(err);
}

function onSocketSecure(this: OwnedSocket): void {
  this[STREAM]?.tlsEstablished();
}

export abstract class XmlStream implements StreamParserHandler, Flushable {
  protected socket: AnySocket;
  protected parser: StreamParser;
  /** Whether our header for the current stream has been written. */
  protected headerSent = false;
  /** We sent </stream:stream> (or a stream error) and wait for the peer or the socket to go. */
  protected closing = false;
  closed = false;
  /** Elements waiting while an earlier one is still being handled asynchronously. */
  private waiting: Array<[Element, string | undefined]> | undefined;
  private busy = false;
  /** Whether output is held back (the socket corked) until the end of the turn. */
  private corked = false;
  /**
   * Whether the peer left too much output unread: then what it would be sent is dropped
   * until the stream error goes out.
   */
  private overflow: 'none' | 'dropping' | 'failing' = 'none';
  private readonly maxUnreadBytes: number;
  private closeTimer: NodeJS.Timeout | undefined;
  /**
   * When the peer last sent anything (performance.now(), monotonic milliseconds): lets the
   * server ping only connections that have gone quiet (XEP-0199).
   */
  lastActivity = performance.now();

  constructor(
    socket: AnySocket,
    /** The logger of every stream of this kind; see `log`. */
    protected readonly streamLog: Logger,
    private readonly limits: StreamParserLimits,
  ) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.maxUnreadBytes = Math.max(MIN_UNREAD_BYTES, 4 * limits.maxStanzaBytes);
    this.parser = new StreamParser(this, limits);
    this.listen(socket);
  }

  /** Where this stream logs; subclasses name the account once there is one. */
  get log(): Logger {
    return this.streamLog;
  }

  /** The header we send for the current stream, given what the peer sent. */
  protected abstract headerAttrs(): Attrs;
  protected abstract onHeader(name: string, attrs: Attrs): void;
  /**
   * Handles one element of the stream. Elements are handled in the order they came: while a
   * promise returned here is pending, the following ones wait (and past MAX_WAITING_ELEMENTS the
   * socket is not read). A throw or a rejection fails the stream with internal-server-error.
   */
  protected abstract onElement(element: Element, ns: string | undefined): void | Promise<void>;
  /** The socket is gone (after a close handshake, an error, or the peer vanishing). */
  protected abstract onClosed(error: string | undefined): void;

  /** The peer's address, kept from the start: a destroyed socket no longer knows it. */
  readonly remoteAddress: string;

  // ---- parser callbacks (StreamParserHandler); not for other callers ----

  streamStart(name: string, attrs: Attrs): void {
    this.onHeader(name, attrs);
  }

  stanza(element: Element, ns: string | undefined): void {
    if (this.busy) {
      this.waiting ??= [];
      this.waiting.push([element, ns]);
      if (this.waiting.length === MAX_WAITING_ELEMENTS) this.socket.pause();
      return;
    }
    this.dispatch(element, ns);
  }

  streamEnd(): void {
    this.onPeerClose();
  }

  error(condition: StreamErrorCondition, text: string): void {
    this.fail(new StreamError(condition, text));
  }

  // ---- elements, in order ----

  private dispatch(element: Element, ns: string | undefined): void {
    let result: void | Promise<void>;
    try {
      result = this.onElement(element, ns);
    } catch (err) {
      this.elementFailed(err);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.catch((err: unknown) => this.elementFailed(err)).finally(() => this.drainWaiting());
    }
  }

  private drainWaiting(): void {
    this.busy = false;
    const waiting = this.waiting;
    while (!this.busy && waiting !== undefined && waiting.length > 0 && !this.closed && !this.closing) {
      const [element, ns] = waiting.shift()!;
      this.dispatch(element, ns);
    }
    if (!this.busy && this.socket.isPaused()) this.socket.resume();
  }

  /** A bug in handling the peer's input costs this connection, never the process. */
  private elementFailed(err: unknown): void {
    this.log.error('error while handling input', { error: err, ip: this.remoteAddress });
    this.fail(new StreamError('internal-server-error'));
  }

  // ---- socket events (through the shared listeners above) ----

  /** A chunk from the socket. */
  receive(chunk: Buffer): void {
    this.lastActivity = performance.now();
    try {
      this.parser.write(chunk);
    } catch (err) {
      // Everything this peer's input sets off runs from here: a bug anywhere in it (a module's
      // stream feature, a hook) must cost this connection, never the process.
      this.log.error('error while handling input', { error: err, ip: this.remoteAddress });
      this.fail(new StreamError('internal-server-error'));
    }
  }

  /** The TLS handshake of an upgraded socket finished. */
  tlsEstablished(): void {
    this.onSecure();
  }

  socketError(err: NodeJS.ErrnoException): void {
    this.log.debug('socket error', { code: err.code, message: err.message, ip: this.remoteAddress });
  }

  socketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting = undefined;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.parser.stop();
    try {
      this.onClosed(this.closing ? undefined : 'connection lost');
    } catch (err) {
      this.log.error('error while closing', { error: err, ip: this.remoteAddress });
    }
  }

  /**
   * Writes raw XML. Everything written in one turn of the event loop goes out together at its
   * end (see core/end-of-turn.ts). What the peer left unread is measured at the first write of
   * a turn, so that one large answer written at once does not count against it, only what piles
   * up across turns.
   */
  protected write(data: string): void {
    if (this.closed || this.overflow === 'dropping') return;
    if (!this.corked) {
      if (this.overflow === 'none' && !this.closing && this.socket.writableLength > this.maxUnreadBytes) {
        this.cutOff();
        return;
      }
      this.corked = true;
      this.socket.cork();
      flushAtEndOfTurn(this);
    }
    this.socket.write(data);
  }

  /** End of turn: what this turn wrote goes out. */
  flushOutput(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  /**
   * The peer does not read what it is sent. Writes usually come from other sessions' stanzas
   * being routed, so the stream is failed on a clean stack rather than inside their routing.
   */
  private cutOff(): void {
    this.overflow = 'dropping';
    const unread = this.socket.writableLength;
    process.nextTick(() => {
      this.overflow = 'failing';
      this.log.warn('peer does not read; cutting it off', { unread, ip: this.remoteAddress });
      this.fail(new StreamError('policy-violation', 'too much unread data: read what you are sent'));
    });
  }

  /** Pushes out what this turn has written so far (before the socket changes hands). */
  protected flush(): void {
    if (!this.corked) return;
    // Output that leaves early still follows what must precede it (archive commits).
    runBeforeOutputTasks();
    this.flushOutput();
  }

  /** Ends the socket after what was written, which ending sends at once. */
  private endSocket(): void {
    if (this.corked) runBeforeOutputTasks();
    this.socket.end();
  }

  protected writeElement(element: Element): void {
    this.write(element.toString());
  }

  protected sendHeader(): void {
    const attrs = this.headerAttrs();
    let s = "<?xml version='1.0'?><stream:stream";
    for (const key in attrs) {
      const value = attrs[key];
      if (value !== undefined) s += ` ${key}="${escapeAttr(value)}"`;
    }
    this.write(s + '>');
    this.headerSent = true;
  }

  /**
   * Sends a stream error (with our header first if the peer has not had it), closes the stream
   * and ends the connection (RFC 6120 §4.9.1.1).
   */
  fail(error: StreamError): void {
    if (this.closing || this.closed) return;
    const level = error.condition === 'system-shutdown' || error.condition === 'conflict' ? 'info' : 'warn';
    this.log[level]('stream error', { condition: error.condition, text: error.text, ip: this.remoteAddress });
    this.parser.stop();
    if (!this.headerSent) this.sendHeader();
    this.write(error.toElement().toString());
    this.terminate();
  }

  /**
   * Closes the stream and ends the connection at once, without waiting for the peer's closing
   * tag: after an error nothing the peer sends is parsed any more, so that tag would never be
   * seen (Prosody closes the connection right after a stream error too). A peer that keeps its
   * side open is destroyed after the grace period.
   */
  protected terminate(): void {
    if (this.closing || this.closed) return;
    this.parser.stop();
    if (!this.headerSent) this.sendHeader();
    this.beginClose();
    this.endSocket();
  }

  /** Closes cleanly: </stream:stream>, then wait for the peer's own, then end the socket. */
  close(error?: StreamError): void {
    if (error) {
      this.fail(error);
      return;
    }
    if (this.closing || this.closed) return;
    if (!this.headerSent) this.sendHeader();
    this.beginClose();
  }

  /** Drops the connection without a goodbye (for a peer that does not answer our close). */
  destroy(): void {
    this.socket.destroy();
  }

  private beginClose(): void {
    this.closing = true;
    this.write('</stream:stream>');
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
    this.notifyClosing();
  }

  /** Hook for subclasses: stop timers, leave registries as soon as the close starts. */
  protected onClosing(): void {}

  /** Hook for subclasses: the TLS handshake after STARTTLS is done. */
  protected onSecure(): void {}

  /** A close starts from timers, other sessions and shutdown too: a bug in it must stay here. */
  private notifyClosing(): void {
    this.waiting = undefined;
    try {
      this.onClosing();
    } catch (err) {
      this.log.error('error while closing', { error: err, ip: this.remoteAddress });
    }
  }

  /**
   * Replaces the socket after STARTTLS and starts a fresh parser on it. The TLS socket reads
   * the raw one's handle itself and reports its errors and its close, so the raw socket is
   * released: its listeners of ours (but 'data', whose removal would cost the socket more than
   * it saves) go, leaving Node's own.
   */
  protected upgradeSocket(secure: TLSSocket): void {
    this.flush();
    const raw = this.socket as OwnedSocket;
    raw[STREAM] = undefined;
    raw.removeListener('close', onSocketClose);
    raw.removeListener('error', onSocketError);
    this.socket = secure;
    this.parser = new StreamParser(this, this.limits);
    this.headerSent = false;
    this.listen(secure);
    secure.on('secure', onSocketSecure);
  }

  /** Begins a new stream on the same socket (after SASL success): a new header is expected. */
  protected restartStream(): void {
    this.parser.reset();
    this.headerSent = false;
  }

  /**
   * A peer that half-closes without </stream:stream> needs no listener: sockets are not
   * half-open (allowHalfOpen is false), so Node ends our side when the peer ends its own.
   */
  private listen(socket: AnySocket): void {
    (socket as OwnedSocket)[STREAM] = this;
    socket.on('data', onSocketData);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
  }

  private onPeerClose(): void {
    if (this.closing) {
      // Our close was acknowledged.
      this.endSocket();
      return;
    }
    this.closing = true;
    this.notifyClosing();
    this.write('</stream:stream>');
    this.endSocket();
  }

  protected defaultHeader(extra: Attrs): Attrs {
    return { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAM, ...extra };
  }
}
