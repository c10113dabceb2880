// Who an entity is to an account's PEP service, gathered for the access rules of access.ts:
// the owner, or a contact with a subscription and groups in the owner's roster (RFC 6121,
// through the roster service), and the affiliations the owner granted on a node. One
// instance serves one operation (a publication's recipients, a login's last items), so each
// contact's roster item and each node's affiliations are read once.

import type { RosterService } from '../../src/im/roster-service.js';
import { type JID, parseJID } from '../../src/jid.js';
import { type Access, access, type GrantedAffiliation, type Requester } from './access.js';
import type { NodeConfig } from './config.js';
import type { PepStore } from './store.js';

const OWNER: Requester = Object.freeze({
  owner: true,
  subscription: 'both',
  groups: Object.freeze([]),
  affiliation: undefined,
});

export class Relations {
  private readonly rosterItems = new Map<string, Promise<Omit<Requester, 'affiliation'>>>();
  private readonly affiliations = new Map<string, Promise<Map<string, GrantedAffiliation>>>();

  constructor(
    private readonly owner: JID,
    private readonly store: PepStore,
    private readonly roster: RosterService | undefined,
  ) {}

  /** Who `bare` (a bare JID) is, on `node`. */
  async requester(bare: string, node: string | undefined): Promise<Requester> {
    if (bare === this.owner.bare) return OWNER;
    const [base, affiliation] = await Promise.all([
      this.contact(bare),
      node === undefined ? undefined : this.affiliationsOf(node).then((m) => m.get(bare)),
    ]);
    return { ...base, affiliation };
  }

  async access(bare: string, node: string, config: NodeConfig): Promise<Access> {
    return access(config, await this.requester(bare, node));
  }

  async allowed(bare: string, node: string, config: NodeConfig): Promise<boolean> {
    return (await this.access(bare, node, config)).allowed;
  }

  private contact(bare: string): Promise<Omit<Requester, 'affiliation'>> {
    let pending = this.rosterItems.get(bare);
    if (pending === undefined) {
      pending = this.readRoster(bare);
      this.rosterItems.set(bare, pending);
    }
    return pending;
  }

  private async readRoster(bare: string): Promise<Omit<Requester, 'affiliation'>> {
    const item = await this.roster?.getItem(this.owner, parseJID(bare));
    return { owner: false, subscription: item?.subscription ?? 'none', groups: item?.groups ?? [] };
  }

  private affiliationsOf(node: string): Promise<Map<string, GrantedAffiliation>> {
    let pending = this.affiliations.get(node);
    if (pending === undefined) {
      pending = this.store.affiliations(this.owner, node);
      this.affiliations.set(node, pending);
    }
    return pending;
  }
}
