// What the core knows of a connection once it may carry stanzas. The stream code
// (src/streams/) implements these; the router and modules only see these interfaces.

import type { JID } from '../jid.js';
import type { Logger } from '../log.js';
import type { Element } from '../xml/element.js';
import type { StreamError } from './errors.js';

export interface Session {
  readonly kind: 'c2s' | 's2s' | 'component';
  readonly id: string;
  readonly log: Logger;
  /** Queues a stanza for this connection. Never throws; a closed session drops it with a log line. */
  send(stanza: Element): void;
  /** Closes the stream, with a stream error when given. */
  close(error?: StreamError): void;
}

/**
 * A bound client resource. It usually has a connection; with XEP-0198 resumption it may
 * outlive one for a while (hibernation), still bound and available, its stanzas queued.
 */
export interface ClientSession extends Session {
  readonly kind: 'c2s';
  /** The full JID this session bound. */
  readonly jid: JID;
  readonly host: string;
  readonly secure: boolean;
  readonly remoteAddress: string;
  /**
   * The client's current broadcast presence (RFC 6121 §4.2): undefined until it sends
   * initial presence, and again after it sends unavailable presence.
   */
  presence: Element | undefined;
  /** The priority of `presence` (RFC 6121 §4.7.2.3); 0 when none was given. */
  priority: number;
  /** Whether the session has sent available presence and not since withdrawn it. */
  readonly available: boolean;
  /** When the client last sent anything, in performance.now() milliseconds (monotonic). */
  readonly lastActivity: number;
  /** Whether a connection carries the session now (false while it hibernates). */
  readonly connected: boolean;
  /**
   * Installs (or removes) a gate on what send() passes on: XEP-0352 client state indication
   * holds unimportant stanzas back while the client is inactive. One gate per session.
   */
  setGate(gate: OutboundGate | undefined): void;
  /** Sends past the gate (for the gate's owner, when it lets held stanzas go). */
  sendNow(stanza: Element): void;
  /**
   * Like send(), with the serialization already made: `xml` must equal stanza.toString().
   * For fan-outs that serialize once for many recipients (groupchat).
   */
  sendSerialized(stanza: Element, xml: string): void;
}

export interface OutboundGate {
  /** True to send the stanza now; false when the gate keeps it (and sends it later with sendNow). */
  admit(stanza: Element): boolean;
}
