// A server-to-server stream we open to another server (we are the initiating server), for one
// pair of domains: RFC 6120 §4 (streams), §5 (STARTTLS; §13.7.2 the peer's certificate
// checked against its domain), §6 with XEP-0178 §3 (SASL EXTERNAL with our certificate),
// XEP-0220 §2.1.1 (dialback: <db:result/> with a XEP-0185 key, then the receiving server's
// verdict) and §2.2 (as receiving server, <db:verify/> requests sent over this stream to the
// peer as authoritative server, before or after the stream is authenticated).
//
// Life of a connection:
//   header → features → <starttls/> → TLS → header → features
//   → EXTERNAL → <success/> → header → features → ready
//   or → <db:result>key</db:result> → <db:result type='valid'/> → ready.
// For direct TLS (XEP-0368) the socket arrives secured, and the stream starts at the TLS step.
// When the peer offers it, the stream is made bidirectional (XEP-0288 §2) before authenticating,
// and what the peer sends back on it is routed like any server's stanzas.

import type net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { StanzaError, StreamError } from '../core/errors.js';
import type { Router } from '../core/router.js';
import type { Session } from '../core/session.js';
import type { Logger } from '../log.js';
import { type AnySocket, XmlStream } from '../streams/xml-stream.js';
import { peerCertificateVerified } from '../tls/verify.js';
import { type Attrs, type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { StreamParserLimits } from '../xml/parser.js';
import { answerVerify } from './authoritative.js';
import { dialbackKey } from './dialback-key.js';
import { domainOf, parseS2SHeader, s2sHeaderAttrs } from './header.js';
import type { S2SPolicy } from './policy.js';
import { checkRemoteStanza } from './stanza-check.js';
import type { S2STls } from './tls.js';

/** Why an outgoing stream never became ready; decides the error its queued stanzas get. */
export type OutboundFailure =
  | 'unreachable' // could not connect, TLS failed, the peer refused us or went away
  | 'timeout' // took longer than s2s.auth_timeout
  | 'refused'; // the peer's dialback verdict was "invalid" (XEP-0220 §2.1.1)

export interface S2SOutEnvironment {
  tls: S2STls;
  policy: S2SPolicy;
  secret: string;
  limits: StreamParserLimits;
  /** Where stanzas the peer sends back on a bidirectional stream (XEP-0288) go. */
  router: Router;
  isLocalDomain(domain: string): boolean;
}

/** What the stream tells its owner (the connection manager). */
export interface OutboundListener {
  /** The stream may carry stanzas for its pair now. */
  ready(method: 'EXTERNAL' | 'dialback'): void;
  /** The stream can be asked to carry <db:verify/> requests (it has seen the peer's features). */
  verifiable(): void;
  /** The peer answered a <db:verify/> request. */
  verified(id: string, verdict: 'valid' | 'invalid' | 'error'): void;
  /**
   * The stream will not become ready (its close may still wait for the peer): what waits for
   * it can be bounced now.
   */
  failed(failure: OutboundFailure, reason: string): void;
  /** The socket is gone; `failure` is set when the stream never became ready. */
  gone(failure: OutboundFailure | undefined, reason: string): void;
}

/** Stanzas from a bidirectional peer waiting to be routed before we stop reading its socket. */
const MAX_ROUTING_BACKLOG = 64;

type Stage =
  | 'opening' // our header is out; waiting for the peer's header and features
  | 'starttls' // <starttls/> sent, waiting for <proceed/>
  | 'tls' // TLS handshake in progress
  | 'sasl' // <auth mechanism='EXTERNAL'/> sent
  | 'dialback' // <db:result/> sent
  | 'ready';

export class S2SOutStream extends XmlStream {
  private stage: Stage = 'opening';
  private secure: boolean;
  /** The id the peer gave the current stream: what our dialback key is bound to. */
  private streamId: string | undefined;
  private peerSupportsDialback = false;
  private externalTried = false;
  private externalDone = false;
  private failure: OutboundFailure | undefined = 'unreachable';
  private reason = 'the connection closed before the stream was ready';
  private canVerify = false;
  /** We asked for a bidirectional stream (XEP-0288 §2): the peer may send stanzas back. */
  private bidi = false;
  /** The prefix declarations of the peer's header (the parser copies them onto stanzas). */
  private headerPrefixes: Attrs = {};
  private originSession: Session | undefined;
  /** Stanzas from the peer being routed or waiting to be. */
  private routingBacklog = 0;
  private certificateLogged = false;
  /** Stanzas from the peer are routed one after another, in order. */
  private routing: Promise<void> = Promise.resolve();

  constructor(
    socket: AnySocket,
    readonly local: string,
    readonly remote: string,
    private readonly env: S2SOutEnvironment,
    private readonly listener: OutboundListener,
    log: Logger,
  ) {
    super(socket, log, env.limits);
    this.secure = socket instanceof tls.TLSSocket;
    this.sendHeader();
  }

  get isReady(): boolean {
    return this.stage === 'ready' && !this.closing && !this.closed;
  }

  /** Whether <db:verify/> can be written now (the peer's features came, the stream is open). */
  get canSendVerify(): boolean {
    return this.canVerify && !this.closing && !this.closed;
  }

  /** A stanza for the pair; only once ready. */
  sendStanza(stanza: Element): void {
    let out = stanza;
    const xmlns = stanza.attrs.xmlns;
    if (xmlns !== undefined && xmlns !== NS.SERVER) {
      // Made for a client stream; on this one its namespace is the stream's jabber:server.
      out = stanza.clone();
      delete out.attrs.xmlns;
    }
    this.write(out.toString());
  }

  /** XEP-0220 §2.2.1 step 3: asks the peer, as authoritative server, about a key. */
  sendVerify(id: string, key: string): void {
    this.writeElement(x('db:verify', { from: this.local, to: this.remote, id }, key));
  }

  /** Ends the stream when the manager gives up on it (timeout, idle, shutdown). */
  giveUp(failure: OutboundFailure, reason: string, error?: StreamError): void {
    if (this.stage !== 'ready') {
      this.failure = failure;
      this.reason = reason;
    }
    if (error) this.fail(error);
    else this.close();
  }

  protected headerAttrs(): Attrs {
    return s2sHeaderAttrs({ from: this.local, to: this.remote });
  }

  // ---- the peer's header (RFC 6120 §4.7) ----

  protected onHeader(name: string, attrs: Attrs): void {
    const header = parseS2SHeader(name, attrs);
    if (header instanceof StreamError) {
      this.abort(header.text ?? header.condition, header);
      return;
    }
    if (header.id === undefined || header.id === '') {
      this.abort(
        'the peer gave the stream no id',
        new StreamError('invalid-xml', 'the stream header has no id'),
      );
      return;
    }
    // §4.7.1: the answer's `from` is the domain we asked for, when given.
    if (header.from !== undefined && header.from !== this.remote) {
      this.abort(
        `the peer answered as ${header.from}`,
        new StreamError('invalid-from', `this stream is for ${this.remote}`),
      );
      return;
    }
    this.streamId = header.id;
    this.peerSupportsDialback = header.dialback;
    this.headerPrefixes = {};
    for (const key in attrs)
      if (key.startsWith('xmlns:') && key !== 'xmlns:stream') this.headerPrefixes[key] = attrs[key]!;
  }

  // ---- elements ----

  protected onElement(element: Element, ns: string | undefined): void {
    if (this.closing || this.closed) return;
    const name = element.localName;
    if (ns === NS.STREAM && name === 'features') {
      this.onFeatures(element);
      return;
    }
    if (ns === NS.STREAM && name === 'error') {
      this.onStreamError(element);
      return;
    }
    if (ns === NS.TLS && name === 'proceed' && this.stage === 'starttls') {
      this.startTls();
      return;
    }
    if (ns === NS.TLS && name === 'failure') {
      this.abort('the peer refused STARTTLS');
      return;
    }
    if (ns === NS.SASL && this.stage === 'sasl') {
      if (name === 'success') {
        this.externalSucceeded();
        return;
      }
      if (name === 'failure') {
        this.externalFailed(element);
        return;
      }
    }
    if (ns === NS.DIALBACK && element.attrs.type === undefined) {
      this.reverseDialback(element);
      return;
    }
    if (ns === NS.DIALBACK && element.attrs.type !== undefined) {
      if (name === 'result') {
        this.dialbackVerdict(element);
        return;
      }
      if (name === 'verify') {
        this.verifyAnswer(element);
        return;
      }
    }
    if (ns === NS.SERVER && (name === 'message' || name === 'presence' || name === 'iq')) {
      this.stanzaBack(element);
      return;
    }
    this.abort(
      `unexpected <${element.name}> from the peer`,
      new StreamError('unsupported-stanza-type', `<${element.name}> is not expected on this stream`),
    );
  }

  private onFeatures(features: Element): void {
    if (this.stage === 'ready') return;
    const { policy } = this.env;
    if (!this.secure) {
      if (features.getChild('starttls', NS.TLS)) {
        this.stage = 'starttls';
        this.write(`<starttls xmlns='${NS.TLS}'/>`);
        return;
      }
      if (policy.requireEncryption) {
        this.abort(
          'the peer does not offer STARTTLS, and s2s.require_encryption is on',
          new StreamError('policy-violation', 'this server requires TLS between servers'),
        );
        return;
      }
    }
    if (!this.canVerify) {
      this.canVerify = true;
      this.listener.verifiable();
    }
    if (policy.bidi && !this.bidi && features.getChild('bidi', NS.BIDI_FEATURE)) {
      // XEP-0288 §2: asked for before authenticating, after TLS.
      this.bidi = true;
      this.write(`<bidi xmlns='${NS.BIDI}'/>`);
    }
    if (this.externalDone) {
      this.becomeReady('EXTERNAL');
      return;
    }
    const peerTrusted = this.secure && peerCertificateVerified(this.socket as TLSSocket, this.remote);
    if (this.secure && !this.certificateLogged) {
      // Operators want to know why a peer got dialback instead of EXTERNAL, or was refused.
      this.certificateLogged = true;
      this.log.info('peer certificate checked', { remote: this.remote, trusted: peerTrusted });
    }
    if (policy.secureAuth && !peerTrusted) {
      this.abort(
        `the certificate of ${this.remote} is not trusted, and s2s.secure_auth is on`,
        new StreamError('policy-violation', 'your certificate is not trusted here'),
      );
      return;
    }
    const mechanisms = features.getChild('mechanisms', NS.SASL);
    const external = mechanisms?.getChildren('mechanism').some((m) => m.text.trim() === 'EXTERNAL') ?? false;
    if (this.secure && external && !this.externalTried) {
      // XEP-0178 §3: the authorization identity is our domain.
      this.externalTried = true;
      this.stage = 'sasl';
      this.write(
        `<auth xmlns='${NS.SASL}' mechanism='EXTERNAL'>${Buffer.from(this.local).toString('base64')}</auth>`,
      );
      return;
    }
    this.startDialback(features);
  }

  private startDialback(features: Element | undefined): void {
    const offered = features?.getChild('dialback', NS.DIALBACK_FEATURE) !== undefined;
    if (this.env.policy.secureAuth) {
      this.abort(
        `${this.remote} did not accept our certificate, and s2s.secure_auth rules out dialback`,
        new StreamError('policy-violation', 'no way left to authenticate'),
      );
      return;
    }
    if (!offered && !this.peerSupportsDialback) {
      this.abort(
        `${this.remote} offers no way to authenticate that we support`,
        new StreamError('unsupported-feature', 'this server needs SASL EXTERNAL or dialback'),
      );
      return;
    }
    this.stage = 'dialback';
    const key = dialbackKey(this.env.secret, this.remote, this.local, this.streamId ?? '');
    this.writeElement(x('db:result', { from: this.local, to: this.remote }, key));
  }

  private onStreamError(error: Element): void {
    const condition = error.elements.find((e) => e.getNS() === NS.STREAMS_ERROR && e.localName !== 'text');
    const text = error.getChildText('text', NS.STREAMS_ERROR);
    this.log.info('stream error from the peer', {
      condition: condition?.localName,
      text,
      remote: this.remote,
    });
    if (this.stage !== 'ready') {
      this.failure = 'unreachable';
      this.reason = `${this.remote} closed the stream with ${condition?.localName ?? 'an error'}${text ? `: ${text}` : ''}`;
    }
    this.terminate();
  }

  // ---- STARTTLS ----

  private startTls(): void {
    this.stage = 'tls';
    this.parser.stop();
    const secure = tls.connect({
      socket: this.socket as net.Socket,
      ...this.env.tls.clientOptions(this.local, this.remote),
    });
    this.upgradeSocket(secure);
    secure.once('secureConnect', () => {
      if (this.closing || this.closed) return;
      this.secure = true;
      this.stage = 'opening';
      this.sendHeader();
    });
  }

  override socketError(err: NodeJS.ErrnoException): void {
    if (this.stage === 'tls') {
      this.reason = `TLS with ${this.remote} failed: ${err.message}`;
      this.log.info('TLS handshake failed', { remote: this.remote, error: err.message });
    } else super.socketError(err);
  }

  // ---- SASL EXTERNAL (XEP-0178 §3) ----

  private externalSucceeded(): void {
    this.externalDone = true;
    this.stage = 'opening';
    // RFC 6120 §6.4.6: a new stream on the same connection.
    this.restartStream();
    this.sendHeader();
  }

  private externalFailed(failure: Element): void {
    const condition = failure.elements[0]?.localName;
    this.log.info('SASL EXTERNAL refused; trying dialback', { remote: this.remote, condition });
    this.startDialback(undefined);
  }

  // ---- dialback (XEP-0220 §2.1.1, §2.2.1) ----

  private dialbackVerdict(result: Element): void {
    if (this.stage !== 'dialback') return;
    const from = domainOf(result.attrs.from);
    const to = domainOf(result.attrs.to);
    // §2.1.1: the answer must match the request we sent on this stream.
    if (from !== this.remote || to !== this.local) {
      this.log.warn('dialback result for another pair ignored', { from, to });
      return;
    }
    const type = result.attrs.type;
    if (type === 'valid') {
      this.becomeReady('dialback');
      return;
    }
    const condition = result.getChild('error')?.elements[0]?.localName;
    if (type === 'invalid') {
      this.failure = 'refused';
      this.reason = `${this.remote} refused our dialback key`;
    } else {
      this.failure = 'timeout';
      this.reason = `${this.remote} could not check our dialback key (${condition ?? 'error'})`;
    }
    this.log.warn('dialback refused by the peer', { remote: this.remote, type, condition });
    this.listener.failed(this.failure, this.reason);
    this.close();
  }

  private verifyAnswer(answer: Element): void {
    const id = answer.attrs.id;
    const from = domainOf(answer.attrs.from);
    const to = domainOf(answer.attrs.to);
    // §2.2.2: from and to swapped from our request, the id copied.
    if (id === undefined || from !== this.remote || to !== this.local) {
      this.log.warn('dialback verify answer that matches no request ignored', { id, from, to });
      return;
    }
    const type = answer.attrs.type;
    this.listener.verified(id, type === 'valid' ? 'valid' : type === 'invalid' ? 'invalid' : 'error');
  }

  private becomeReady(method: 'EXTERNAL' | 'dialback'): void {
    this.stage = 'ready';
    this.failure = undefined;
    this.reason = 'the connection closed';
    this.log.info('server connection ready', { local: this.local, remote: this.remote, method });
    this.listener.ready(method);
  }

  // ---- stanzas back from the peer (XEP-0288 §2) ----

  /**
   * A stanza the peer sends back over our stream. Only once bidirectional and authenticated,
   * and only for the pair the stream is for, reversed: `from` in the domain we connected to
   * (found through DNS or a static route, its certificate checked when secure_auth asks for
   * it), `to` our domain.
   */
  private stanzaBack(stanza: Element): void {
    if (!this.bidi || this.stage !== 'ready') {
      this.abort(
        'the peer sent a stanza on our stream without a bidirectional stream',
        new StreamError(
          'unsupported-stanza-type',
          'this stream carries stanzas one way (no XEP-0288 <bidi/>)',
        ),
      );
      return;
    }
    const checked = checkRemoteStanza(stanza, this.session, {
      headerPrefixes: this.headerPrefixes,
      isLocalDomain: this.env.isLocalDomain,
      carries: (from, to) => (from !== this.remote ? 'not-from' : to !== this.local ? 'not-to' : 'yes'),
    });
    if (checked instanceof StreamError) {
      this.fail(checked);
      return;
    }
    const { router } = this.env;
    // A peer that sends faster than we route waits: reading stops while many are queued.
    if (++this.routingBacklog === MAX_ROUTING_BACKLOG) this.socket.pause();
    this.routing = this.routing
      .then(() => router.route(checked))
      .catch((err: unknown) => {
        this.log.error('error while routing a stanza from a server', { error: err });
      })
      .finally(() => {
        if (--this.routingBacklog === MAX_ROUTING_BACKLOG - 1 && this.socket.isPaused()) this.socket.resume();
      });
  }

  /** The stream as the origin of the stanzas it brings (for the router and modules). */
  private get session(): Session {
    this.originSession ??= {
      kind: 's2s',
      id: this.streamId ?? '',
      log: this.log,
      // Stanzas to the peer go through the manager's link for the pair, never from here.
      send: () => {},
      close: (error) => this.close(error),
    };
    return this.originSession;
  }

  /**
   * Dialback requests the other way on our stream (a bidirectional peer may send them, XEP-0288
   * §2): verifications are answered, since they need only our secret; a peer asking to prove
   * another domain of its own here is told, without ending the stream, that we do not take that.
   */
  private reverseDialback(request: Element): void {
    if (request.localName === 'verify') {
      const outcome = answerVerify(request, this.env.secret, this.env.isLocalDomain);
      if (outcome instanceof StreamError) this.fail(outcome);
      else this.writeElement(outcome.answer);
      return;
    }
    const from = domainOf(request.attrs.from);
    const to = domainOf(request.attrs.to);
    if (request.localName !== 'result' || from === undefined || to === undefined) {
      this.fail(new StreamError('improper-addressing', '<db:result/> needs a domain in "from" and in "to"'));
      return;
    }
    this.writeElement(
      x(
        'db:result',
        { from: to, to: from, type: 'error' },
        new StanzaError('feature-not-implemented', 'prove more domains on a stream of your own').toElement(),
      ),
    );
  }

  /** Gives up before the stream is ready, with the reason its stanzas are bounced for. */
  private abort(reason: string, error?: StreamError): void {
    this.failure = 'unreachable';
    this.reason = reason;
    this.log.info('server connection failed', { remote: this.remote, reason });
    this.listener.failed(this.failure, reason);
    if (error) this.fail(error);
    else this.terminate();
  }

  protected onClosed(error: string | undefined): void {
    this.listener.gone(this.stage === 'ready' ? undefined : this.failure, error ?? this.reason);
  }
}
