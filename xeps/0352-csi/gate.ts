// XEP-0352: Client State Indication — https://xmpp.org/extensions/xep-0352.html
// What an inactive client's session does with what is sent to it (§1 examples, §3 ordering):
// stanzas that may wait are held, each superseding the held one it folds into; an urgent stanza
// first lets everything held go, oldest first, then goes itself, so that the client sees what
// each contact sent in the order it was sent (less what was superseded). A full buffer is let go
// the same way.
//
// Held stanzas were never sent: XEP-0198 counts and queues a stanza when it is let go, not
// before, so acknowledgements and resumption only ever concern what reached the wire.

import type { OutboundGate } from '../../src/core/session.js';
import type { Element } from '../../src/xml/element.js';
import { type HoldPolicy, importance } from './importance.js';

/**
 * Stanzas held back, oldest first. Folding drops the superseded stanza and keeps the newer one
 * at its own (later) place, so that what is let go is always in the order it arrived.
 */
export class HeldStanzas {
  // A Map keeps insertion order; deleting a key and setting it again moves it to the end.
  // Unfolded stanzas get numeric keys, which never equal a string fold key.
  private readonly stanzas = new Map<string | number, Element>();
  private next = 0;

  constructor(
    /** Holding this many lets everything go. */
    readonly limit: number,
  ) {}

  get size(): number {
    return this.stanzas.size;
  }

  /** Holds a stanza; returns true when the buffer is full and should be let go. */
  hold(stanza: Element, fold: string | undefined): boolean {
    if (fold === undefined) {
      this.stanzas.set(this.next++, stanza);
    } else {
      this.stanzas.delete(fold);
      this.stanzas.set(fold, stanza);
    }
    return this.stanzas.size >= this.limit;
  }

  /** Everything held, oldest first; nothing is held afterwards. */
  take(): Element[] {
    const out = Array.from(this.stanzas.values());
    this.stanzas.clear();
    return out;
  }
}

/** Where a gate lets stanzas go: past itself, onto the session's stream. */
export interface Outlet {
  sendNow(stanza: Element): void;
}

/** The gate of one inactive client session. */
export class InactiveGate implements OutboundGate {
  private readonly held: HeldStanzas;

  constructor(
    private readonly outlet: Outlet,
    /** The bare JID of the session's account (carbon copies come from it). */
    private readonly account: string,
    private readonly policy: HoldPolicy,
    limit: number,
  ) {
    this.held = new HeldStanzas(limit);
  }

  /** How many stanzas are held now. */
  get holding(): number {
    return this.held.size;
  }

  admit(stanza: Element): boolean {
    const verdict = importance(stanza, this.account, this.policy);
    if (verdict.urgent) {
      this.release();
      return true;
    }
    if (this.held.hold(stanza, verdict.fold)) this.release();
    return false;
  }

  /** Lets everything held go, oldest first. */
  release(): void {
    if (this.held.size === 0) return;
    for (const stanza of this.held.take()) this.outlet.sendNow(stanza);
  }
}
