// Delivering stored messages (XEP-0160 §2, step 5): to the resource that has just sent
// available presence with a non-negative priority, oldest first, removing from the store only
// what was handed to a live session. A message from a JID the user has blocked since it was
// stored is dropped instead (XEP-0191 §3.3: nothing from a blocked JID is delivered).

import type { ClientSession } from '../../src/core/session.js';
import type { SessionRegistry } from '../../src/core/sessions.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import type { OfflineStore } from './store.js';

/** Messages read and sent per round trip to the store, so a full queue is never all in memory. */
const BATCH = 100;

/** RFC 6121 §8.5.2.1: only available resources with a non-negative priority receive messages for the bare JID. */
export function takesMessages(session: ClientSession): boolean {
  return session.available && session.priority >= 0;
}

/** Whether `account` blocks `sender` now (XEP-0191); a promise only while that is being read. */
export type BlockCheck = (account: JID, sender: JID) => boolean | Promise<boolean>;

export class OfflineDelivery {
  /**
   * Accounts whose messages are being delivered, and whether another pass was asked for
   * meanwhile (a message stored while the last batch was read would otherwise wait for the
   * next login). One delivery per account at a time, so no message goes out twice.
   */
  private readonly running = new Map<string, boolean>();

  constructor(
    private readonly store: OfflineStore,
    private readonly sessions: SessionRegistry,
    private readonly log: Logger,
    private readonly blocks: BlockCheck = () => false,
  ) {}

  /**
   * Delivers the account's stored messages to `preferred`, or to another resource that takes
   * messages when that one goes away. Never rejects: failures are logged, and whatever was not
   * delivered stays stored.
   */
  async deliver(account: JID, preferred: ClientSession | undefined): Promise<void> {
    const key = account.bare;
    if (this.running.has(key)) {
      this.running.set(key, true);
      return;
    }
    this.running.set(key, false);
    let delivered = 0;
    try {
      for (;;) {
        const batch = await this.store.list(account, BATCH);
        if (batch.length === 0) {
          if (this.running.get(key) !== true) break;
          this.running.set(key, false);
          continue;
        }
        const stanzas: Element[] = [];
        for (const message of batch) {
          const stanza = this.read(message.stanza, message.id);
          if (stanza && !(await this.fromBlocked(account, stanza))) stanzas.push(stanza);
        }
        // Chosen after the last await, so that the session is still there when it is handed them.
        const target = preferred && this.isLive(preferred) ? preferred : this.recipient(account);
        if (!target) break;
        for (const stanza of stanzas) target.send(stanza);
        delivered += await this.store.removeThrough(account, batch[batch.length - 1]!.id);
        preferred = target;
      }
    } catch (err) {
      this.log.error('offline delivery failed', { user: key, error: err });
    } finally {
      this.running.delete(key);
    }
    if (delivered > 0) this.log.debug('offline messages delivered', { user: key, count: delivered });
  }

  /** The resource of the account that stored messages should go to now, if any. */
  recipient(account: JID): ClientSession | undefined {
    let best: ClientSession | undefined;
    for (const session of this.sessions.resources(account)) {
      if (takesMessages(session) && (!best || session.priority > best.priority)) best = session;
    }
    return best;
  }

  private read(text: string, id: number): Element | undefined {
    try {
      return parseStored(text);
    } catch (err) {
      // Kept, it would block the queue for good; it can only come from a damaged database.
      this.log.error('stored offline message does not parse; dropped', { id, error: err });
      return undefined;
    }
  }

  private async fromBlocked(account: JID, message: Element): Promise<boolean> {
    const sender = tryParseJID(message.attrs.from ?? '');
    if (sender === undefined || !(await this.blocks(account, sender))) return false;
    this.log.debug('stored message from a blocked JID dropped', { user: account.bare });
    return true;
  }

  /** Still bound (not closing or replaced) and still taking messages. */
  private isLive(session: ClientSession): boolean {
    return this.sessions.get(session.jid) === session && takesMessages(session);
  }
}
