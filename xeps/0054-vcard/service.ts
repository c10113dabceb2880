// What the vCard module offers other modules: XEP-0398 avatar conversion reads and writes
// vCards on the account's behalf, and hears when a client stores one.

import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';

/** Told after a client stored its vCard (undefined: it removed it). */
export type VCardListener = (account: JID, vCard: Element | undefined) => void | Promise<void>;

export interface VCardService {
  /** The account's vCard, if it has one. */
  get(account: JID): Promise<Element | undefined>;
  /**
   * Stores a vCard on the server's behalf: the photo hash in presence follows (XEP-0153), the
   * listeners are not told (they made the change).
   */
  put(account: JID, vCard: Element): Promise<void>;
  /** Listens to clients' vCard sets until the returned function is called. */
  watch(listener: VCardListener): () => void;
}

declare module '../../src/core/services.js' {
  interface Services {
    vcard: VCardService;
  }
}
