// A server-to-server stream another server opened to us (we are the receiving server):
// RFC 6120 §4 (streams; §4.7.1 `from`, §4.9.3 the stream errors), §5 (STARTTLS), §6 with
// XEP-0178 (SASL EXTERNAL: the peer's certificate proves its domain), XEP-0220 (dialback: a
// key the peer's authoritative server vouches for; §2.1.2 and §2.2 as receiving server, §2.3
// as authoritative server answering <db:verify/>, §2.4 dialback errors), XEP-0344 §2.1.1
// (a trusted certificate settles a dialback request at once), and §8.1.1 (every stanza's
// `from` must be a domain this stream proved, its `to` one of ours).
//
// Life of a connection:
//   header → features (STARTTLS) → TLS → header → features (EXTERNAL and/or dialback)
//   → <auth mechanism='EXTERNAL'/> → <success/> → header → features, or <db:result/> …
//   → stanzas for the domain pairs proved.
// Direct TLS (XEP-0368) starts at the second header. A stream carries stanzas one way, unless
// the peer asked for it to be bidirectional (XEP-0288 §2): then what we send to the pairs it
// proved goes back over it instead of over a connection of our own.

import { TLSSocket } from 'node:tls';
import { StanzaError, type StanzaErrorCondition, StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/hooks.js';
import type { ServerContext } from '../core/module.js';
import { randomId } from '../core/random-id.js';
import type { Session } from '../core/session.js';
import type { Logger } from '../log.js';
import { type AnySocket, XmlStream } from '../streams/xml-stream.js';
import { peerCertificateVerified } from '../tls/verify.js';
import { type Attrs, type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { StreamParserLimits } from '../xml/parser.js';
import { answerVerify } from './authoritative.js';
import { domainOf, parseS2SHeader, s2sHeaderAttrs } from './header.js';
import type { S2SPolicy } from './policy.js';
import { checkRemoteStanza } from './stanza-check.js';
import type { S2SStats } from './stats.js';
import { type S2STls, settleClientAuthorization } from './tls.js';

/** What asking the peer's authoritative server about a dialback key came to. */
export type DialbackVerdict = 'valid' | 'invalid' | { error: StanzaErrorCondition };

/** What an incoming server stream needs from the server around it. */
export interface S2SInEnvironment {
  server: ServerContext;
  tls: S2STls;
  policy: S2SPolicy;
  /** The dialback secret (XEP-0185). */
  secret: string;
  stats: S2SStats;
  authTimeoutMs: number;
  limits: StreamParserLimits;
  /** A domain stanzas may be addressed to here: a host, or a service (MUC, a component). */
  isLocalDomain(domain: string): boolean;
  /** Asks `remote`'s authoritative server whether it made `key` (XEP-0220 §2.1.2 step 3). */
  verifyDialback(local: string, remote: string, streamId: string, key: string): Promise<DialbackVerdict>;
  /**
   * The stream is bidirectional and `remote` proved itself for `local` on it: stanzas from
   * `local` to `remote` may go back over it (XEP-0288 §2).
   */
  carriesBack(stream: S2SInStream, local: string, remote: string): void;
  /** The stream carries nothing back any more until pairs are proved again (after STARTTLS). */
  forgetReturnRoutes(stream: S2SInStream): void;
  /** Called once when the stream is gone, so the listener can forget it. */
  onGone(stream: S2SInStream): void;
}

const STANZAS = new Set(['message', 'presence', 'iq']);
/** Dialback requests one stream may have waiting for their authoritative servers at once. */
const MAX_PENDING_VERIFICATIONS = 8;
/**
 * Dialback requests that could not be checked (their authoritative server unreachable) a stream
 * that has proved nothing may make before it is closed: each sends us looking up and connecting
 * to a domain the peer chose, and a stream could otherwise keep doing so until it times out.
 */
const MAX_UNCHECKED_REQUESTS = 4;
/** Failed SASL attempts before the stream is closed (RFC 6120 §6.4.5 lets us choose). */
const MAX_SASL_FAILURES = 2;

export class S2SInStream extends XmlStream implements Session {
  readonly kind = 's2s' as const;
  /** The id of the current stream (RFC 6120 §4.7.3): a fresh one per header. */
  id = '';
  /** Our domain the peer asked for in its first header. */
  private local: string | undefined;
  /** The domain the peer named in `from`, if it did. */
  private peer: string | undefined;
  private secure: boolean;
  private handshaking = false;
  private headerReceived = false;
  /** Dialback requests whose authoritative server could not be asked (MAX_UNCHECKED_REQUESTS). */
  private unchecked = 0;
  private saslFailures = 0;
  /** The prefix declarations of the peer's header but the stream's own (xmlns:db, usually). */
  private headerPrefixes: Attrs = {};
  /** The peer asked for a bidirectional stream (XEP-0288 §2). */
  private bidi = false;
  /** The peer's domain proved by SASL EXTERNAL, once it is. */
  private saslDomain: string | undefined;
  /** The domain pairs proved: remote domain → our domains it may send to (RFC 6120 §8.1.1.1). */
  private readonly proved = new Map<string, Set<string>>();
  /** Dialback requests being verified, by "remote local", so a repeated one is not asked twice. */
  private readonly verifying = new Set<string>();
  private authTimer: NodeJS.Timeout | undefined;
  /** Counts STARTTLS upgrades: a dialback verdict asked for before one is dropped after it. */
  private tlsEpoch = 0;

  constructor(
    socket: AnySocket,
    private readonly env: S2SInEnvironment,
    log: Logger,
  ) {
    super(socket, log, env.limits);
    this.secure = socket instanceof TLSSocket;
    this.startAuthTimer();
  }

  private startAuthTimer(): void {
    this.authTimer = setTimeout(() => {
      if (this.proved.size === 0)
        this.fail(new StreamError('connection-timeout', 'the stream was not authenticated in time'));
    }, this.env.authTimeoutMs);
    this.authTimer.unref();
  }

  /**
   * Sends a stanza back to the peer: only on a bidirectional stream (XEP-0288 §2), for a
   * domain pair the peer proved (the manager asks only then). Otherwise replies leave over
   * our own connection.
   */
  send(stanza: Element): void {
    if (!this.bidi || this.closing || this.closed) {
      this.log.debug('stanza for an incoming server stream dropped', { kind: stanza.name });
      return;
    }
    let out = stanza;
    if (stanza.attrs.xmlns !== undefined && stanza.attrs.xmlns !== NS.SERVER) {
      out = stanza.clone();
      delete out.attrs.xmlns;
    }
    this.write(out.toString());
  }

  /** Whether the stream may carry stanzas to the peer (XEP-0288) now. */
  get carriesBack(): boolean {
    return this.bidi && !this.closing && !this.closed;
  }

  /** The domains this stream has proved, for tests and diagnostics: "remote→local". */
  get provedPairs(): string[] {
    const out: string[] = [];
    for (const [remote, locals] of this.proved) for (const local of locals) out.push(`${remote}→${local}`);
    return out;
  }

  protected headerAttrs(): Attrs {
    if (!this.headerReceived) this.id = randomId(12);
    return s2sHeaderAttrs({ id: this.id, from: this.local, to: this.peer });
  }

  // ---- stream header (RFC 6120 §4.7, §4.8) ----

  protected onHeader(name: string, attrs: Attrs): void {
    const header = parseS2SHeader(name, attrs);
    // Our header names the domain asked for even when the header earns an error (§4.9.1.2).
    const to = domainOf(attrs.to);
    if (this.local === undefined && to !== undefined && this.env.server.hosts.has(to)) this.local = to;
    if (header instanceof StreamError) {
      this.fail(header);
      return;
    }
    if (header.to === undefined || !this.env.isLocalDomain(header.to)) {
      this.fail(
        new StreamError(
          'host-unknown',
          header.to === undefined ? 'the stream header has no valid "to"' : `${header.to} is not served here`,
        ),
      );
      return;
    }
    if (this.local === undefined) this.local = header.to;
    if (header.to !== this.local) {
      this.fail(new StreamError('host-unknown', 'a restarted stream must be for the same domain'));
      return;
    }
    // §4.7.1: a peer may leave `from` out; it then cannot use SASL EXTERNAL, only dialback.
    if (header.from !== undefined) {
      if (this.peer !== undefined && header.from !== this.peer) {
        this.fail(new StreamError('invalid-from', 'a restarted stream must be from the same domain'));
        return;
      }
      this.peer = header.from;
    }
    if (this.peer !== undefined && !this.env.policy.allows(this.peer)) {
      this.fail(new StreamError('policy-violation', `this server does not federate with ${this.peer}`));
      return;
    }
    this.headerPrefixes = {};
    for (const key in attrs)
      if (key.startsWith('xmlns:') && key !== 'xmlns:stream') this.headerPrefixes[key] = attrs[key]!;
    this.id = randomId(12);
    this.headerReceived = true;
    this.sendHeader();
    this.writeElement(this.features());
  }

  private features(): Element {
    const features = x('stream:features');
    const { policy } = this.env;
    if (!this.secure) {
      const starttls = features.c('starttls', { xmlns: NS.TLS });
      if (policy.requireEncryption) {
        starttls.c('required');
        return features;
      }
    }
    if (this.saslDomain === undefined && this.externalPossible()) {
      features.c('mechanisms', { xmlns: NS.SASL }).c('mechanism').t('EXTERNAL');
    }
    // XEP-0220 §2.4.1: dialback, with graceful errors; offered after EXTERNAL too, for more
    // domain pairs on this stream (RFC 6120 §8.1.1.1 multiplexing).
    if (!policy.secureAuth) features.c('dialback', { xmlns: NS.DIALBACK_FEATURE }).c('errors');
    if (policy.bidi && !this.bidi) features.c('bidi', { xmlns: NS.BIDI_FEATURE });
    return features;
  }

  /** XEP-0178 §2: EXTERNAL only for a peer whose certificate we trust for the domain it names. */
  private externalPossible(): boolean {
    return (
      this.secure && this.peer !== undefined && peerCertificateVerified(this.socket as TLSSocket, this.peer)
    );
  }

  // ---- elements ----

  /**
   * Everything waits for the stanza being routed (XmlStream keeps the order): a <db:result/> for
   * a new pair that follows stanzas of another pair must not overtake them, nor stanzas each other.
   */
  protected onElement(element: Element, ns: string | undefined): void | Promise<void> {
    if (this.closing || this.closed || !this.headerReceived) return;
    if (ns === NS.SERVER && STANZAS.has(element.name)) return this.routeStanza(element);
    this.negotiate(element, ns);
  }

  private negotiate(element: Element, ns: string | undefined): void {
    const name = element.localName;
    switch (ns) {
      case NS.TLS:
        if (name === 'starttls') {
          this.startTls();
          return;
        }
        break;
      case NS.SASL:
        if (name === 'auth') {
          this.saslExternal(element);
          return;
        }
        if (name === 'abort') {
          this.saslFailure('aborted');
          return;
        }
        break;
      case NS.STREAM:
        if (name === 'error') {
          // The peer gives up; its stream is over, and ours ends with it (RFC 6120 §4.9.1.1).
          this.log.info('stream error from the peer', {
            condition: element.elements.find((e) => e.localName !== 'text')?.localName,
            remote: this.peer,
          });
          this.terminate();
          return;
        }
        break;
      case NS.BIDI:
        if (name === 'bidi' && this.env.policy.bidi) {
          if (this.mustEncryptFirst()) return;
          // XEP-0288 §2: from now on, what we send the peer may go over this stream.
          this.bidi = true;
          for (const [remote, locals] of this.proved)
            for (const local of locals) this.env.carriesBack(this, local, remote);
          return;
        }
        break;
      case NS.DIALBACK:
        if (this.mustEncryptFirst()) return;
        if (name === 'result' && element.attrs.type === undefined) {
          this.dialbackRequest(element);
          return;
        }
        if (name === 'verify' && element.attrs.type === undefined) {
          this.answerVerify(element);
          return;
        }
        break;
    }
    this.fail(
      new StreamError(
        'unsupported-stanza-type',
        `<${element.name}${ns ? ` xmlns='${ns}'` : ''}> is not supported on this stream`,
      ),
    );
  }

  /** Nothing but STARTTLS happens on a plaintext stream when TLS is required. */
  private mustEncryptFirst(): boolean {
    if (this.secure || !this.env.policy.requireEncryption) return false;
    this.fail(new StreamError('policy-violation', 'use STARTTLS first: this server requires encryption'));
    return true;
  }

  // ---- STARTTLS (RFC 6120 §5) ----

  private startTls(): void {
    if (this.secure) {
      // §5.4.2.2: a failure closes the stream and the TCP connection.
      this.write(`<failure xmlns='${NS.TLS}'/>`);
      this.terminate();
      return;
    }
    // Anything pipelined after <starttls/> is plaintext we must not act on.
    this.parser.stop();
    this.write(`<proceed xmlns='${NS.TLS}'/>`);
    this.flush();
    const secure = new TLSSocket(this.socket, { isServer: true, ...this.env.tls.serverOptions(this.local) });
    this.handshaking = true;
    this.upgradeSocket(secure);
    this.headerReceived = false;
    this.forgetCleartext();
  }

  /**
   * RFC 6120 §5.4.3.3: nothing learnt before TLS carries over. Pairs proved in the clear (only
   * when s2s.require_encryption is off), bidirectionality and verifications still pending are
   * negotiated again on the encrypted stream.
   */
  private forgetCleartext(): void {
    this.tlsEpoch++;
    this.verifying.clear();
    if (this.bidi) {
      this.bidi = false;
      this.env.forgetReturnRoutes(this);
    }
    if (this.proved.size === 0) return;
    this.proved.clear();
    clearTimeout(this.authTimer);
    this.startAuthTimer();
  }

  protected override onSecure(): void {
    if (!this.handshaking) return;
    this.handshaking = false;
    this.secure = true;
    settleClientAuthorization(this.socket as TLSSocket);
  }

  override socketError(err: NodeJS.ErrnoException): void {
    if (this.handshaking)
      this.log.info('TLS handshake failed', { ip: this.remoteAddress, error: err.message });
    else super.socketError(err);
  }

  // ---- SASL EXTERNAL (RFC 6120 §6, XEP-0178 §2) ----

  private saslExternal(auth: Element): void {
    if (this.saslDomain !== undefined) {
      this.fail(new StreamError('policy-violation', 'already authenticated'));
      return;
    }
    if (auth.attrs.mechanism !== 'EXTERNAL') {
      this.saslFailure('invalid-mechanism');
      return;
    }
    if (!this.secure) {
      this.saslFailure('encryption-required');
      return;
    }
    const text = auth.text.trim();
    let authzid: string;
    try {
      authzid = text === '' || text === '=' ? '' : Buffer.from(text, 'base64').toString('utf8');
    } catch {
      this.saslFailure('incorrect-encoding');
      return;
    }
    // XEP-0178 §2 step 5: no authorization identity means the stream's `from`.
    const claimed = authzid === '' ? this.peer : domainOf(authzid);
    if (claimed === undefined || (this.peer !== undefined && claimed !== this.peer)) {
      this.saslFailure('invalid-authzid');
      return;
    }
    if (!peerCertificateVerified(this.socket as TLSSocket, claimed)) {
      this.saslFailure('not-authorized');
      return;
    }
    if (!this.env.policy.allows(claimed) || this.env.isLocalDomain(claimed)) {
      this.saslFailure('not-authorized');
      return;
    }
    this.saslDomain = claimed;
    this.peer = claimed;
    this.prove(claimed, this.local!);
    this.env.stats.inboundExternal++;
    this.write(`<success xmlns='${NS.SASL}'/>`);
    this.log.info('server authenticated', {
      remote: claimed,
      local: this.local,
      method: 'EXTERNAL',
      ip: this.remoteAddress,
    });
    this.headerReceived = false;
    this.restartStream();
  }

  private saslFailure(condition: string): void {
    this.writeElement(x('failure', { xmlns: NS.SASL }, x(condition)));
    if (condition === 'aborted') return;
    this.log.info('server authentication failed', { condition, remote: this.peer, ip: this.remoteAddress });
    if (++this.saslFailures >= MAX_SASL_FAILURES)
      this.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
  }

  // ---- dialback as receiving server (XEP-0220 §2.1.2, §2.2.2, §2.4) ----

  private dialbackRequest(request: Element): void {
    const remote = domainOf(request.attrs.from);
    const local = domainOf(request.attrs.to);
    const key = request.text.trim();
    if (remote === undefined || local === undefined) {
      this.fail(new StreamError('improper-addressing', '<db:result/> needs a domain in "from" and in "to"'));
      return;
    }
    const answer = (type: 'valid' | 'invalid' | StanzaError) =>
      this.writeElement(
        type instanceof StanzaError
          ? x('db:result', { from: local, to: remote, type: 'error' }, type.toElement())
          : x('db:result', { from: local, to: remote, type }),
      );
    // §2.4.2: refusals of one pair are not stream errors, the stream may carry other pairs.
    if (!this.env.isLocalDomain(local)) {
      answer(new StanzaError('item-not-found', `${local} is not served here`));
      return;
    }
    if (this.env.policy.secureAuth) {
      answer(new StanzaError('not-allowed', 'this server accepts only certificates (SASL EXTERNAL)'));
      return;
    }
    if (!this.env.policy.allows(remote)) {
      answer(new StanzaError('forbidden', `this server does not federate with ${remote}`));
      return;
    }
    if (this.env.isLocalDomain(remote)) {
      // Our own domains never arrive from outside; asking ourselves would prove nothing.
      answer(new StanzaError('forbidden', `${remote} is served here`));
      return;
    }
    if (key === '') {
      answer(new StanzaError('bad-request', 'the dialback key is missing'));
      return;
    }
    if (this.proved.get(remote)?.has(local)) {
      answer('valid');
      return;
    }
    const pair = `${remote} ${local}`;
    if (this.verifying.has(pair)) return;
    if (this.verifying.size >= MAX_PENDING_VERIFICATIONS) {
      // Each request makes us connect to the domain it names: one stream may not make many.
      answer(
        new StanzaError('resource-constraint', 'too many dialback requests at once; wait for the answers'),
      );
      return;
    }
    // XEP-0344 §2.1.1: a certificate we trust for the domain proves it as well as a key would.
    if (this.secure && peerCertificateVerified(this.socket as TLSSocket, remote)) {
      this.dialbackDone(remote, local, 'valid', 'certificate');
      return;
    }
    this.verifying.add(pair);
    const streamId = this.id;
    const epoch = this.tlsEpoch;
    this.env
      .verifyDialback(local, remote, streamId, key)
      .catch((err: unknown): DialbackVerdict => {
        this.log.error('dialback verification failed', { remote, local, error: err });
        return { error: 'internal-server-error' };
      })
      .then((verdict) => {
        if (this.closing || this.closed || epoch !== this.tlsEpoch) return;
        this.verifying.delete(pair);
        this.dialbackDone(remote, local, verdict, 'dialback');
      });
  }

  private dialbackDone(remote: string, local: string, verdict: DialbackVerdict, method: string): void {
    if (typeof verdict === 'object') {
      // §2.4: could not ask; not the peer's fault, and the stream goes on.
      this.writeElement(
        x(
          'db:result',
          { from: local, to: remote, type: 'error' },
          new StanzaError(verdict.error).toElement(),
        ),
      );
      if (this.proved.size === 0 && ++this.unchecked >= MAX_UNCHECKED_REQUESTS)
        this.fail(
          new StreamError('policy-violation', 'too many dialback requests that could not be checked'),
        );
      return;
    }
    this.writeElement(x('db:result', { from: local, to: remote, type: verdict }));
    if (verdict === 'valid') {
      this.prove(remote, local);
      this.env.stats.inboundDialback++;
      this.log.info('server authenticated', { remote, local, method, ip: this.remoteAddress });
      return;
    }
    this.log.warn('dialback key refused by the authoritative server', {
      remote,
      local,
      ip: this.remoteAddress,
    });
    // §2.2.1 step 4: with no other pair proved, the stream ends.
    if (this.proved.size === 0)
      this.fail(
        new StreamError('not-authorized', `the authoritative server of ${remote} did not vouch for you`),
      );
  }

  private prove(remote: string, local: string): void {
    let locals = this.proved.get(remote);
    if (!locals) {
      locals = new Set();
      this.proved.set(remote, locals);
    }
    locals.add(local);
    if (this.bidi) this.env.carriesBack(this, local, remote);
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  // ---- dialback as authoritative server (XEP-0220 §2.3) ----

  private answerVerify(request: Element): void {
    const outcome = answerVerify(request, this.env.secret, this.env.isLocalDomain);
    if (outcome instanceof StreamError) {
      this.fail(outcome);
      return;
    }
    this.log.debug('dialback key checked', {
      from: request.attrs.from,
      to: request.attrs.to,
      valid: outcome.valid,
    });
    this.writeElement(outcome.answer);
  }

  // ---- stanzas (RFC 6120 §8.1.1, §4.9.3) ----

  /** A failure to route one stanza is logged and costs the peer's other stanzas nothing. */
  private routeStanza(stanza: Element): void | Promise<void> {
    const event = this.checkStanza(stanza);
    if (!event) return;
    let result: void | Promise<void>;
    try {
      result = this.env.server.router.route(event);
    } catch (err) {
      this.log.error('error while routing a server stanza', { error: err });
      return;
    }
    if (result instanceof Promise)
      return result.catch((err: unknown) => {
        this.log.error('error while routing a server stanza', { error: err });
      });
  }

  /** The routing event for a stanza the stream may carry, or undefined after failing the stream. */
  private checkStanza(stanza: Element): StanzaEvent | undefined {
    if (this.proved.size === 0) {
      this.fail(new StreamError('not-authorized', 'authenticate the stream before sending stanzas'));
      return undefined;
    }
    const checked = checkRemoteStanza(stanza, this, {
      headerPrefixes: this.headerPrefixes,
      isLocalDomain: this.env.isLocalDomain,
      carries: (from, to) => {
        const locals = this.proved.get(from);
        if (!locals) return 'not-from';
        // A domain proved by certificate may address every domain of ours (its services too).
        return locals.has(to) || this.saslDomain === from ? 'yes' : 'not-to';
      },
    });
    if (checked instanceof StreamError) {
      this.fail(checked);
      return undefined;
    }
    return checked;
  }

  // ---- teardown ----

  protected override onClosing(): void {
    clearTimeout(this.authTimer);
  }

  protected onClosed(): void {
    clearTimeout(this.authTimer);
    this.env.onGone(this);
  }
}
