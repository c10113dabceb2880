// The server side of XEP-0114 Jabber Component Protocol (v1.6), the jabber:component:accept
// method: a bot or gateway connects, names the domain it serves in the header's 'to', proves the
// shared secret with <handshake/>, and from then on exchanges stanzas for that whole domain.
//
//   §3 header: 'to' is the component's domain; unknown → <host-unknown/>; a header in another
//      namespace → <invalid-namespace/>; the reply header carries the stream id.
//   §3 handshake: lowercase hex SHA-1(stream id + secret); wrong → <not-authorized/>, the
//      stream closed; right → an empty <handshake/>.
//   §3 stanzas: 'from' and 'to' required; the domain of 'from' MUST be the component's.
//
// No stream features are ever sent: there is nothing to negotiate, and common component
// libraries take the first element after the header for the handshake reply. A second
// connection for a connected domain is refused with <conflict/> (core/components.ts).
// Stanzas are not stamped: a component speaks for any address at its domain; one whose 'from'
// is elsewhere ends the stream with <invalid-from/> (RFC 6120 §4.9.3.9), as Prosody does.

import type { ComponentRegistry, ComponentSession } from '../core/components.js';
import { errorReply, StanzaError, StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/hooks.js';
import { randomId } from '../core/random-id.js';
import type { Router } from '../core/router.js';
import { type JID, tryParseJID } from '../jid.js';
import type { Logger } from '../log.js';
import type { Attrs, Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { StreamParserLimits } from '../xml/parser.js';
import { type AnySocket, XmlStream } from './xml-stream.js';

/** What a component stream needs from the server around it. */
export interface ComponentEnvironment {
  components: ComponentRegistry;
  router: Router;
  limits: StreamParserLimits;
  /** From the connection to the accepted handshake. */
  handshakeTimeoutMs: number;
  /** Called once when the stream is gone, so the listener can forget it. */
  onGone(stream: ComponentStream): void;
}

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);
const PRESENCE_TYPES = new Set([
  'unavailable',
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
  'probe',
  'error',
]);
/** Namespaces a stanza may carry from elsewhere; the component's stream has its own default. */
const FOREIGN_STANZA_NS = new Set<string>([NS.CLIENT, 'jabber:server']);

type Stage = 'header' | 'handshake' | 'ready';

export class ComponentStream extends XmlStream implements ComponentSession {
  readonly kind = 'component' as const;
  readonly id = randomId(9);
  /** The domain named in the header; served once `stage` is ready. */
  domain = '';
  private stage: Stage = 'header';
  private streamId = '';
  private handshakeTimer: NodeJS.Timeout | undefined;
  private attached = false;

  constructor(
    socket: AnySocket,
    private readonly env: ComponentEnvironment,
    log: Logger,
  ) {
    super(socket, log, env.limits);
    this.handshakeTimer = setTimeout(() => {
      if (this.stage !== 'ready')
        this.fail(new StreamError('connection-timeout', 'the handshake took too long'));
    }, env.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  /** Routes a stanza to the component. Never throws; a closing stream drops it. */
  send(stanza: Element): void {
    if (this.closing || this.closed || this.stage !== 'ready') {
      this.log.debug('component stream closed; stanza dropped', { kind: stanza.name, domain: this.domain });
      return;
    }
    const xmlns = stanza.attrs.xmlns;
    if (xmlns !== undefined && FOREIGN_STANZA_NS.has(xmlns)) {
      // Another stream's default namespace would make the stanza foreign on this one. The
      // stanza may be shared with other recipients: the attribute is put back at once.
      delete stanza.attrs.xmlns;
      try {
        this.write(stanza.toString());
      } finally {
        stanza.attrs.xmlns = xmlns;
      }
      return;
    }
    this.write(stanza.toString());
  }

  protected headerAttrs(): Attrs {
    if (this.streamId === '') this.streamId = randomId(12);
    const attrs: Attrs = { xmlns: NS.COMPONENT, 'xmlns:stream': NS.STREAM, id: this.streamId };
    if (this.domain !== '') attrs.from = this.domain;
    return attrs;
  }

  // ---- header (XEP-0114 §3) ----

  protected onHeader(name: string, attrs: Attrs): void {
    if (this.stage !== 'header') {
      this.fail(new StreamError('not-authorized', 'a component stream is never restarted'));
      return;
    }
    const colon = name.indexOf(':');
    const prefix = colon < 0 ? undefined : name.slice(0, colon);
    const local = colon < 0 ? name : name.slice(colon + 1);
    const streamNs = prefix === undefined ? attrs.xmlns : attrs[`xmlns:${prefix}`];
    if (local !== 'stream' || streamNs !== NS.STREAM) {
      this.fail(
        new StreamError('invalid-namespace', `the stream element must be <stream xmlns='${NS.STREAM}'>`),
      );
      return;
    }
    if (prefix === undefined || attrs.xmlns !== NS.COMPONENT) {
      this.fail(
        new StreamError(
          'invalid-namespace',
          `a component stream is <stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAM}'>`,
        ),
      );
      return;
    }
    const to = attrs.to;
    const parsed = to === undefined ? undefined : tryParseJID(to);
    if (parsed === undefined || parsed.local !== '' || parsed.resource !== '') {
      this.fail(
        new StreamError(
          'host-unknown',
          to === undefined ? 'name the component domain in "to"' : `"${to}" is not a domain`,
        ),
      );
      return;
    }
    if (!this.env.components.knows(parsed.domain)) {
      this.fail(new StreamError('host-unknown', `no component ${parsed.domain} is configured here`));
      return;
    }
    this.domain = parsed.domain;
    this.streamId = randomId(12);
    this.stage = 'handshake';
    this.sendHeader();
  }

  // ---- elements ----

  protected onElement(element: Element, ns: string | undefined): void | Promise<void> {
    if (this.closing || this.closed || this.stage === 'header') return;
    if (ns === NS.STREAM && element.localName === 'error') {
      // RFC 6120 §4.9.1.1: the component's stream is over; an error of ours in answer would
      // only bounce errors between the two ends.
      this.log.info('stream error from the component', {
        condition: element.elements.find((e) => e.localName !== 'text')?.localName,
        domain: this.domain,
      });
      this.terminate();
      return;
    }
    const name = element.name;
    if (this.stage === 'handshake') {
      if (name !== 'handshake' || ns !== NS.COMPONENT) {
        this.fail(new StreamError('not-authorized', 'authenticate with <handshake/> first (XEP-0114 §3)'));
        return;
      }
      this.handshake(element.text);
      return;
    }
    if (ns === NS.COMPONENT && (name === 'message' || name === 'presence' || name === 'iq'))
      return this.handleStanza(element);
    this.fail(
      new StreamError(
        'unsupported-stanza-type',
        `<${name}${ns ? ` xmlns='${ns}'` : ''}> is not supported here` +
          (name === 'handshake' ? '; the handshake is done' : ''),
      ),
    );
  }

  private handshake(digest: string): void {
    const { components } = this.env;
    if (!components.verify(this.domain, this.streamId, digest)) {
      this.fail(new StreamError('not-authorized', `wrong secret for ${this.domain}`));
      return;
    }
    if (components.attach(this) === 'conflict') {
      this.fail(new StreamError('conflict', `another connection already serves ${this.domain}`));
      return;
    }
    this.attached = true;
    this.stage = 'ready';
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.write('<handshake/>');
  }

  // ---- stanzas from the component (XEP-0114 §3, RFC 6120 §8.1) ----

  private handleStanza(stanza: Element): void | Promise<void> {
    const attrs = stanza.attrs;
    if (attrs.xmlns !== undefined) delete attrs.xmlns; // implied by the stream; other streams have their own
    const name = stanza.name;
    const type = attrs.type;

    if (attrs.from === undefined) {
      this.bounceLocally(
        stanza,
        new StanzaError('bad-request', 'a component must set "from" on every stanza'),
      );
      return;
    }
    const from = tryParseJID(attrs.from);
    if (from === undefined || from.domain !== this.domain) {
      // The addresses and kind only: a log line never carries what was said.
      this.log.warn('component stanza from outside its domain', {
        kind: name,
        type,
        from: attrs.from,
        to: attrs.to,
        domain: this.domain,
      });
      this.fail(new StreamError('invalid-from', `"${attrs.from}" is not an address at ${this.domain}`));
      return;
    }
    if (attrs.to === undefined) {
      this.bounceLocally(stanza, new StanzaError('bad-request', 'a component must set "to" on every stanza'));
      return;
    }
    const to: JID | undefined = tryParseJID(attrs.to);
    if (to === undefined) {
      this.bounceLocally(stanza, new StanzaError('jid-malformed', 'the to address is not a valid JID'));
      return;
    }
    if (name === 'iq') {
      if (type === undefined || !IQ_TYPES.has(type) || attrs.id === undefined) {
        this.bounceLocally(
          stanza,
          new StanzaError('bad-request', 'an iq needs an id and a type of get, set, result or error'),
        );
        return;
      }
      if ((type === 'get' || type === 'set') && stanza.elements.length !== 1) {
        this.bounceLocally(
          stanza,
          new StanzaError('bad-request', 'an iq get or set carries exactly one child element'),
        );
        return;
      }
    } else if (name === 'presence' && type !== undefined && !PRESENCE_TYPES.has(type)) {
      this.bounceLocally(stanza, new StanzaError('bad-request', `unknown presence type "${type}"`));
      return;
    }
    // Prepared forms, so that every later lookup of these addresses is exact.
    if (from.full !== attrs.from) attrs.from = from.full;
    if (to.full !== attrs.to) attrs.to = to.full;
    const event: StanzaEvent = { stanza, origin: this, from, to };
    return this.env.router.route(event);
  }

  /** An error for a stanza that could not be routed, written straight back. */
  private bounceLocally(stanza: Element, error: StanzaError): void {
    const reply = errorReply(stanza, error);
    if (reply) this.writeElement(reply);
  }

  // ---- the end ----

  protected override onClosing(): void {
    this.leave();
  }

  protected onClosed(error: string | undefined): void {
    this.leave();
    if (error !== undefined && this.stage === 'ready')
      this.log.info('component connection lost', { domain: this.domain, error });
    this.env.onGone(this);
  }

  private leave(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    if (!this.attached) return;
    this.attached = false;
    this.env.components.detach(this);
  }
}
