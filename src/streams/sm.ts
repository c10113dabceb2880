// XEP-0198 Stream Management: the counters and the queue of unacknowledged stanzas of one
// session, as a pure unit (no sockets, no timers). https://xmpp.org/extensions/xep-0198.html
// §4 (acks: 'h' counts handled stanzas and wraps from 2^32-1 to 0), §5 (resumption: the
// unacknowledged stanzas are sent again), §6 (an 'h' above what was sent is an error).

import type { Element } from '../xml/element.js';

/** 2^32: counters are xs:unsignedInt and wrap (§4). */
const WRAP = 0x1_0000_0000;

/** An outbound stanza waiting for the client's acknowledgement. */
export interface Unacked {
  stanza: Element;
  /** When it was first sent, for the delay stamp of a stanza that ends up in offline storage. */
  sentAt: Date;
}

export type AckResult =
  | { ok: true; acknowledged: number }
  /** The client acknowledged more than it was sent: a stream error (XEP-0198 §6). */
  | { ok: false; h: number; sendCount: number };

export class StreamManagement {
  /** Stanzas received from the client and handled, modulo 2^32 (the 'h' we report). */
  private inbound = 0;
  /** Stanzas sent to the client since enabling, modulo 2^32. */
  private outbound = 0;
  /** The stanzas sent and not yet acknowledged, oldest first. */
  private readonly unacked: Unacked[] = [];

  constructor(
    /** The SM-ID, when the session may be resumed. */
    readonly resumeId: string | undefined,
  ) {}

  get resumable(): boolean {
    return this.resumeId !== undefined;
  }

  /** How many stanzas were handled: the value of 'h' in our <a/> and <resumed/>. */
  get handled(): number {
    return this.inbound;
  }

  get sent(): number {
    return this.outbound;
  }

  get pending(): number {
    return this.unacked.length;
  }

  /** A stanza from the client was handled. */
  countInbound(): void {
    this.inbound = (this.inbound + 1) % WRAP;
  }

  /** A stanza is being sent to the client (or queued for it while it is away). */
  countOutbound(stanza: Element): void {
    this.outbound = (this.outbound + 1) % WRAP;
    this.unacked.push({ stanza, sentAt: new Date() });
  }

  /**
   * The client says it has handled `h` stanzas in all: drops those from the queue. The
   * arithmetic is modulo 2^32, so it keeps working after the counters wrap.
   */
  acknowledge(h: number): AckResult {
    // Stanzas are numbered from 1; those up to `alreadyAcked` left the queue earlier, so h
    // acknowledges the next (h - alreadyAcked) of it. An h below alreadyAcked wraps to a huge
    // number and is refused like one above what was sent.
    const alreadyAcked = (this.outbound - this.unacked.length + WRAP) % WRAP;
    const acknowledged = (h - alreadyAcked + WRAP) % WRAP;
    if (acknowledged > this.unacked.length) return { ok: false, h, sendCount: this.outbound };
    this.unacked.splice(0, acknowledged);
    return { ok: true, acknowledged };
  }

  /** The stanzas still unacknowledged, oldest first (to resend after resumption). */
  pendingStanzas(): readonly Unacked[] {
    return this.unacked;
  }

  /** Takes every unacknowledged stanza out of the queue (when the session ends for good). */
  drain(): Unacked[] {
    return this.unacked.splice(0);
  }
}

/** Parses an 'h' attribute: an xs:unsignedInt, or undefined when it is not one. */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const h = Number(value);
  return h < WRAP ? h : undefined;
}
