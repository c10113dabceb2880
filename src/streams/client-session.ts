// A bound client session: the resource a client bound, with its presence and its XEP-0198
// state. It is what modules hold on to (ClientSession), and it can outlive the connection
// that carries it: when a client with a resumable stream loses its connection, the session
// hibernates — still bound, still available to its contacts, queueing what arrives — until
// the client resumes it on a new connection or the resumption timeout ends it. Ending it
// gives every unacknowledged stanza the fate of a stanza for an unavailable resource
// (XEP-0198 §4: offline storage for messages, an error for requests).

import { StanzaError, StreamError } from '../core/errors.js';
import type { ServerContext } from '../core/module.js';
import { randomId } from '../core/random-id.js';
import type { ClientSession, OutboundGate } from '../core/session.js';
import type { JID } from '../jid.js';
import type { Logger } from '../log.js';
import { type Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StreamManagement } from './sm.js';

/** What a session needs of the connection that currently carries it. */
export interface ClientConnection {
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly lastActivity: number;
  /** Writes serialized XML: a stanza, or a stream-management element. */
  writeRaw(data: string): void;
  /** Ends the connection, with a stream error when given; the session is told how it ended. */
  close(error?: StreamError): void;
}

export interface SessionOptions {
  /** How long a resumable session waits for its client to come back (XEP-0198 §5). */
  resumptionTimeoutMs: number;
  /** Unacknowledged stanzas beyond this end the session (a client that never acks). */
  maxUnacked: number;
}

/** Resumable sessions by SM-ID, shared by every client connection of the server. */
export type ResumableSessions = Map<string, BoundSession>;

/** What every client session of a server shares, built once. */
export interface SessionEnvironment {
  server: ServerContext;
  resumable: ResumableSessions;
  options: SessionOptions;
  /** The client streams' logger; a session's lines add its JID. */
  log: Logger;
}

export class BoundSession implements ClientSession {
  presence: Element | undefined = undefined;
  priority = 0;
  /** XEP-0198 state, once the client enabled stream management. */
  sm: StreamManagement | undefined;

  private current: ClientConnection | undefined;
  /** What the last connection was, for the properties a hibernating session still answers. */
  private last: { secure: boolean; remoteAddress: string; lastActivity: number };
  private ended = false;
  private hibernation: NodeJS.Timeout | undefined;
  private ackRequested = false;
  private ackScheduled = false;
  private gate: OutboundGate | undefined;
  /** Requests the client answered while they were still unacknowledged ("requester id"). */
  private answered: Set<string> | undefined;
  private sessionId: string | undefined;

  constructor(
    readonly jid: JID,
    readonly host: string,
    connection: ClientConnection,
    private readonly env: SessionEnvironment,
  ) {
    this.current = connection;
    this.last = connection;
  }

  get kind(): 'c2s' {
    return 'c2s';
  }

  /** Made when first asked for: nothing asks on the hot path, and idle sessions are many. */
  get id(): string {
    this.sessionId ??= randomId(12);
    return this.sessionId;
  }

  /**
   * A logger naming the session's JID, made when something is logged: a logger kept per
   * session would cost every idle session its memory for lines that are rarely written.
   */
  get log(): Logger {
    return this.env.log.child({ jid: this.jid.full });
  }

  private get server(): ServerContext {
    return this.env.server;
  }

  private get options(): SessionOptions {
    return this.env.options;
  }

