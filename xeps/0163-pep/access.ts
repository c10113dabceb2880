// XEP-0060 §4.5 (node access models) and §6.5.9 (the errors of refused access), as a PEP
// service applies them (XEP-0163 §4: the owner always has access; a contact's access follows
// its presence subscription and roster groups). Pure: the caller gathers who is asking.

import type { Subscription } from '../../src/im/roster-service.js';
import type { NodeConfig } from './config.js';
import type { PubsubCondition } from './errors.js';

/** Affiliations the owner grants others (§4.1): members pass a whitelist, outcasts are shut out. */
export type GrantedAffiliation = 'member' | 'outcast';

/** Who asks, as far as access goes. */
export interface Requester {
  /** One of the account owner's own resources (or the account itself). */
  readonly owner: boolean;
  /** The requester's presence subscription in the owner's roster ('none' when not in it). */
  readonly subscription: Subscription;
  /** The roster groups the owner put the requester in. */
  readonly groups: readonly string[];
  readonly affiliation: GrantedAffiliation | undefined;
}

export type Access =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly condition: 'forbidden' | 'not-authorized' | 'not-allowed';
      readonly app: PubsubCondition | undefined;
    };

const ALLOWED: Access = Object.freeze({ allowed: true });

/** Whether the requester may retrieve items from (or subscribe to) a node so configured. */
export function access(config: NodeConfig, requester: Requester): Access {
  if (requester.owner) return ALLOWED;
  // §6.5.9.10: blocked.
  if (requester.affiliation === 'outcast') return { allowed: false, condition: 'forbidden', app: undefined };
  if (requester.affiliation === 'member') return ALLOWED;
  const subscribed = requester.subscription === 'from' || requester.subscription === 'both';
  switch (config.accessModel) {
    case 'open':
      return ALLOWED;
    case 'presence':
      // §6.5.9.6
      return subscribed
        ? ALLOWED
        : { allowed: false, condition: 'not-authorized', app: 'presence-subscription-required' };
    case 'roster':
      // §6.5.9.7: subscribed to the owner's presence and in one of the allowed groups.
      return subscribed && requester.groups.some((g) => config.rosterGroupsAllowed.includes(g))
        ? ALLOWED
        : { allowed: false, condition: 'not-authorized', app: 'not-in-roster-group' };
    case 'whitelist':
      // §6.5.9.8: only the owner and members.
      return { allowed: false, condition: 'not-allowed', app: 'closed-node' };
  }
}

/** A requester with no relationship to the owner. */
export const STRANGER: Requester = Object.freeze({
  owner: false,
  subscription: 'none',
  groups: Object.freeze([]),
  affiliation: undefined,
});
