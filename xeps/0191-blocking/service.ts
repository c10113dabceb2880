// What the blocking module tells other modules: whether an account blocks a JID (XEP-0191 §6
// matching), for stanzas that reach a user without being routed — the offline messages and
// subscription requests kept for it — which §3.3 forbids delivering from a blocked JID as much
// as live ones.

import type { JID } from '../../src/jid.js';

export interface BlockingService {
  /** Whether `account` (any form of its JID) blocks `entity`; a promise only while its list loads. */
  blocks(account: JID, entity: JID): boolean | Promise<boolean>;
}

declare module '../../src/core/services.js' {
  interface Services {
    blocking: BlockingService;
  }
}