  get available(): boolean {
    return this.presence !== undefined;
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  get connection(): ClientConnection | undefined {
    return this.current;
  }

  get secure(): boolean {
    return (this.current ?? this.last).secure;
  }

  get remoteAddress(): string {
    return (this.current ?? this.last).remoteAddress;
  }

  get lastActivity(): number {
    return (this.current ?? this.last).lastActivity;
  }

  /** Sends a stanza to the client, unless a gate (client state indication) holds it back. */
  send(stanza: Element): void {
    if (this.gate && !this.ended && !this.gate.admit(stanza)) return;
    this.sendNow(stanza);
  }

  setGate(gate: OutboundGate | undefined): void {
    this.gate = gate;
  }

  /**
   * Sends a stanza whose serialization the caller already has (a fan-out that serializes a
   * stanza once for many recipients, e.g. a groupchat message). `xml` must be exactly
   * stanza.toString(); the element is kept for stream management and gates.
   */
  sendSerialized(stanza: Element, xml: string): void {
    if (this.gate && !this.ended && !this.gate.admit(stanza)) return;
    this.deliver(stanza, xml);
  }

  /** Sends past any gate, or keeps it for a hibernating client (counted and acked, XEP-0198). */
  sendNow(stanza: Element): void {
    this.deliver(stanza, undefined);
  }

  private deliver(stanza: Element, xml: string | undefined): void {
    if (this.ended) {
      if (this.env.log.isEnabled('debug'))
        this.log.debug('stanza for an ended session dropped', { to: stanza.attrs.to });
      return;
    }
    const sm = this.sm;
    if (sm) {
      sm.countOutbound(stanza);
      if (sm.pending > this.options.maxUnacked) {
        this.log.warn('client does not acknowledge stanzas; ending the session', { pending: sm.pending });
        this.close(new StreamError('resource-constraint', 'too many unacknowledged stanzas'));
        return;
      }
    }
    if (!this.current) return;
    this.current.writeRaw(xml ?? stanza.toString());
    if (sm) this.requestAck();
  }

  /** A whitespace keepalive (RFC 6120 §4.6.1), for idle NAT mappings. */
  keepalive(): void {
    this.current?.writeRaw(' ');
  }

  /** Ends the session: through its connection when it has one, at once when it hibernates. */
  close(error?: StreamError): void {
    if (this.current) this.current.close(error);
    else this.end(error ? `closed: ${error.condition}` : 'closed');
  }

  // ---- XEP-0198 ----

  /** Handles <enable/>: returns the <enabled/> (or <failed/>) element to send. */
  enableStreamManagement(request: Element): Element {
    if (this.sm) {
      return x('failed', { xmlns: NS.SM }, x('unexpected-request', { xmlns: NS.STANZAS_ERROR }));
    }
    const wantsResume = request.attrs.resume === 'true' || request.attrs.resume === '1';
    const offersResume = wantsResume && this.options.resumptionTimeoutMs > 0;
    const id = offersResume ? randomId(18) : undefined;
    this.sm = new StreamManagement(id);
    if (id === undefined) return x('enabled', { xmlns: NS.SM });
    this.env.resumable.set(id, this);
    const max = Math.round(this.options.resumptionTimeoutMs / 1000);
    return x('enabled', { xmlns: NS.SM, id, resume: 'true', max });
  }

  /** Handles <a h=…/> from the client. */
  acknowledge(h: number): void {
    if (!this.sm) return;
    this.ackRequested = false;
    const result = this.sm.acknowledge(h);
    if (!result.ok) this.close(handledCountTooHigh(result.h, result.sendCount));
    else if (this.sm.pending === 0) this.answered = undefined;
  }

  /**
   * The client answered an iq (a result or error it sent). Remembered while requests are
   * unacknowledged, so that a session ending before its ack does not also bounce them.
   */
  noteAnswer(reply: Element): void {
    if (!this.sm || this.sm.pending === 0) return;
    this.answered ??= new Set();
    this.answered.add(`${reply.attrs.to ?? ''} ${reply.attrs.id ?? ''}`);
  }

  /** Handles <r/> from the client: answer with what we have handled. */
  answerAckRequest(): void {
    if (this.sm) this.current?.writeRaw(`<a xmlns='${NS.SM}' h='${this.sm.handled}'/>`);
  }

  /** Asks for an acknowledgement once per burst of stanzas: at the end of the current tick. */
  private requestAck(): void {
    if (this.ackRequested || this.ackScheduled) return;
    this.ackScheduled = true;
    process.nextTick(() => {
      this.ackScheduled = false;
      if (!this.current || !this.sm || this.sm.pending === 0) return;
      this.ackRequested = true;
      this.current.writeRaw(`<r xmlns='${NS.SM}'/>`);
    });
  }

  // ---- the connection comes and goes ----

  /**
   * The connection ended cleanly (the client's </stream:stream>, or a stream error or close
   * of ours): the session ends with it (XEP-0198 §7).
   */
  connectionClosed(reason: string | undefined): void {
    this.current = undefined;
    this.end(reason);
  }

  /** The connection vanished without a clean close: hibernate when resumable, else end. */
  connectionLost(): void {
    if (this.ended) return;
    this.last = snapshot(this.current ?? this.last);
    this.current = undefined;
    if (!this.sm?.resumable) {
      this.end('connection lost');
      return;
    }
    this.ackRequested = false;
    this.log.info('connection lost; waiting for the client to resume', {
      seconds: this.options.resumptionTimeoutMs / 1000,
    });
    this.hibernation = setTimeout(() => this.end('not resumed in time'), this.options.resumptionTimeoutMs);
    this.hibernation.unref();
  }

  /**
   * Takes the session over onto a new connection (XEP-0198 §5): acknowledges what the client
   * says it received, then sends what it did not. Returns false when `h` is impossible.
   */
  resume(connection: ClientConnection, h: number): boolean {
    const sm = this.sm!;
    const result = sm.acknowledge(h);
    if (!result.ok) {
      connection.close(handledCountTooHigh(result.h, result.sendCount));
      return false;
    }
    clearTimeout(this.hibernation);
    this.hibernation = undefined;
    const previous = this.current;
    this.current = connection;
    this.last = connection;
    // The old connection may not know yet that its client moved on (§5: conflict).
    previous?.close(new StreamError('conflict', 'the session was resumed on another connection'));
    connection.writeRaw(`<resumed xmlns='${NS.SM}' h='${sm.handled}' previd='${sm.resumeId}'/>`);
    for (const { stanza } of sm.pendingStanzas()) connection.writeRaw(stanza.toString());
    this.ackRequested = false;
    if (sm.pending > 0) this.requestAck();
    this.log.info('session resumed', { ip: connection.remoteAddress, resent: sm.pending });
    void this.server.hooks.notify('session/resumed', { session: this });
    return true;
  }

  /** Ends the session for good: unbinds it, tells the modules, settles what was unacked. */
  private end(reason: string | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.hibernation);
    if (this.sm?.resumeId !== undefined) this.env.resumable.delete(this.sm.resumeId);
    this.server.sessions.unbind(this);
    void this.server.hooks.notify('session/closed', { session: this, error: reason });
    this.presence = undefined;
    this.settleUnacked();
  }

