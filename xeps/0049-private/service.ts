// What private storage offers other modules: the bookmarks module (XEP-0402 §5.3) keeps the
// XEP-0048 'storage:bookmarks' element here in step with the account's PEP bookmarks, so it
// reads and writes that element and hears when a client stores it.

import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';

/** Told after a client stored an element (undefined: it cleared the key). */
export type PrivateListener = (account: JID, element: Element | undefined) => void | Promise<void>;

export interface PrivateStorageService {
  /** What the account holds under (namespace, local name), if anything. */
  get(account: JID, namespace: string, name: string): Promise<Element | undefined>;
  /**
   * Stores an element on the server's behalf (outside the account's quota: it mirrors data
   * kept elsewhere). Listeners are not told: they made the change.
   */
  put(account: JID, element: Element): Promise<void>;
  /** Listens to clients' sets of one key until the returned function is called. */
  watch(namespace: string, name: string, listener: PrivateListener): () => void;
}

declare module '../../src/core/services.js' {
  interface Services {
    privateStorage: PrivateStorageService;
  }
}
