// XEP-0402 §5.3: one account's bookmarks in three places kept in step — the native
// 'urn:xmpp:bookmarks:1' node (the reference), the XEP-0048 <storage/> in private storage
// (XEP-0049, "#compat") and the XEP-0048 'storage:bookmarks' PEP node (XEP-0223,
// "#compat-pep"). Whichever a client writes, the other two follow:
//
//   native node changed by a client   → private storage and the legacy node rewritten
//   private storage set by a client   → native node diffed (convert.ts), legacy node rewritten
//   legacy node published by a client → native node diffed, private storage rewritten
//
// URL bookmarks, which XEP-0402 has no place for, are not carried over: private storage and the
// legacy node each keep their own.
// Changes this module makes carry its cause, so that its own listeners let them pass; each
// account's changes are applied one after the other.

import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { PrivateStorageService } from '../0049-private/service.js';
import type { NodeConfig } from '../0163-pep/config.js';
import type { PepChange, PepService } from '../0163-pep/service.js';
import { type Bookmark, diff, fromLegacy, fromNative, toLegacy, toNative } from './convert.js';

export const CAUSE = 'bookmarks';
/** The legacy node holds one item (XEP-0048 §3). */
const LEGACY_ITEM = 'current';

/** XEP-0402 §4.2's publish-options: private, every bookmark kept, nothing pushed at login. */
export const NATIVE_CONFIG: Partial<NodeConfig> = Object.freeze({
  accessModel: 'whitelist',
  persistItems: true,
  maxItems: 'max',
  sendLastPublishedItem: 'never',
});

/** XEP-0223 §3: private and persistent. */
export const LEGACY_CONFIG: Partial<NodeConfig> = Object.freeze({
  accessModel: 'whitelist',
  persistItems: true,
});

export class BookmarkSync {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly pep: PepService,
    private readonly privateStorage: PrivateStorageService | undefined,
    private readonly log: Logger,
  ) {}

  /** A client changed the native node. */
  nativeChanged(change: PepChange): Promise<void> {
    if (change.cause === CAUSE) return Promise.resolve();
    return this.serially(change.owner, async () => {
      const bookmarks = [...(await this.native(change.owner)).values()];
      await this.writePrivate(change.owner, bookmarks);
      await this.writeLegacyNode(change.owner, bookmarks);
    });
  }

  /** A client stored XEP-0048 bookmarks in private storage. */
  privateChanged(account: JID, storage: Element | undefined): Promise<void> {
    return this.serially(account, async () => {
      const all = await this.adopt(account, fromLegacy(storage).bookmarks);
      await this.writeLegacyNode(account, all);
    });
  }

  /** A client published to the legacy PEP node (retractions there are not taken as removals). */
  legacyChanged(change: PepChange): Promise<void> {
    if (change.cause === CAUSE || change.kind !== 'publish') return Promise.resolve();
    const storage = change.item.payload;
    if (storage.localName !== 'storage' || storage.getNS() !== NS.STORAGE_BOOKMARKS) return Promise.resolve();
    return this.serially(change.owner, async () => {
      const all = await this.adopt(change.owner, fromLegacy(storage).bookmarks);
      await this.writePrivate(change.owner, all);
    });
  }

  /**
   * Bookmarks kept only in the legacy places (from before this module, or written while it was
   * not loaded) move into a native node that does not exist yet.
   */
  migrate(account: JID): Promise<void> {
    return this.serially(account, async () => {
      if ((await this.pep.config(account, NS.BOOKMARKS)) !== undefined) return;
      let { bookmarks } = fromLegacy(
        await this.privateStorage?.get(account, NS.STORAGE_BOOKMARKS, 'storage'),
      );
      if (bookmarks.length === 0) {
        const [legacy] = await this.pep.items(account, NS.STORAGE_BOOKMARKS);
        bookmarks = fromLegacy(legacy?.payload).bookmarks;
      }
      if (bookmarks.length > 0) await this.adopt(account, bookmarks);
    });
  }

  /** Makes the native node hold exactly `wanted`; returns what it then holds. */
  private async adopt(account: JID, wanted: readonly Bookmark[]): Promise<Bookmark[]> {
    const current = await this.native(account);
    const { publish, retract } = diff(current, wanted);
    for (const b of publish) {
      await this.pep.publish(
        account,
        NS.BOOKMARKS,
        { id: b.jid, payload: toNative(b) },
        { create: NATIVE_CONFIG, cause: CAUSE },
      );
      current.set(b.jid, b);
    }
    if (retract.length > 0) await this.pep.retract(account, NS.BOOKMARKS, retract, { cause: CAUSE });
    for (const jid of retract) current.delete(jid);
    return [...current.values()];
  }

  private async native(account: JID): Promise<Map<string, Bookmark>> {
    const out = new Map<string, Bookmark>();
    for (const item of await this.pep.items(account, NS.BOOKMARKS)) {
      const { payload } = item;
      if (payload.localName === 'conference' && payload.getNS() === NS.BOOKMARKS) {
        out.set(item.id, fromNative(item.id, payload));
      }
    }
    return out;
  }

  /** Rewrites the bookmarks in private storage, keeping what else its <storage/> holds. */
  private async writePrivate(account: JID, bookmarks: readonly Bookmark[]): Promise<void> {
    if (this.privateStorage === undefined) return;
    const before = await this.privateStorage.get(account, NS.STORAGE_BOOKMARKS, 'storage');
    await this.privateStorage.put(account, toLegacy(bookmarks, fromLegacy(before).others));
  }

  /** Republishes the legacy node's one item, keeping what else its <storage/> holds. */
  private async writeLegacyNode(account: JID, bookmarks: readonly Bookmark[]): Promise<void> {
    const [before] = await this.pep.items(account, NS.STORAGE_BOOKMARKS);
    const storage = toLegacy(bookmarks, fromLegacy(before?.payload).others);
    await this.pep.publish(
      account,
      NS.STORAGE_BOOKMARKS,
      { id: LEGACY_ITEM, payload: storage },
      { create: LEGACY_CONFIG, cause: CAUSE },
    );
  }

  /** Runs `work` after the account's earlier work; a failure is logged, never passed on. */
  private serially(account: JID, work: () => Promise<void>): Promise<void> {
    const before = this.queues.get(account.bare) ?? Promise.resolve();
    const next = before.then(work).catch((error: unknown) => {
      this.log.error('keeping bookmarks in step failed', { account: account.bare, error });
    });
    this.queues.set(account.bare, next);
    void next.then(() => {
      if (this.queues.get(account.bare) === next) this.queues.delete(account.bare);
    });
    return next;
  }
}
