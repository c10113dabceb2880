// What modules add to the disco answers of accounts beyond plain features (those are in
// DiscoRegistry.addAccountFeature): identities (pubsub/pep, XEP-0163 §6.1), the items of an
// account's disco#items (its PEP nodes, XEP-0060 §5.2), and the disco#info and disco#items of
// those nodes (§5.3, §5.5). Each answer depends on who asks: a node the requester may not
// see is not listed (XEP-0163 §6.2).

import type { Identity } from '../../src/core/disco.js';
import type { JID } from '../../src/jid.js';

/** An item of an account's disco#items: the account itself (or another JID) with a node. */
export interface AccountItem {
  jid: string;
  node?: string;
  name?: string;
}

export interface NodeInfo {
  identities: readonly Identity[];
  features: readonly string[];
}

export interface AccountDiscoProvider {
  /** Identities every account shows on its node-less disco#info. */
  readonly identities?: readonly Identity[];
  /** Items of the account's node-less disco#items that `requester` may see. */
  items?(account: JID, requester: JID): Promise<readonly AccountItem[]>;
  /** The disco#info of one of the account's nodes; undefined when the node is not this provider's. */
  nodeInfo?(account: JID, requester: JID, node: string): Promise<NodeInfo | undefined>;
  /** The disco#items of one of the account's nodes; undefined when the node is not this provider's. */
  nodeItems?(account: JID, requester: JID, node: string): Promise<readonly AccountItem[] | undefined>;
}

export class AccountDisco {
  private readonly providers = new Set<AccountDiscoProvider>();

  /** Adds a provider until the returned function is called (from the provider's onUnload). */
  register(provider: AccountDiscoProvider): () => void {
    this.providers.add(provider);
    return () => this.providers.delete(provider);
  }

  identities(): Identity[] {
    const out: Identity[] = [];
    for (const p of this.providers) if (p.identities) out.push(...p.identities);
    return out;
  }

  async items(account: JID, requester: JID): Promise<AccountItem[]> {
    const out: AccountItem[] = [];
    for (const p of this.providers) if (p.items) out.push(...(await p.items(account, requester)));
    return out;
  }

  async nodeInfo(account: JID, requester: JID, node: string): Promise<NodeInfo | undefined> {
    for (const p of this.providers) {
      const info = await p.nodeInfo?.(account, requester, node);
      if (info) return info;
    }
    return undefined;
  }

  async nodeItems(account: JID, requester: JID, node: string): Promise<readonly AccountItem[] | undefined> {
    for (const p of this.providers) {
      const items = await p.nodeItems?.(account, requester, node);
      if (items) return items;
    }
    return undefined;
  }
}

declare module '../../src/core/services.js' {
  interface Services {
    accountDisco: AccountDisco;
  }
}
