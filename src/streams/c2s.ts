// The client-to-server stream: RFC 6120 §4 (streams), §5 (STARTTLS), §6 (SASL), §7 (resource
// binding), §8 (stanza semantics at the edge: `from` stamping, `to` validation), and the
// optional legacy session establishment of RFC 3921 §3 kept per RFC 6121 Appendix E.
//
// Life of a connection:
//   header → features (STARTTLS required) → <starttls/> → TLS → header → features (SASL)
//   → <auth/> … <success/> → header → features (bind) → <iq><bind/></iq> → stanzas.
// Direct TLS (XEP-0368) starts at the second header. After binding, the stream carries a
// BoundSession (client-session.ts), which XEP-0198 lets outlive the connection: a client
// may instead <resume/> a session after authenticating.

import { TLSSocket } from 'node:tls';
import { errorReply, StanzaError, StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/hooks.js';
import type { ServerContext } from '../core/module.js';
import { randomId } from '../core/random-id.js';
import type { AuthFailureThrottle } from '../core/throttle.js';
import { type JID, jid, prepareLocalpart, prepareResourcepart, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import { saslprep } from '../precis.js';
import { findMechanism, offeredMechanisms } from '../sasl/index.js';
import type {
  ChannelBindingType,
  SaslContext,
  SaslExchange,
  SaslFailureCondition,
  SaslStep,
} from '../sasl/mechanism.js';
import { advertisedChannelBindings } from '../tls/channel-binding.js';
import type { CertificateStore } from '../tls/store.js';
import { type Attrs, type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { StreamParserLimits } from '../xml/parser.js';
import {
  BoundSession,
  type ClientConnection,
  type ResumableSessions,
  type SessionEnvironment,
} from './client-session.js';
import { parseH } from './sm.js';
import { type AnySocket, XmlStream } from './xml-stream.js';

export interface C2SOptions {
  requireEncryption: boolean;
  allowPlain: boolean;
  authTimeoutMs: number;
  maxAuthAttempts: number;
  /** PBKDF2 iterations of new credentials: what SCRAM shows for accounts that do not exist. */
  scramIterations: number;
  limits: StreamParserLimits;
}

/** What a client stream needs from the server around it. */
export interface C2SEnvironment {
  server: ServerContext;
  certificates: CertificateStore;
  throttle: AuthFailureThrottle;
  options: C2SOptions;
  /** Sessions waiting to be resumed (XEP-0198), shared by all client streams. */
  resumable: ResumableSessions;
  /** What the sessions bound on these streams share. */
  sessions: SessionEnvironment;
  /** Called once when the stream is gone, so the listener can forget it. */
  onGone(stream: C2SStream): void;
}

/** How long a connection refused for its address's connection limit has to send its header. */
const REFUSED_HEADER_MS = 2_000;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PRESENCE_TYPES = new Set([
  'unavailable',
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
  'probe',
  'error',
]);
const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);
const NO_BINDINGS: ReadonlyMap<ChannelBindingType, Buffer> = new Map();

/**
 * Where the connection is in its negotiation. `stage` moves forward only; each stream
 * restart (after TLS, after SASL) expects a new header within the same stage.
 */
type Stage =
  | { name: 'unauthenticated' }
  | { name: 'sasl'; exchange: SaslExchange; mechanism: string; awaitingInitial: boolean }
  | { name: 'authenticated'; username: string }
  | { name: 'bound'; session: BoundSession };

export class C2SStream extends XmlStream implements ClientConnection {
  /** The id of the current stream: RFC 6120 §4.7.3 wants a fresh one after each restart. */
  private streamId = '';
  host = '';
  secure: boolean;

  private stage: Stage = { name: 'unauthenticated' };
  private headerReceived = false;
  /** Whether the client's latest header had a version attribute. */
  private peerSentVersion = true;
  private lang = 'en';
  private authFailures = 0;
  private plusOffered = false;
  /** What SCRAM-*-PLUS binds to; only needed until authentication succeeds. */
  private bindings: ReadonlyMap<ChannelBindingType, Buffer> = NO_BINDINGS;
  private authTimer: NodeJS.Timeout | undefined;
  /** STARTTLS was accepted and its handshake has not finished: socket errors are its failure. */
  private handshaking = false;

  constructor(
    socket: AnySocket,
    private readonly env: C2SEnvironment,
    log: Logger,
    /** Set when the address is already at its connection limit: refused after its header. */
    private readonly refuse: StreamError | undefined,
  ) {
    super(socket, log, env.options.limits);
    this.secure = socket instanceof TLSSocket;
    if (this.secure) this.bindings = env.certificates.channelBindings(socket as TLSSocket);
    // A refused connection is not counted against its address, so it must not linger for the
    // whole auth_timeout: an address could otherwise hold any number of sockets by never
    // sending a header.
    const deadline = refuse
      ? Math.min(REFUSED_HEADER_MS, env.options.authTimeoutMs)
      : env.options.authTimeoutMs;
    this.authTimer = setTimeout(() => {
      if (this.stage.name !== 'bound')
        this.fail(refuse ?? new StreamError('connection-timeout', 'authentication took too long'));
    }, deadline);
    this.authTimer.unref();
  }

  private get server(): ServerContext {
    return this.env.server;
  }

  /** Once bound, lines name the session's JID. */
  override get log(): Logger {
    return this.stage.name === 'bound' ? this.stage.session.log : this.streamLog;
  }

  /** The bound session this stream carries, if any (and it has not moved to another stream). */
  private get session(): BoundSession | undefined {
    return this.stage.name === 'bound' && this.stage.session.connection === this
      ? this.stage.session
      : undefined;
  }

  /** Writes XML for the bound session (stanzas, stream management); nothing once closing. */
  writeRaw(data: string): void {
    if (!this.closing) this.write(data);
  }

  protected headerAttrs(): Attrs {
    // A stream refused before its header was accepted still gets a header with an id.
    if (!this.headerReceived) this.streamId = randomId(12);
    const attrs: Attrs = {
      xmlns: NS.CLIENT,
      'xmlns:stream': NS.STREAM,
      id: this.streamId,
      'xml:lang': this.lang,
    };
    // RFC 6120 §4.7.5: the lower of our version and the client's; a client that sent none is
    // taken to be 0.9, and is answered without one.
    if (this.peerSentVersion) attrs.version = '1.0';
    if (this.host) attrs.from = this.host;
    return attrs;
  }

  // ---- stream header (RFC 6120 §4.7, §4.8) ----

  protected onHeader(name: string, attrs: Attrs): void {
    const error = this.checkHeader(name, attrs);
    if (error) {
      this.fail(error);
      return;
    }
    this.streamId = randomId(12);
    this.headerReceived = true;
    this.sendHeader();
    this.writeElement(this.features());
  }

  private checkHeader(name: string, attrs: Attrs): StreamError | undefined {
    this.peerSentVersion = attrs.version !== undefined;
    const to = attrs.to;
    const parsed = to === undefined ? undefined : tryParseJID(to);
    const domain =
      parsed?.local === '' && parsed.resource === '' && this.server.hosts.has(parsed.domain)
        ? parsed.domain
        : undefined;
    // Our header names the host the client asked for even when the rest of its header earns an
    // error (RFC 6120 §4.7.1, §4.9.1.2).
    if (!this.host && domain !== undefined) this.host = domain;
    const colon = name.indexOf(':');
    const prefix = colon < 0 ? undefined : name.slice(0, colon);
    const local = colon < 0 ? name : name.slice(colon + 1);
    const streamNs = prefix === undefined ? attrs.xmlns : attrs[`xmlns:${prefix}`];
    if (local !== 'stream' || streamNs !== NS.STREAM) {
      return new StreamError('invalid-namespace', `the stream element must be <stream xmlns='${NS.STREAM}'>`);
    }
    if (prefix !== undefined && attrs.xmlns !== NS.CLIENT) {
      return new StreamError('invalid-namespace', `the content namespace of a client stream is ${NS.CLIENT}`);
    }
    if (prefix === undefined) {
      // <stream xmlns='…streams'> leaves no default namespace for stanzas; no client does that.
      return new StreamError('bad-namespace-prefix', 'use the stream: prefix for the stream element');
    }
    if (attrs['xml:lang']) this.lang = attrs['xml:lang'];
    if (domain === undefined) {
      return new StreamError(
        'host-unknown',
        to === undefined ? 'the stream header has no "to"' : `${to} is not served here`,
      );
    }
    if (this.host !== domain) {
      return new StreamError('host-unknown', 'a restarted stream must be for the same host');
    }
    const version = attrs.version;
    const major = version === undefined ? 0 : Number.parseInt(version.split('.')[0] ?? '', 10);
    if (major !== 1) {
      // Pre-1.0 streams (no version) lack SASL and TLS; RFC 6120 §4.7.5 lets us refuse them.
      return new StreamError('unsupported-version', 'Warbler speaks XMPP version 1.0');
    }
    return this.refuse;
  }

  private features(): Element {
    const features = x('stream:features');
    const { options } = this.env;
    if (this.stage.name === 'unauthenticated') {
      if (!this.secure) {
        const starttls = features.c('starttls', { xmlns: NS.TLS });
        if (options.requireEncryption) starttls.c('required');
      }
      if (this.secure || !options.requireEncryption) {
        const offered = this.mechanisms();
        this.plusOffered = offered.some((m) => m.channelBinding);
        const mechanisms = features.c('mechanisms', { xmlns: NS.SASL });
        for (const m of offered) mechanisms.c('mechanism').t(m.name);
        if (this.bindings.size > 0) {
          // XEP-0440: tell the client which channel-binding types it can use here.
          const cb = features.c('sasl-channel-binding', { xmlns: NS.SASL_CB });
          for (const type of advertisedChannelBindings(this.bindings)) cb.c('channel-binding', { type });
        }
      }
      for (const f of this.server.streamFeatures.features('pre-auth', {
        host: this.host,
        secure: this.secure,
      })) {
        features.append(f);
      }
    } else {
      features.c('bind', { xmlns: NS.BIND });
      // RFC 6121 Appendix E: advertised as optional, so modern clients skip it.
      features.c('session', { xmlns: NS.SESSION }).c('optional');
      features.c('sm', { xmlns: NS.SM });
      for (const f of this.server.streamFeatures.features('post-auth', {
        host: this.host,
        secure: this.secure,
      })) {
        features.append(f);
      }
    }
    return features;
  }

  private mechanisms() {
    return offeredMechanisms({
      secure: this.secure,
      channelBindings: this.bindings,
      allowPlain: this.env.options.allowPlain,
    });
  }

  // ---- elements, in order ----

  protected onElement(element: Element, ns: string | undefined): void | Promise<void> {
    if (this.closing || this.closed) return;
    if (!this.headerReceived) return;
    const name = element.name;
    if (this.stage.name === 'bound') {
      const session = this.stage.session;
      if (ns === NS.CLIENT && (name === 'message' || name === 'presence' || name === 'iq')) {
        session.sm?.countInbound();
        return this.handleStanza(session, element);
      }
      if (ns === NS.SM) return this.streamManagement(session, element);
      const nonza = this.server.streamFeatures.nonza(ns, element.localName);
      if (nonza) return nonza(session, element);
      return this.rejectElement(element, ns);
    }
    switch (ns) {
      case NS.TLS:
        if (name === 'starttls') return this.startTls();
        break;
      case NS.SASL:
        if (name === 'auth') return this.startAuth(element);
        if (name === 'response') return this.continueAuth(element);
        if (name === 'abort') return this.abortAuth();
        break;
      case NS.SM:
        if (this.stage.name === 'authenticated') return this.preBindStreamManagement(element);
        break;
      case NS.CLIENT:
        if (name === 'iq' && this.stage.name === 'authenticated') return this.handlePreBindIq(element);
        if (name === 'iq' && this.stage.name === 'unauthenticated') {
          const answered = this.handlePreAuthIq(element);
          if (answered !== false) return answered;
        }
        if (name === 'message' || name === 'presence' || name === 'iq') {
          // RFC 6120 §6.4.7 / §7.1: no stanzas before authentication and binding.
          this.fail(new StreamError('not-authorized', 'authenticate and bind a resource first'));
          return;
        }
        break;
    }
    return this.rejectElement(element, ns);
  }

  private rejectElement(element: Element, ns: string | undefined): void {
    // A stanza in another namespace (say jabber:server) is a first-level element this stream
    // does not support too (RFC 6120 §4.9.3.24): <invalid-namespace/> (§4.9.3.10) is about the
    // header's namespaces, and lists jabber:server as a supported one. Prosody answers the same.
    const name = element.name;
    const stanza = name === 'message' || name === 'presence' || name === 'iq';
    this.fail(
      new StreamError(
        'unsupported-stanza-type',
        `<${name}${ns ? ` xmlns='${ns}'` : ''}> is not supported here` +
          (stanza ? `; stanzas on a client stream are in ${NS.CLIENT}` : ''),
      ),
    );
  }

  // ---- STARTTLS (RFC 6120 §5) ----

  private startTls(): void {
    if (this.secure || this.stage.name !== 'unauthenticated') {
      // RFC 6120 §5.4.2.2: a failure closes the stream and the TCP connection.
      this.write(`<failure xmlns='${NS.TLS}'/>`);
      this.terminate();
      return;
    }
    // Anything the client pipelined after <starttls/> is plaintext we must not act on.
    this.parser.stop();
    this.write(`<proceed xmlns='${NS.TLS}'/>`);
    this.flush();
    const secure = new TLSSocket(this.socket, {
      isServer: true,
      ...this.env.certificates.serverOptions(['xmpp-client']),
    });
    this.handshaking = true;
    this.upgradeSocket(secure);
    this.headerReceived = false;
  }

  protected override onSecure(): void {
    // Once: a renegotiation (TLS 1.2) changes nothing the stream already relies on.
    if (!this.handshaking) return;
    this.handshaking = false;
    this.secure = true;
    this.bindings = this.env.certificates.channelBindings(this.socket as TLSSocket);
  }

  override socketError(err: NodeJS.ErrnoException): void {
    if (this.handshaking)
      this.log.info('TLS handshake failed', { ip: this.remoteAddress, error: err.message });
    else super.socketError(err);
  }

  // ---- SASL (RFC 6120 §6) ----

  private startAuth(element: Element): void | Promise<void> {
    if (this.stage.name !== 'unauthenticated') {
      if (this.stage.name === 'sasl')
        return this.saslFailure('aborted', 'a new <auth/> aborts the exchange in progress');
      this.fail(new StreamError('policy-violation', 'already authenticated'));
      return;
    }
    if (!this.secure && this.env.options.requireEncryption) {
      return this.saslFailure('encryption-required', 'use STARTTLS before authenticating');
    }
    if (this.env.throttle.isBlocked(this.remoteAddress)) {
      return this.saslFailure(
        'temporary-auth-failure',
        'too many failed attempts from your address; try later',
      );
    }
    const name = element.attrs.mechanism ?? '';
    const mechanism = this.mechanisms().find((m) => m.name === name);
    if (!mechanism) {
      const known = findMechanism(name);
      if (known?.requiresTls && !this.secure) return this.saslFailure('encryption-required');
      return this.saslFailure('invalid-mechanism', `${name || 'no mechanism'} is not offered`);
    }
    const exchange = mechanism.start(this.saslContext());
    const text = element.text.trim();
    if (text === '') {
      // No initial response: prompt for it with an empty challenge (RFC 6120 §6.4.2).
      this.stage = { name: 'sasl', exchange, mechanism: mechanism.name, awaitingInitial: true };
      this.write(`<challenge xmlns='${NS.SASL}'/>`);
      return;
    }
    this.stage = { name: 'sasl', exchange, mechanism: mechanism.name, awaitingInitial: false };
    return this.saslStep(text === '=' ? '' : text);
  }

  private continueAuth(element: Element): void | Promise<void> {
    if (this.stage.name !== 'sasl') {
      this.fail(new StreamError('policy-violation', 'no authentication exchange in progress'));
      return;
    }
    this.stage.awaitingInitial = false;
    return this.saslStep(element.text.trim());
  }

  private abortAuth(): void | Promise<void> {
    if (this.stage.name !== 'sasl') {
      this.fail(new StreamError('policy-violation', 'no authentication exchange in progress'));
      return;
    }
    return this.saslFailure('aborted');
  }

  private async saslStep(base64: string): Promise<void> {
    if (this.stage.name !== 'sasl') return;
    const { exchange, mechanism } = this.stage;
    if (!BASE64.test(base64)) return this.saslFailure('incorrect-encoding');
    let step: SaslStep;
    try {
      step = await exchange.step(Buffer.from(base64, 'base64'));
    } catch (err) {
      this.log.error('SASL mechanism failed', { mechanism, error: err });
      return this.saslFailure('temporary-auth-failure');
    }
    if (this.closed || this.closing) return;
    switch (step.kind) {
      case 'challenge':
        this.write(`<challenge xmlns='${NS.SASL}'>${step.data.toString('base64')}</challenge>`);
        return;
      case 'failure':
        if (step.cause !== undefined)
          this.log.warn('SASL failed on our side', { mechanism, error: step.cause });
        return this.saslFailure(step.condition, step.text, step.username, true);
      case 'success': {
        clearTimeout(this.authTimer);
        this.authTimer = setTimeout(() => {
          if (this.stage.name !== 'bound')
            this.fail(new StreamError('connection-timeout', 'no resource bound in time'));
        }, this.env.options.authTimeoutMs);
        this.authTimer.unref();
        this.stage = { name: 'authenticated', username: step.username };
        this.bindings = NO_BINDINGS;
        const data = step.data && step.data.length > 0 ? step.data.toString('base64') : '';
        this.write(data ? `<success xmlns='${NS.SASL}'>${data}</success>` : `<success xmlns='${NS.SASL}'/>`);
        this.log.info('authenticated', {
          user: `${step.username}@${this.host}`,
          mechanism,
          ip: this.remoteAddress,
        });
        this.headerReceived = false;
        this.restartStream();
        return;
      }
    }
  }

  /**
   * fromMechanism: the mechanism itself failed the exchange, where credentials are checked. Only
   * those failures count against the address: a client on a shared address (NAT, campus) that
   * asks for the wrong mechanism or sends bad base64 guesses no password, and must not lock its
   * neighbours out. Every failure counts against the connection.
   */
  private saslFailure(
    condition: SaslFailureCondition,
    text?: string,
    username?: string,
    fromMechanism = false,
  ): void {
    this.stage = { name: 'unauthenticated' };
    const failure = x('failure', { xmlns: NS.SASL }, x(condition));
    if (text) failure.append(x('text', { 'xml:lang': 'en' }, text));
    this.writeElement(failure);
    if (condition === 'aborted' || condition === 'temporary-auth-failure') return;
    if (fromMechanism) this.env.throttle.record(this.remoteAddress);
    this.authFailures++;
    this.log.info('authentication failed', {
      condition,
      user: username ? `${username}@${this.host}` : undefined,
      ip: this.remoteAddress,
      attempt: this.authFailures,
    });
    if (this.authFailures >= this.env.options.maxAuthAttempts) {
      // RFC 6120 §6.4.5: too many retries end the stream.
      this.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
    }
  }

  private saslContext(): SaslContext {
    const accounts = this.server.accounts.store;
    const host = this.host;
    return {
      secure: this.secure,
      channelBindings: this.bindings,
      plusOffered: this.plusOffered,
      prepareUsername: (raw) => attempt(() => prepareLocalpart(raw)),
      preparePassword: (raw) => attempt(() => saslprep(raw)),
      getCredential: (username, hash) => accounts.getCredential(host, username, hash),
      bareJid: (username) => `${username}@${host}`,
      defaultIterations: this.env.options.scramIterations,
    };
  }

  // ---- iq before authentication (XEP-0077 in-band registration) ----

  /** Runs a module's pre-auth iq handler; false when none applies (the stanza is then refused). */
  private handlePreAuthIq(iq: Element): false | Promise<void> {
    const type = iq.attrs.type;
    const payload = iq.elements[0];
    if ((type !== 'get' && type !== 'set') || !payload || iq.elements.length !== 1) return false;
    const handler = this.server.streamFeatures.preAuthIq(payload.getNS(), payload.localName);
    // Nothing an unauthenticated client sends is acted on before the channel is encrypted.
    if (!handler || (!this.secure && this.env.options.requireEncryption)) return false;
    const context = { host: this.host, secure: this.secure, remoteAddress: this.remoteAddress };
    return (async () => {
      let reply: Element;
      try {
        const answer = await handler(context, iq, payload);
        reply = x('iq', { type: 'result', id: iq.attrs.id }, answer);
      } catch (err) {
        if (!(err instanceof StanzaError)) {
          this.log.error('pre-auth iq handler failed', { ns: payload.getNS(), error: err });
        }
        reply = errorReply(iq, err instanceof StanzaError ? err : new StanzaError('internal-server-error'))!;
        delete reply.attrs.to;
      }
      if (!this.closed && !this.closing) this.writeElement(reply);
    })();
  }

  // ---- resource binding (RFC 6120 §7) ----

  private handlePreBindIq(iq: Element): void {
    const payload = iq.elements[0];
    if (iq.attrs.type === 'set' && payload?.localName === 'bind' && payload.getNS() === NS.BIND) {
      this.bind(iq, payload);
      return;
    }
    this.fail(new StreamError('not-authorized', 'bind a resource first'));
  }

  private bind(iq: Element, bind: Element): void {
    if (this.stage.name !== 'authenticated') return;
    const username = this.stage.username;
    const requested = bind.getChildText('resource');
    let resource: string;
    if (requested) {
      const prepared = attempt(() => prepareResourcepart(requested));
      if (prepared === undefined) {
        this.replyError(iq, new StanzaError('bad-request', 'the resource is not a valid resourcepart'));
        return;
      }
      resource = prepared;
    } else {
      resource = this.generateResource(username);
    }
    const bound = jid(username, this.host, resource);
    const session = new BoundSession(bound, this.host, this, this.env.sessions);
    const outcome = this.server.sessions.bind(session);
    if (!outcome.ok) {
      const error =
        outcome.reason === 'conflict'
          ? new StanzaError('conflict', 'that resource is in use')
          : new StanzaError('resource-constraint', 'too many resources are connected for this account');
      this.replyError(iq, error);
      return;
    }
    if (outcome.replaced) outcome.replaced.close(new StreamError('conflict', 'replaced by a new connection'));
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.stage = { name: 'bound', session };
    this.writeElement(
      x('iq', { type: 'result', id: iq.attrs.id }, x('bind', { xmlns: NS.BIND }, x('jid', null, bound.full))),
    );
    this.log.info('resource bound', { ip: this.remoteAddress, secure: this.secure });
    void this.server.hooks.notify('session/bound', { session });
  }

  private generateResource(username: string): string {
    for (;;) {
      const resource = `warbler-${randomId(6)}`;
      if (!this.server.sessions.isBound(jid(username, this.host, resource))) return resource;
    }
  }

  private replyError(stanza: Element, error: StanzaError): void {
    const reply = errorReply(stanza, error);
    if (reply) this.writeElement(reply);
  }

  // ---- stanzas from the bound client (RFC 6120 §8.1, §10) ----

  private handleStanza(session: BoundSession, stanza: Element): void | Promise<void> {
    const attrs = stanza.attrs;
    const self = session.jid;
    if (attrs.xmlns !== undefined) delete attrs.xmlns; // implied by the stream; other streams have their own

    const from = attrs.from;
    if (from !== undefined && from !== self.full && from !== self.bare) {
      const parsed = tryParseJID(from);
      if (!parsed || (parsed.full !== self.full && parsed.full !== self.bare)) {
        // RFC 6120 §8.1.2.1: a client may not speak for another address.
        this.fail(new StreamError('invalid-from', 'the from address is not yours'));
        return;
      }
    }
    attrs.from = self.full;

    const name = stanza.name;
    const type = attrs.type;
    if (name === 'iq') {
      if (type === undefined || !IQ_TYPES.has(type) || attrs.id === undefined) {
        return this.bounceLocally(
          stanza,
          new StanzaError('bad-request', 'an iq needs an id and a type of get, set, result or error'),
        );
      }
      if ((type === 'get' || type === 'set') && stanza.elements.length !== 1) {
        return this.bounceLocally(
          stanza,
          new StanzaError('bad-request', 'an iq get or set carries exactly one child element'),
        );
      }
      if (type === 'set' && attrs.to === undefined && isLegacySession(stanza)) {
        // RFC 3921 §3: a no-op now, answered for old clients that still ask.
        this.writeElement(x('iq', { type: 'result', id: attrs.id }));
        return;
      }
    } else if (name === 'presence' && type !== undefined && !PRESENCE_TYPES.has(type)) {
      return this.bounceLocally(stanza, new StanzaError('bad-request', `unknown presence type "${type}"`));
    }

    let to: JID;
    if (attrs.to !== undefined) {
      const parsed = tryParseJID(attrs.to);
      if (!parsed) {
        delete attrs.to;
        return this.bounceLocally(
          stanza,
          new StanzaError('jid-malformed', 'the to address is not a valid JID'),
        );
      }
      if (parsed.full !== attrs.to) attrs.to = parsed.full;
      to = parsed;
    } else {
      to = self.bareJID();
    }

    if (name === 'iq' && (type === 'result' || type === 'error')) session.noteAnswer(stanza);
    const event: StanzaEvent = { stanza, origin: session, from: self, to };
    if (name === 'presence' && attrs.to === undefined) return this.broadcastPresence(session, event);
    const taken = this.server.hooks.fire('pre-route', event);
    if (taken === false) return this.server.router.route(event);
    if (taken === true) return;
    return taken.then((done) => {
      if (!done) return this.server.router.route(event);
    });
  }

  /** RFC 6121 §4.2, §4.4: the client's own presence, tracked here and broadcast by the IM module. */
  private broadcastPresence(session: BoundSession, event: StanzaEvent): void | Promise<void> {
    const { stanza } = event;
    const type = stanza.attrs.type;
    if (type === undefined) {
      session.presence = stanza;
      const priority = Number.parseInt(stanza.getChildText('priority') ?? '0', 10);
      session.priority = Number.isFinite(priority) ? Math.max(-128, Math.min(127, priority)) : 0;
    } else if (type === 'unavailable') {
      session.presence = undefined;
      session.priority = 0;
    }
    const taken = this.server.hooks.fire('pre-route', event);
    if (taken === true) return;
    if (taken === false) {
      // Awaited when asynchronous, so that this session's next stanza waits for the broadcast
      // (and for what modules do after it, like delivering stored messages).
      return this.server.hooks.notify('presence/broadcast', event);
    }
    return taken.then(async (done) => {
      if (!done) await this.server.hooks.notify('presence/broadcast', event);
    });
  }

  /** An error for a stanza we refuse before routing, written straight back to the client. */
  private bounceLocally(stanza: Element, error: StanzaError): void {
    const reply = errorReply(stanza, error);
    if (!reply) return;
    delete reply.attrs.to;
    this.writeElement(reply);
  }

  // ---- stream management (XEP-0198) ----

  /** <enable/>, <r/>, <a/> on a bound stream. */
  private streamManagement(session: BoundSession, element: Element): void {
    switch (element.localName) {
      case 'enable':
        this.writeElement(session.enableStreamManagement(element));
        return;
      case 'r':
        session.answerAckRequest();
        return;
      case 'a': {
        const h = parseH(element.attrs.h);
        if (h === undefined)
          this.fail(new StreamError('bad-format', "an <a/> needs an 'h' that is an unsigned int"));
        else session.acknowledge(h);
        return;
      }
      case 'resume':
        // §5: resumption replaces binding; this stream has bound already.
        this.writeElement(
          x('failed', { xmlns: NS.SM }, x('unexpected-request', { xmlns: NS.STANZAS_ERROR })),
        );
        return;
    }
    this.rejectElement(element, NS.SM);
  }

  /** After authentication and before binding: <resume/> takes a session over; <enable/> is early. */
  private preBindStreamManagement(element: Element): void {
    if (this.stage.name !== 'authenticated') return;
    const failed = (condition: string) =>
      this.writeElement(x('failed', { xmlns: NS.SM }, x(condition, { xmlns: NS.STANZAS_ERROR })));
    if (element.localName !== 'resume') {
      // §3: stream management is enabled after binding (or by resuming).
      if (element.localName === 'enable') failed('unexpected-request');
      else this.rejectElement(element, NS.SM);
      return;
    }
    const h = parseH(element.attrs.h);
    const previd = element.attrs.previd;
    if (h === undefined || !previd) {
      failed('bad-request');
      return;
    }
    const session = this.env.resumable.get(previd);
    // Only the account that owns a session may resume it; to anyone else it does not exist.
    if (!session || session.jid.local !== this.stage.username || session.host !== this.host) {
      // §5: the client may still bind a resource on this stream.
      failed('item-not-found');
      return;
    }
    if (!session.resume(this, h)) return;
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.stage = { name: 'bound', session };
  }

  // ---- teardown ----

  /** The stream is closing cleanly (either side's </stream:stream>, or a stream error). */
  protected override onClosing(): void {
    clearTimeout(this.authTimer);
    this.session?.connectionClosed(undefined);
  }

  protected onClosed(error: string | undefined): void {
    clearTimeout(this.authTimer);
    try {
      const session = this.session;
      if (session) {
        // Without a clean close the stream is unfinished (XEP-0198 §7): a resumable session
        // waits for its client.
        if (error) session.connectionLost();
        else session.connectionClosed(undefined);
      }
    } finally {
      // Whatever a module's hook does, the listener forgets the stream and its address's count.
      this.env.onGone(this);
    }
  }
}

function isLegacySession(iq: Element): boolean {
  const payload = iq.elements[0];
  return payload?.localName === 'session' && payload.getNS() === NS.SESSION;
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
