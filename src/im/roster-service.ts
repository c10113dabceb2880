// The roster as other modules see it (blocking, last activity, PEP…): read-only questions
// about subscriptions, answered by the roster module (src/im/) while it is loaded.
// RFC 6121 §2.1.2.5 (subscription states).

import type { JID } from '../jid.js';

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  /** The contact's bare JID. */
  jid: JID;
  name: string | undefined;
  subscription: Subscription;
  /** An outbound subscription request is pending (ask='subscribe'). */
  ask: boolean;
  /** The user pre-approved the contact's subscription (RFC 6121 §3.4). */
  approved: boolean;
  groups: readonly string[];
}

export interface RosterService {
  /** The contact's item in the user's roster (both bare JIDs), if any. */
  getItem(user: JID, contact: JID): Promise<RosterItem | undefined>;
  /** Every item of the user's roster. */
  getItems(user: JID): Promise<RosterItem[]>;
  /** Whether `contact` may see `user`'s presence: subscription 'from' or 'both'. */
  isSubscriber(user: JID, contact: JID): Promise<boolean>;
}

declare module '../core/services.js' {
  interface Services {
    roster: RosterService;
  }
}
