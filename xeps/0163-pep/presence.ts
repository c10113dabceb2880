// XEP-0163 §4.3 (notifications follow presence) and §4.3.2 (the last item on initial
// presence): which resources each account's PEP service knows to be available — its own
// and its contacts' — and which nodes each wants notifications for (XEP-0060 §9.2, from
// their caps). Pure state: the module feeds it presence and resolved caps.
//
// An entry is replaced, never edited, when its caps change, so that work started for an old
// presence (a disco#info query in flight) can tell it is stale: it holds an entry that is no
// longer current.

export interface TrackedResource {
  /** The full JID of the resource. */
  readonly jid: string;
  /** What identifies its caps ('' when its presence had none). */
  readonly caps: string;
  /** The NodeIDs it wants notifications for; undefined until its first caps are resolved. */
  interests: ReadonlySet<string> | undefined;
}

export type Arrival =
  /** The resource was not known to be available: initial presence, as far as this service goes. */
  | { kind: 'initial'; entry: TrackedResource }
  /** An available resource announced other caps. */
  | { kind: 'caps-changed'; entry: TrackedResource; previous: TrackedResource }
  /** Nothing new (§4.3.2 note: a later presence must not trigger a new notification). */
  | { kind: 'same' };

export class PresenceTracker {
  /** Per account (bare JID): the available resources it knows of, by full JID. */
  private readonly byAccount = new Map<string, Map<string, TrackedResource>>();
  /** Per full JID: the accounts that track it, so that a closed session is forgotten everywhere. */
  private readonly byResource = new Map<string, Set<string>>();

  constructor(private readonly maxPerAccount = 10_000) {}

  /** Available presence from `jid` reached `account`'s service, with caps identified by `caps`. */
  available(account: string, jid: string, caps: string): Arrival {
    let resources = this.byAccount.get(account);
    const previous = resources?.get(jid);
    if (previous !== undefined && previous.caps === caps) return { kind: 'same' };
    if (resources === undefined) {
      resources = new Map();
      this.byAccount.set(account, resources);
    } else if (previous === undefined && resources.size >= this.maxPerAccount) {
      return { kind: 'same' };
    }
    // Until the new caps are resolved, the old interests stand.
    const entry: TrackedResource = { jid, caps, interests: previous?.interests };
    resources.set(jid, entry);
    let accounts = this.byResource.get(jid);
    if (accounts === undefined) {
      accounts = new Set();
      this.byResource.set(jid, accounts);
    }
    accounts.add(account);
    return previous === undefined ? { kind: 'initial', entry } : { kind: 'caps-changed', entry, previous };
  }

  /** Whether `entry` is still what `account` knows of its resource. */
  isCurrent(account: string, entry: TrackedResource): boolean {
    return this.byAccount.get(account)?.get(entry.jid) === entry;
  }

  /** Unavailable presence from `jid` (a full JID; a bare JID means all its resources). */
  unavailable(account: string, jid: string): void {
    const resources = this.byAccount.get(account);
    if (resources === undefined) return;
    if (jid.includes('/')) this.drop(account, resources, jid);
    else
      for (const full of [...resources.keys()]) if (bareOf(full) === jid) this.drop(account, resources, full);
  }

  /** A resource is gone for every account that tracked it (its session closed). */
  gone(jid: string): void {
    const accounts = this.byResource.get(jid);
    if (accounts === undefined) return;
    for (const account of [...accounts]) {
      const resources = this.byAccount.get(account);
      if (resources !== undefined) this.drop(account, resources, jid);
    }
  }

  /** An account is deleted: forget what its service knew. */
  forgetAccount(account: string): void {
    const resources = this.byAccount.get(account);
    if (resources === undefined) return;
    for (const jid of [...resources.keys()]) this.drop(account, resources, jid);
  }

  /** The available resources `account`'s service knows of. */
  resources(account: string): Iterable<TrackedResource> {
    return this.byAccount.get(account)?.values() ?? [];
  }

  get size(): number {
    return this.byResource.size;
  }

  private drop(account: string, resources: Map<string, TrackedResource>, jid: string): void {
    if (!resources.delete(jid)) return;
    if (resources.size === 0) this.byAccount.delete(account);
    const accounts = this.byResource.get(jid);
    accounts?.delete(account);
    if (accounts?.size === 0) this.byResource.delete(jid);
  }
}

/** The bare part of a JID string already prepared (no escaping to undo). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}