  /**
   * XEP-0198 §4: unacknowledged stanzas are treated as if sent to an unavailable resource.
   * Messages go where the router sends a message for an account without this resource
   * (another resource, or offline storage); requests are answered with an error.
   */
  private settleUnacked(): void {
    const left = this.sm?.drain() ?? [];
    for (const { stanza } of left) {
      if (stanza.name === 'message') this.rerouteMessage(stanza);
      else if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
        if (this.answered?.has(`${stanza.attrs.from ?? ''} ${stanza.attrs.id ?? ''}`)) continue;
        this.server.router.bounce(stanza, new StanzaError('service-unavailable'));
      }
    }
    if (left.length > 0) this.log.info('unacknowledged stanzas handed back', { count: left.length });
  }

  private rerouteMessage(stanza: Element): void {
    const type = stanza.attrs.type ?? 'normal';
    if (type !== 'chat' && type !== 'normal') return;
    // Copies made for this resource (carbons and the like) come from the account itself;
    // the original went elsewhere already.
    const from = stanza.attrs.from;
    if (from === this.jid.bare || from === this.host) return;
    this.server.router.redeliver(stanza);
  }
}

function snapshot(c: { secure: boolean; remoteAddress: string; lastActivity: number }) {
  return { secure: c.secure, remoteAddress: c.remoteAddress, lastActivity: c.lastActivity };
}

/** XEP-0198 §6: the client acknowledged more than it was sent. */
function handledCountTooHigh(h: number, sendCount: number): StreamError {
  return new StreamError('undefined-condition', `you acknowledged ${h} stanzas, but were sent ${sendCount}`, {
    appCondition: x('handled-count-too-high', { xmlns: NS.SM, h, 'send-count': sendCount }),
  });
}
