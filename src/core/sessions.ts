// The registry of bound client sessions: the one place that answers "where is this JID?".
// A cluster would implement the same questions over a shared bus; the router asks nothing
// else of it.

import type { JID } from '../jid.js';
import type { ClientSession } from './session.js';

export type ResourceConflictPolicy = 'replace' | 'refuse';

export type BindOutcome =
  | { ok: true; replaced: ClientSession | undefined }
  | { ok: false; reason: 'conflict' | 'too-many-resources' };

export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, ClientSession>>();
  private count = 0;

  constructor(
    private readonly policy: ResourceConflictPolicy,
    private readonly maxResources: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The session bound to exactly this full JID. */
  get(full: JID): ClientSession | undefined {
    return this.byBare.get(full.bare)?.get(full.resource);
  }

  /** Every bound resource of an account (empty when none). */
  resources(bare: JID | string): ClientSession[] {
    const map = this.byBare.get(typeof bare === 'string' ? bare : bare.bare);
    return map ? [...map.values()] : [];
  }

  hasResources(bare: JID): boolean {
    return this.byBare.has(bare.bare);
  }

  /**
   * Decides whether `jid` may be bound now (RFC 6120 §7.7.2.2). With the replace policy an
   * existing session on the same resource is returned so the caller can close it with a
   * <conflict/> stream error; the new session takes its place at once.
   */
  bind(session: ClientSession): BindOutcome {
    const { jid } = session;
    let map = this.byBare.get(jid.bare);
    const existing = map?.get(jid.resource);
    if (existing && this.policy === 'refuse') return { ok: false, reason: 'conflict' };
    if (!existing && map && map.size >= this.maxResources) return { ok: false, reason: 'too-many-resources' };
    if (!map) {
      map = new Map();
      this.byBare.set(jid.bare, map);
    }
    map.set(jid.resource, session);
    if (!existing) this.count++;
    return { ok: true, replaced: existing };
  }

  /** Whether the resource is taken (used to pick a fresh generated resource). */
  isBound(full: JID): boolean {
    return this.byBare.get(full.bare)?.has(full.resource) ?? false;
  }

  /** Removes the session if it is still the one bound to its JID (a replaced one is not). */
  unbind(session: ClientSession): boolean {
    const map = this.byBare.get(session.jid.bare);
    if (!map || map.get(session.jid.resource) !== session) return false;
    map.delete(session.jid.resource);
    this.count--;
    if (map.size === 0) this.byBare.delete(session.jid.bare);
    return true;
  }

  *all(): IterableIterator<ClientSession> {
    for (const map of this.byBare.values()) yield* map.values();
  }
}
