// Outgoing server-to-server connections: one per pair of domains (ours, theirs), opened on
// the first stanza for the remote domain and reused after (RFC 6120 §8.1.1.1 pairs; XEP-0220
// §2.1.1 the queue while authentication is pending), closed when idle. Also carries the
// <db:verify/> requests that incoming streams need answered by a remote authoritative server
// (XEP-0220 §2.2).
//
// Finding the peer: a static route from [s2s.routes] first, else DNS (RFC 6120 §3.2 SRV and
// XEP-0368 direct TLS, in src/net/resolve.ts), then the first target that connects
// (src/net/connect.ts). Stanzas that cannot go are bounced with remote-server-not-found
// (no route, no connection, refused) or remote-server-timeout (too slow), never an error for
// an error (RFC 6120 §8.3.1); presence is dropped instead, as the router does for domains it
// cannot reach, so that a dead contact server does not echo a broadcast back as errors. A
// refused dialback key bounces with internal-server-error (XEP-0220 §2.1.1), a full queue
// with resource-constraint.
//
// When the peer opened a bidirectional stream to us (XEP-0288) and proved the pair on it, our
// stanzas for that pair go back over it and no connection of ours is opened.

import type net from 'node:net';
import tls from 'node:tls';
import { errorReply, StanzaError, type StanzaErrorCondition, StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/hooks.js';
import type { Router } from '../core/router.js';
import type { Logger } from '../log.js';
import { connectFirst } from '../net/connect.js';
import { type ConnectTarget, type Resolver, resolveServerTargets } from '../net/resolve.js';
import type { Element } from '../xml/element.js';
import type { StreamParserLimits } from '../xml/parser.js';
import type { DialbackVerdict } from './inbound.js';
import { type OutboundFailure, S2SOutStream } from './outbound.js';
import type { S2SPolicy } from './policy.js';
import type { S2SStats } from './stats.js';
import type { S2STls } from './tls.js';

export interface S2SManagerOptions {
  router: Router;
  tls: S2STls;
  policy: S2SPolicy;
  secret: string;
  stats: S2SStats;
  log: Logger;
  limits: StreamParserLimits;
  connectTimeoutMs: number;
  authTimeoutMs: number;
  idleTimeoutMs: number;
  queueLimit: number;
  /** Whether stanzas from this domain are ours to send (a host, or a service of ours). */
  isLocalDomain(domain: string): boolean;
  /** DNS, replaceable in tests. */
  resolver?: Resolver;
}

const BOUNCE_FOR: Record<OutboundFailure, StanzaErrorCondition> = {
  unreachable: 'remote-server-not-found',
  timeout: 'remote-server-timeout',
  // XEP-0220 §2.1.1: stanzas for a pair the peer refused return with internal-server-error.
  refused: 'internal-server-error',
};

/** An incoming stream that may carry our stanzas back to its peer (XEP-0288). */
export interface ReturnRoute {
  readonly carriesBack: boolean;
  send(stanza: Element): void;
}

export class S2SManager {
  private readonly links = new Map<string, OutboundLink>();
  /** Bidirectional incoming streams, by "local remote" pair they may carry. */
  private readonly returnRoutes = new Map<string, ReturnRoute>();
  private stopped = false;

  constructor(readonly options: S2SManagerOptions) {}

  /** The 'route/remote' hook: takes every stanza for a domain that is not ours. */
  route(event: StanzaEvent): true {
    const { stanza } = event;
    const remote = event.to.domain;
    const local = event.from.domain;
    const { policy, isLocalDomain } = this.options;
    if (!isLocalDomain(local)) {
      // Only stanzas from our own domains leave: never relay between two other servers.
      this.options.log.warn('stanza from a foreign domain for a foreign domain dropped', {
        from: event.from.full,
        to: event.to.full,
      });
      return true;
    }
    if (this.stopped) {
      this.bounce(stanza, 'remote-server-timeout', 'the server is stopping');
      return true;
    }
    if (!policy.allows(remote)) {
      this.bounce(stanza, 'remote-server-not-found', `this server does not federate with ${remote}`);
      return true;
    }
    // XEP-0288: a connection the peer opened and made bidirectional comes first, so that two
    // servers share one; ours (perhaps opened only to verify a dialback key) then idles out.
    const back = this.returnRoutes.get(`${local} ${remote}`);
    if (back?.carriesBack) {
      back.send(stanza);
      return true;
    }
    this.link(local, remote).send(stanza);
    return true;
  }

  /** XEP-0288: `stream` may carry stanzas from `local` to `remote` (its peer proved that pair). */
  addReturnRoute(stream: ReturnRoute, local: string, remote: string): void {
    this.returnRoutes.set(`${local} ${remote}`, stream);
  }

  /** The stream is gone: the pairs it carried go over connections of ours again. */
  removeReturnRoutes(stream: ReturnRoute): void {
    for (const [key, route] of this.returnRoutes) if (route === stream) this.returnRoutes.delete(key);
  }

  /** The pairs an incoming bidirectional stream carries back now: "local→remote". */
  get returnPairs(): string[] {
    return [...this.returnRoutes]
      .filter(([, route]) => route.carriesBack)
      .map(([key]) => key.replace(' ', '→'));
  }

  /**
   * XEP-0220 §2.2.1: asks `remote`'s authoritative server whether it made `key` for a stream
   * of ours with id `streamId`, over our connection for (local, remote).
   */
  verifyDialback(local: string, remote: string, streamId: string, key: string): Promise<DialbackVerdict> {
    if (this.stopped) return Promise.resolve({ error: 'remote-server-timeout' });
    return this.link(local, remote).verify(streamId, key);
  }

  /** The pairs with a connection now, ready or not: "local→remote". */
  get connections(): string[] {
    return [...this.links.values()].map((l) => `${l.local}→${l.remote}`);
  }

  /** Closes every outgoing connection (shutdown); what waits is bounced. */
  stop(): void {
    this.stopped = true;
    for (const link of [...this.links.values()]) link.shutdown();
  }

  /** Hands a stanza to the current connection for the pair, opening one if needed. */
  resend(local: string, remote: string, stanza: Element): void {
    if (this.stopped) this.bounce(stanza, 'remote-server-timeout', 'the server is stopping');
    else this.link(local, remote).send(stanza);
  }

  /** Sends an error back for a stanza that cannot go (presence is dropped; see the top). */
  bounce(stanza: Element, condition: StanzaErrorCondition, text?: string): void {
    if (stanza.name === 'presence') return;
    const reply = errorReply(stanza, new StanzaError(condition, text));
    if (reply) this.options.router.send(reply);
  }

  private link(local: string, remote: string): OutboundLink {
    const key = `${local} ${remote}`;
    let link = this.links.get(key);
    if (!link) {
      link = new OutboundLink(local, remote, this, () => {
        if (this.links.get(key) === link) this.links.delete(key);
      });
      this.links.set(key, link);
      link.start();
    }
    return link;
  }
}

interface PendingVerify {
  id: string;
  key: string;
  resolve(verdict: DialbackVerdict): void;
  sent: boolean;
}

/** One outgoing connection for a pair of domains, from the first stanza to its close. */
class OutboundLink {
  private stream: S2SOutStream | undefined;
  private readonly queue: Element[] = [];
  private readonly verifies = new Map<string, PendingVerify>();
  private readonly abort = new AbortController();
  private authTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly log: Logger;

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly manager: S2SManager,
    private readonly forget: () => void,
  ) {
    this.log = manager.options.log.child({ local, remote });
  }

  start(): void {
    const { authTimeoutMs } = this.manager.options;
    this.authTimer = setTimeout(
      () => this.giveUp('timeout', `not authenticated within ${authTimeoutMs / 1000} s`),
      authTimeoutMs,
    );
    this.authTimer.unref();
    this.connect().catch((err: unknown) => {
      this.giveUp('unreachable', err instanceof Error ? err.message : String(err));
    });
  }

  send(stanza: Element): void {
    const stream = this.stream;
    if (stream?.isReady) {
      stream.sendStanza(stanza);
      this.touch();
      return;
    }
    if (this.queue.length >= this.manager.options.queueLimit) {
      this.manager.bounce(stanza, 'resource-constraint', `too many stanzas wait for ${this.remote}`);
      return;
    }
    this.queue.push(stanza);
  }

  verify(streamId: string, key: string): Promise<DialbackVerdict> {
    return new Promise((resolve) => {
      // An authoritative server that never answers must not hold the request (its key, the
      // asking stream's wait, this link kept from idling out) forever: XEP-0220 §2.4 timeout.
      const timer = setTimeout(() => {
        if (this.verifies.get(streamId) !== pending) return;
        this.verifies.delete(streamId);
        this.log.info('dialback verification not answered in time', { id: streamId });
        pending.resolve({ error: 'remote-server-timeout' });
      }, this.manager.options.authTimeoutMs);
      timer.unref();
      // Ids are the peer's stream ids; one verification per id is enough, a repeat replaces it.
      const pending: PendingVerify = {
        id: streamId,
        key,
        resolve: (verdict) => {
          clearTimeout(timer);
          resolve(verdict);
        },
        sent: false,
      };
      this.verifies.get(streamId)?.resolve({ error: 'conflict' });
      this.verifies.set(streamId, pending);
      if (this.stream?.canSendVerify) this.sendVerifies();
    });
  }

  shutdown(): void {
    this.giveUp('timeout', 'the server is stopping', new StreamError('system-shutdown'));
  }

  private async connect(): Promise<void> {
    const { policy, resolver, connectTimeoutMs, tls: s2sTls } = this.manager.options;
    const targets: ConnectTarget[] = [];
    const route = policy.staticRoute(this.remote);
    if (route) targets.push(route);
    else targets.push(...(await resolveServerTargets(this.remote, resolver ? { resolver } : {})));
    if (this.ended) return;
    if (targets.length === 0) throw new Error(`${this.remote} publishes no XMPP server (SRV target ".")`);
    const connected = await connectFirst(targets, {
      timeoutMs: connectTimeoutMs,
      signal: this.abort.signal,
      ...(resolver ? { resolver } : {}),
    });
    let socket: net.Socket | tls.TLSSocket = connected.socket;
    if (this.ended) {
      socket.destroy();
      return;
    }
    socket.setKeepAlive(true, 60_000);
    if (connected.target.directTls)
      socket = await startDirectTls(socket, s2sTls.clientOptions(this.local, this.remote));
    if (this.ended) {
      socket.destroy();
      return;
    }
    this.log.debug('connected', { address: connected.address, port: connected.target.port });
    this.stream = new S2SOutStream(
      socket,
      this.local,
      this.remote,
      this.manager.options,
      {
        ready: (method) => this.ready(method),
        verifiable: () => this.sendVerifies(),
        verified: (id, verdict) => this.verified(id, verdict),
        failed: (failure, reason) => this.gone(failure, reason),
        gone: (failure, reason) => this.gone(failure, reason),
      },
      this.log,
    );
  }

  private ready(method: 'EXTERNAL' | 'dialback'): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    const { stats } = this.manager.options;
    if (method === 'EXTERNAL') stats.outboundExternal++;
    else stats.outboundDialback++;
    const stream = this.stream!;
    for (const stanza of this.queue.splice(0)) stream.sendStanza(stanza);
    this.touch();
  }

  private sendVerifies(): void {
    const stream = this.stream;
    if (!stream?.canSendVerify) return;
    for (const pending of this.verifies.values()) {
      if (pending.sent) continue;
      pending.sent = true;
      stream.sendVerify(pending.id, pending.key);
    }
  }

  private verified(id: string, verdict: 'valid' | 'invalid' | 'error'): void {
    const pending = this.verifies.get(id);
    // XEP-0220 §2.2.2: only an answer to a request sent on this stream counts.
    if (!pending?.sent) {
      this.log.warn('dialback verify answer for a request not sent ignored', { id });
      return;
    }
    this.verifies.delete(id);
    pending.resolve(verdict === 'error' ? { error: 'remote-server-not-found' } : verdict);
    this.touch();
  }

  /** Restarts the idle countdown: a link that carries nothing for idle_timeout closes. */
  private touch(): void {
    if (!this.stream?.isReady) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.verifies.size > 0) {
        this.touch();
        return;
      }
      this.log.debug('closing an idle server connection');
      this.end();
      this.stream?.close();
    }, this.manager.options.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private giveUp(failure: OutboundFailure, reason: string, error?: StreamError): void {
    if (this.ended) return;
    // The stream's own close may wait for a peer that never answers: what waits goes back now.
    if (this.stream && !this.stream.closed)
      this.stream.giveUp(failure, reason, error ?? new StreamError('connection-timeout', reason));
    this.gone(failure, reason);
  }

  private gone(failure: OutboundFailure | undefined, reason: string): void {
    const wasEnded = this.ended;
    this.end();
    if (failure !== undefined && !wasEnded) this.log.info('server connection failed', { reason });
    else this.log.debug('server connection closed', { reason });
    const waiting = this.queue.splice(0);
    if (failure === undefined && waiting.length > 0) {
      // The stream was ready and closed while these were on their way: a new one takes them.
      for (const stanza of waiting) this.manager.resend(this.local, this.remote, stanza);
    } else {
      const condition = BOUNCE_FOR[failure ?? 'unreachable'];
      for (const stanza of waiting) this.manager.bounce(stanza, condition, reason);
    }
    // XEP-0220 §2.4: an authoritative server that got the request but never answered (gone,
    // or too slow) is a timeout; one that could not be reached is not found.
    for (const pending of this.verifies.values())
      pending.resolve({
        error: pending.sent || failure === 'timeout' ? 'remote-server-timeout' : 'remote-server-not-found',
      });
    this.verifies.clear();
  }

  /** Leaves the manager at once, so that the next stanza for the pair opens a new connection. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    clearTimeout(this.authTimer);
    clearTimeout(this.idleTimer);
    this.forget();
  }
}

/** XEP-0368 §3: TLS from the first byte, with the domain as server name and ALPN xmpp-server. */
function startDirectTls(socket: net.Socket, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, ...options });
    const onError = (err: Error) => {
      secure.destroy();
      socket.destroy();
      reject(new Error(`TLS failed: ${err.message}`));
    };
    // Until the stream takes the socket over, its errors (either layer's) are ours to catch.
    socket.once('error', onError);
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      socket.removeListener('error', onError);
      secure.removeListener('error', onError);
      resolve(secure);
    });
  });
}
