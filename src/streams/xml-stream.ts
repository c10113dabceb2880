// What every XMPP stream does regardless of its kind (client, server, component): reads a
// socket through the strict parser, writes with one syscall per tick, sends stream errors
// with the header the peer may not have had yet, and closes with the handshake of RFC 6120
// §4.4. Subclasses decide what the header and the elements mean.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { StreamError } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { Attrs, Element } from '../xml/element.js';
import { escapeAttr } from '../xml/escape.js';
import { NS } from '../xml/ns.js';
import { StreamParser, type StreamParserLimits } from '../xml/parser.js';

/** How long we wait for the peer's </stream:stream> after sending ours (RFC 6120 §4.4). */
const CLOSE_GRACE_MS = 5_000;

export type AnySocket = Socket | TLSSocket;

export abstract class XmlStream {
  protected socket: AnySocket;
  protected parser: StreamParser;
  /** Whether our header for the current stream has been written. */
  protected headerSent = false;
  /** We sent </stream:stream> (or a stream error) and wait for the peer or the socket to go. */
  protected closing = false;
  closed = false;
  private corked = false;
  private closeTimer: NodeJS.Timeout | undefined;
  /**
   * When the peer last sent anything (performance.now(), monotonic milliseconds): lets the
   * server ping only connections that have gone quiet (XEP-0199).
   */
  lastActivity = performance.now();
  private readonly onData = (chunk: Buffer) => {
    this.lastActivity = performance.now();
    this.parser.write(chunk);
  };

  constructor(
    socket: AnySocket,
    public log: Logger,
    private readonly limits: StreamParserLimits,
  ) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.parser = this.createParser();
    this.listen(socket);
  }

  /** The header we send for the current stream, given what the peer sent. */
  protected abstract headerAttrs(): Attrs;
  protected abstract onHeader(name: string, attrs: Attrs): void;
  protected abstract onElement(element: Element, ns: string | undefined): void;
  /** The socket is gone (after a close handshake, an error, or the peer vanishing). */
  protected abstract onClosed(error: string | undefined): void;

  /** The peer's address, kept from the start: a destroyed socket no longer knows it. */
  readonly remoteAddress: string;

  /** Writes raw XML, coalescing everything written in one tick into one socket write. */
  protected write(data: string): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      const socket = this.socket;
      process.nextTick(() => {
        if (this.corked && this.socket === socket) {
          this.corked = false;
          socket.uncork();
        }
      });
    }
    this.socket.write(data);
  }

  /** Pushes out what this tick has written so far (before the socket changes hands). */
  protected flush(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
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
    this.socket.end();
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
    this.onClosing();
  }

  /** Hook for subclasses: stop timers, leave registries as soon as the close starts. */
  protected onClosing(): void {}

  /** Replaces the socket after STARTTLS and starts a fresh parser on it. */
  protected upgradeSocket(secure: TLSSocket): void {
    this.socket.removeListener('data', this.onData);
    this.socket = secure;
    this.parser = this.createParser();
    this.headerSent = false;
    this.listen(secure);
  }

  /** Begins a new stream on the same socket (after SASL success): a new header is expected. */
  protected restartStream(): void {
    this.parser.reset();
    this.headerSent = false;
  }

  private createParser(): StreamParser {
    return new StreamParser(
      {
        streamStart: (name, attrs) => this.onHeader(name, attrs),
        stanza: (element, ns) => this.onElement(element, ns),
        streamEnd: () => this.onPeerClose(),
        error: (condition, text) => this.fail(new StreamError(condition, text)),
      },
      this.limits,
    );
  }

  private listen(socket: AnySocket): void {
    socket.on('data', this.onData);
    // Listeners registered once per socket object; after STARTTLS the TLS socket wraps the
    // raw one and reports its errors and close itself.
    socket.once('close', () => this.handleSocketClose());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug('socket error', { code: err.code, message: err.message, ip: this.remoteAddress });
    });
    socket.on('end', () => {
      // The peer half-closed without </stream:stream>: nothing more will come.
      if (!this.closing) this.socket.end();
    });
  }

  private onPeerClose(): void {
    if (this.closing) {
      // Our close was acknowledged.
      this.socket.end();
      return;
    }
    this.closing = true;
    this.onClosing();
    this.write('</stream:stream>');
    this.socket.end();
  }

  private handleSocketClose(): void {
    if (this.closed) return;
    // After STARTTLS the raw socket's close is the TLS socket's close too; only the current
    // socket's counts.
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.parser.stop();
    this.onClosed(this.closing ? undefined : 'connection lost');
  }

  protected defaultHeader(extra: Attrs): Attrs {
    return { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAM, ...extra };
  }
}
