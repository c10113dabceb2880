// XEP-0191: Blocking Command — the blocklists in memory. Every routed stanza asks whether its
// sender or recipient blocks the other, so the answer must cost no query:
//   - an index of the accounts that block anything (loaded at start, kept current by every
//     change) makes "blocks nothing", by far the common case, one Set lookup;
//   - the lists of accounts with a bound session stay loaded while they are online;
//   - lists of offline accounts (stanzas to them still need the answer: offline messages,
//     subscription requests) are loaded on demand and kept in a small LRU.

import type { JID } from '../../src/jid.js';
import { Blocklist } from './blocklist.js';
import type { BlocklistStore } from './store.js';

export class BlocklistCache {
  /** Bare JIDs of the accounts whose blocklist is not empty. */
  private readonly blocking = new Set<string>();
  /** Bare JIDs of the accounts with at least one bound session. */
  private readonly onlineAccounts = new Set<string>();
  private readonly online = new Map<string, Blocklist>();
  /** Offline accounts' lists, least recently used first. */
  private readonly recent = new Map<string, Blocklist>();
  private readonly loading = new Map<string, Promise<Blocklist | undefined>>();

  constructor(
    private readonly store: BlocklistStore,
    private readonly recentCapacity: number,
  ) {}

  /** Reads the index of accounts that block anything. */
  async init(): Promise<void> {
    for (const { host, username } of await this.store.accounts()) this.blocking.add(`${username}@${host}`);
  }

  /**
   * The blocklist of `account` (any form of its JID), undefined when it blocks nothing.
   * A promise only while the list is being read from the store.
   */
  get(account: JID): Blocklist | undefined | Promise<Blocklist | undefined> {
    const key = account.bare;
    if (!this.blocking.has(key)) return undefined;
    const list = this.online.get(key);
    if (list !== undefined) return list;
    const recent = this.recent.get(key);
    if (recent !== undefined) {
      this.recent.delete(key);
      this.recent.set(key, recent);
      return recent;
    }
    return this.load(account);
  }

  /**
   * The account has a bound session: keep its list in memory until it has none. The list is
   * read afresh at the first login (the returned promise), which also heals an entry left
   * stale by a change made outside this process (an account deleted and created again by
   * the CLI while the server ran).
   */
  accountOnline(account: JID): Promise<Blocklist | undefined> | undefined {
    const key = account.bare;
    if (this.onlineAccounts.has(key)) return undefined;
    this.onlineAccounts.add(key);
    if (!this.blocking.has(key)) return undefined;
    this.recent.delete(key);
    return this.load(account);
  }

  /** The account's last session is gone: its list joins the LRU. */
  accountOffline(account: JID): void {
    const key = account.bare;
    if (!this.onlineAccounts.delete(key)) return;
    const list = this.online.get(key);
    if (list === undefined) return;
    this.online.delete(key);
    this.remember(key, list);
  }

  /** The account's list after a change (committed to the store). */
  replace(account: JID, entries: readonly string[]): Blocklist | undefined {
    // A read still under way started before the change and must not overwrite it.
    this.loading.delete(account.bare);
    return this.put(account.bare, entries.length === 0 ? undefined : new Blocklist(entries));
  }

  /** Forgets the account (deleted: its rows went with it). */
  forget(account: JID): void {
    const key = account.bare;
    this.loading.delete(key);
    this.blocking.delete(key);
    this.online.delete(key);
    this.recent.delete(key);
  }

  /** Reads the list from the store, once however many stanzas ask meanwhile. */
  load(account: JID): Promise<Blocklist | undefined> {
    const key = account.bare;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const read: Promise<Blocklist | undefined> = this.store.list(account.domain, account.local).then(
      (entries) => {
        // Superseded by a change or a deletion while reading: what is cached now is newer.
        if (this.loading.get(key) !== read) return this.peek(key);
        this.loading.delete(key);
        return this.put(key, entries.length === 0 ? undefined : new Blocklist(entries));
      },
      (err: unknown) => {
        if (this.loading.get(key) === read) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, read);
    return read;
  }

  private peek(key: string): Blocklist | undefined {
    return this.online.get(key) ?? this.recent.get(key);
  }

  private put(key: string, list: Blocklist | undefined): Blocklist | undefined {
    if (list === undefined) {
      this.blocking.delete(key);
      this.online.delete(key);
      this.recent.delete(key);
      return undefined;
    }
    this.blocking.add(key);
    if (this.onlineAccounts.has(key)) this.online.set(key, list);
    else this.remember(key, list);
    return list;
  }

  private remember(key: string, list: Blocklist): void {
    this.recent.delete(key);
    this.recent.set(key, list);
    if (this.recent.size > this.recentCapacity) {
      const oldest = this.recent.keys().next().value as string;
      this.recent.delete(oldest);
    }
  }
}
