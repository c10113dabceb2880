// What the server says about itself in service discovery (XEP-0030): its identities and
// features, contributed by the modules that implement them, the XEP-0128 forms that extend
// them, and the services it hosts.
// Kept in the core so that modules add to it without knowing the disco module.

import type { Element } from '../xml/element.js';

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  name?: string;
}

/** A counted set: two modules may declare one feature; it stays until both are unloaded. */
class CountedSet<T> {
  private readonly counts = new Map<T, number>();
  add(value: T): () => void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
    return () => {
      const n = (this.counts.get(value) ?? 0) - 1;
      if (n <= 0) this.counts.delete(value);
      else this.counts.set(value, n);
    };
  }
  values(): T[] {
    return [...this.counts.keys()];
  }
}

/** Builds a XEP-0128 extended-information form (a jabber:x:data element) for a host. */
export type DiscoExtension = (host: string) => Element | undefined;

export class DiscoRegistry {
  private readonly extensions = new Set<DiscoExtension>();
  private readonly features = new CountedSet<string>();
  private readonly accountFeatureSet = new CountedSet<string>();
  private readonly identities = new CountedSet<string>();
  private readonly items = new Map<string, DiscoItem>();

  addFeature(ns: string): () => void {
    return this.features.add(ns);
  }

  /** A feature of every account's bare JID (XEP-0030 §3.1 on the account's behalf: MAM, PEP…). */
  addAccountFeature(ns: string): () => void {
    return this.accountFeatureSet.add(ns);
  }

  addIdentity(identity: Identity): () => void {
    return this.identities.add(JSON.stringify([identity.category, identity.type, identity.name ?? '']));
  }

  /** An item listed in the disco#items of the host it belongs to (a component, MUC…). */
  addItem(item: DiscoItem): () => void {
    this.items.set(item.jid, item);
    return () => {
      if (this.items.get(item.jid) === item) this.items.delete(item.jid);
    };
  }

  /** A XEP-0128 form added to the server's disco#info (contact addresses, for instance). */
  addExtension(extension: DiscoExtension): () => void {
    this.extensions.add(extension);
    return () => this.extensions.delete(extension);
  }

  serverExtensions(host: string): Element[] {
    const out: Element[] = [];
    for (const extension of this.extensions) {
      const form = extension(host);
      if (form) out.push(form);
    }
    return out;
  }

  serverFeatures(): string[] {
    return this.features.values().sort();
  }

  accountFeatures(): string[] {
    return this.accountFeatureSet.values().sort();
  }

  serverIdentities(): Identity[] {
    return this.identities.values().map((s) => {
      const [category, type, name] = JSON.parse(s) as [string, string, string];
      return name ? { category, type, name } : { category, type };
    });
  }

  /** Items for a host: those at the host's subdomains and those registered with the exact host. */
  itemsFor(host: string): DiscoItem[] {
    const suffix = '.' + host;
    return [...this.items.values()].filter((item) => {
      const domain = item.jid.includes('@') ? item.jid.slice(item.jid.indexOf('@') + 1) : item.jid;
      return domain === host || domain.endsWith(suffix);
    });
  }
}
