// The registry of bound client sessions: the one place that answers "where is this JID?".
// A cluster would implement the same questions over a shared bus; the router asks nothing
// else of it.

import type { JID } from '../jid.js';
import type { ClientSession } from './session.js';

export type ResourceConflictPolicy = 'replace' | 'refuse';

export type BindOutcome =
  | { ok: true; replaced: ClientSession | undefined }
  | { ok: false; reason: 'conflict' | 'too-many-resources' };

/**
 * An account's bound resources: the session itself while there is one (most accounts, most of
 * the time: a Map per account costs about 250 bytes), a Map by resource from the second on.
 */
type Resources = ClientSession | Map<string, ClientSession>;

export class SessionRegistry {
  private readonly byBare = new Map<string, Resources>();
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
    const entry = this.byBare.get(full.bare);
    if (entry instanceof Map) return entry.get(full.resource);
    return entry?.jid.resource === full.resource ? entry : undefined;
  }

  /** Every bound resource of an account (empty when none). */
  resources(bare: JID | string): ClientSession[] {
    const entry = this.byBare.get(typeof bare === 'string' ? bare : bare.bare);
    if (entry === undefined) return [];
    return entry instanceof Map ? [...entry.values()] : [entry];
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
    const entry = this.byBare.get(jid.bare);
    const existing = this.get(jid);
    if (existing && this.policy === 'refuse') return { ok: false, reason: 'conflict' };
    const bound = entry === undefined ? 0 : entry instanceof Map ? entry.size : 1;
    if (!existing && bound >= this.maxResources) return { ok: false, reason: 'too-many-resources' };
    if (entry === undefined || entry === existing) {
      this.byBare.set(jid.bare, session);
    } else if (entry instanceof Map) {
      entry.set(jid.resource, session);
    } else {
      this.byBare.set(
        jid.bare,
        new Map([
          [entry.jid.resource, entry],
          [jid.resource, session],
        ]),
      );
    }
    if (!existing) this.count++;
    return { ok: true, replaced: existing };
  }

  /** Whether the resource is taken (used to pick a fresh generated resource). */
  isBound(full: JID): boolean {
    return this.get(full) !== undefined;
  }

  /** Removes the session if it is still the one bound to its JID (a replaced one is not). */
  unbind(session: ClientSession): boolean {
    const { bare, resource } = session.jid;
    const entry = this.byBare.get(bare);
    if (entry === session) {
      this.byBare.delete(bare);
    } else if (entry instanceof Map && entry.get(resource) === session) {
      entry.delete(resource);
      if (entry.size === 1) this.byBare.set(bare, entry.values().next().value!);
    } else {
      return false;
    }
    this.count--;
    return true;
  }

  *all(): IterableIterator<ClientSession> {
    for (const entry of this.byBare.values()) {
      if (entry instanceof Map) yield* entry.values();
      else yield entry;
    }
  }
}
