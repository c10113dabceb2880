// XEP-0191: Blocking Command — the pure parts: what a blocklist blocks (§6 JID Matching),
// reading the <item/>s of a command (§3.3, §3.4), and whom the user's presence must reach
// when a block starts or ends (§3.3, §3.4).
// https://xmpp.org/extensions/xep-0191.html

import { StanzaError } from '../../src/core/errors.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** One account's blocked JIDs, as prepared JID strings. Immutable: a change makes a new one. */
export class Blocklist {
  private readonly entries: ReadonlySet<string>;

  constructor(entries: Iterable<string>) {
    this.entries = new Set(entries);
  }

  get size(): number {
    return this.entries.size;
  }

  has(entry: string): boolean {
    return this.entries.has(entry);
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.entries.values();
  }

  /**
   * §6: an entry user@domain/resource or domain/resource matches only itself; user@domain
   * matches every resource of the account; domain matches the domain itself and everything
   * at it. At most three set lookups on precomputed strings, since every routed stanza may
   * ask.
   */
  blocks(jid: JID): boolean {
    const entries = this.entries;
    if (entries.has(jid.full)) return true;
    // The bare form: user@domain for user@domain/resource, domain for domain/resource.
    if (jid.resource !== '' && entries.has(jid.bare)) return true;
    return jid.local !== '' && entries.has(jid.domain);
  }
}

/**
 * The JIDs named by the <item jid='…'/> children of <block/> or <unblock/>, prepared and
 * without repeats, in request order. Other children are ignored, for forward compatibility.
 */
export function parseItems(payload: Element): JID[] {
  const seen = new Set<string>();
  const jids: JID[] = [];
  for (const child of payload.children) {
    if (typeof child === 'string' || child.localName !== 'item' || child.getNS() !== NS.BLOCKING) continue;
    const value = child.attrs.jid;
    if (value === undefined) throw new StanzaError('bad-request', 'an <item/> needs a jid attribute');
    const parsed = tryParseJID(value);
    if (!parsed) throw new StanzaError('jid-malformed', `"${value}" is not a valid JID`);
    if (seen.has(parsed.full)) continue;
    seen.add(parsed.full);
    jids.push(parsed);
  }
  return jids;
}

/**
 * Where presence goes when `entries` start or stop being blocked (§3.3, §3.4): only to JIDs
 * allowed to see the user's presence, i.e. covered by a presence subscriber (bare JIDs from
 * the roster). An entry with a resource is addressed itself when its bare JID subscribes; an
 * entry without one reaches every subscriber it matches (a domain covers all its users).
 * Targets that `skip` blocks are left out: for a block, the ones already blocked before; for
 * an unblock, the ones still blocked after.
 */
export function presenceTargets(
  entries: readonly JID[],
  subscribers: readonly JID[],
  skip: Blocklist,
): JID[] {
  const byBare = new Set<string>();
  for (const s of subscribers) byBare.add(s.bare);
  const targets = new Map<string, JID>();
  for (const entry of entries) {
    if (entry.resource !== '') {
      if (byBare.has(entry.bare)) targets.set(entry.full, entry);
    } else if (entry.local !== '') {
      if (byBare.has(entry.bare)) targets.set(entry.bare, entry);
    } else {
      for (const s of subscribers) if (s.domain === entry.domain) targets.set(s.bare, s);
    }
  }
  const out: JID[] = [];
  for (const target of targets.values()) if (!skip.blocks(target)) out.push(target);
  return out;
}
