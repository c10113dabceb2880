// XEP-0191: Blocking Command — the user's commands. §3.2 retrieving the blocklist (which
// makes the session "interested": it gets the pushes), §3.3 block, §3.4 unblock, §3.5
// unblock all; each change is committed before it is acknowledged, pushed to every
// interested resource, and followed by the presence the spec asks for: unavailable to
// newly blocked subscribers, the current presence again to unblocked ones.

import { StanzaError } from '../../src/core/errors.js';
import type { IqRequest } from '../../src/core/iq.js';
import type { ServerContext } from '../../src/core/module.js';
import type { ClientSession } from '../../src/core/session.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { Blocklist, parseItems, presenceTargets } from './blocklist.js';
import type { BlocklistCache } from './cache.js';
import type { Enforcement } from './enforcement.js';
import type { BlocklistStore } from './store.js';

const EMPTY = new Blocklist([]);

export class BlocklistCommands {
  /** By account (bare JID): the sessions that retrieved the blocklist (§3.2, §3.3). */
  private readonly interested = new Map<string, Set<ClientSession>>();
  private pushCounter = 0;

  constructor(
    private readonly server: ServerContext,
    private readonly store: BlocklistStore,
    private readonly lists: BlocklistCache,
    private readonly enforcement: Enforcement,
    private readonly maxItems: number,
    private readonly log: Logger,
  ) {}

  /** §3.2. */
  readonly get = async (req: IqRequest): Promise<Element> => {
    const account = ownAccount(req);
    const list = await this.lists.get(account);
    const origin = req.origin;
    // A session that ended while the list was read would never be removed again.
    if (origin?.kind === 'c2s' && this.server.sessions.get((origin as ClientSession).jid) === origin) {
      const session = origin as ClientSession;
      let sessions = this.interested.get(account.bare);
      if (!sessions) {
        sessions = new Set();
        this.interested.set(account.bare, sessions);
      }
      sessions.add(session);
    }
    return x('blocklist', { xmlns: NS.BLOCKING }, list ? items([...list]) : undefined);
  };

  /** §3.3. */
  readonly block = async (req: IqRequest): Promise<undefined> => {
    const account = ownAccount(req);
    const jids = parseItems(req.payload);
    if (jids.length === 0) throw new StanzaError('bad-request', 'a block command names at least one JID');
    const outcome = await this.store.block(
      account.domain,
      account.local,
      jids.map((j) => j.full),
      this.maxItems,
    );
    if (!outcome.ok) {
      throw new StanzaError('not-allowed', `a blocklist holds at most ${this.maxItems} JIDs`);
    }
    this.lists.replace(account, outcome.entries);
    this.push(account, 'block', jids);
    if (outcome.added.length > 0) {
      const added = new Set(outcome.added);
      const before = new Blocklist(outcome.entries.filter((e) => !added.has(e)));
      this.announce(account, outcome.added, before, false);
    }
    return undefined;
  };

  /** §3.4, and §3.5 for an <unblock/> without children. */
  readonly unblock = async (req: IqRequest): Promise<undefined> => {
    const account = ownAccount(req);
    const jids = parseItems(req.payload);
    const all = req.payload.getChildren().length === 0;
    if (jids.length === 0 && !all) {
      throw new StanzaError('bad-request', 'an unblock command holds <item/> elements, or nothing');
    }
    const outcome = all
      ? await this.store.unblockAll(account.domain, account.local)
      : await this.store.unblock(
          account.domain,
          account.local,
          jids.map((j) => j.full),
        );
    const after = this.lists.replace(account, outcome.entries) ?? EMPTY;
    this.push(account, 'unblock', jids);
    if (outcome.removed.length > 0) this.announce(account, outcome.removed, after, true);
    return undefined;
  };

  sessionClosed(session: ClientSession): void {
    const sessions = this.interested.get(session.jid.bare);
    if (!sessions) return;
    sessions.delete(session);
    if (sessions.size === 0) this.interested.delete(session.jid.bare);
  }

  accountDeleted(account: JID): void {
    this.interested.delete(account.bare);
  }

  /** The block or unblock "push" to every interested resource, the requesting one included. */
  private push(account: JID, command: 'block' | 'unblock', jids: readonly JID[]): void {
    const sessions = this.interested.get(account.bare);
    if (!sessions) return;
    for (const session of sessions) {
      session.send(
        x(
          'iq',
          {
            type: 'set',
            id: `blocking-push-${(++this.pushCounter).toString(36)}`,
            from: account.bare,
            to: session.jid.full,
          },
          x(command, { xmlns: NS.BLOCKING }, items(jids.map((j) => j.full))),
        ),
      );
    }
  }

  /** Sends presence for a change without holding up its acknowledgement; failures are logged. */
  private announce(account: JID, entries: readonly string[], skip: Blocklist, available: boolean): void {
    this.sendPresence(account, entries, skip, available).catch((err: unknown) => {
      this.log.error('could not send presence after a blocklist change', {
        account: account.bare,
        error: err,
      });
    });
  }

  /**
   * §3.3: unavailable presence to the newly blocked; §3.4: the current presence to the
   * unblocked — from each available resource, and only to JIDs allowed to see the user's
   * presence (subscribers, from the roster module; without it nobody is).
   */
  private async sendPresence(
    account: JID,
    entries: readonly string[],
    skip: Blocklist,
    available: boolean,
  ): Promise<void> {
    const { sessions, services, router } = this.server;
    const roster = services.get('roster');
    if (!roster || !sessions.resources(account).some((s) => s.available)) return;
    const subscribers: JID[] = [];
    for (const item of await roster.getItems(account)) {
      if (item.subscription === 'from' || item.subscription === 'both') subscribers.push(item.jid);
    }
    const changed: JID[] = [];
    for (const entry of entries) {
      const parsed = tryParseJID(entry);
      if (parsed) changed.push(parsed);
    }
    const targets = presenceTargets(changed, subscribers, skip);
    if (targets.length === 0) return;
    for (const session of sessions.resources(account)) {
      const current = session.presence;
      if (current === undefined) continue;
      for (const target of targets) {
        let presence: Element;
        if (available) {
          presence = current.clone();
        } else {
          presence = x('presence', { type: 'unavailable' });
          // Sent after the block took effect, so it must pass the block's own filter.
          this.enforcement.exempt.add(presence);
        }
        presence.attrs.from = session.jid.full;
        presence.attrs.to = target.full;
        router.send(presence);
      }
    }
  }
}

/** §3.2–§3.5: a user manages only their own blocklist; anyone else sees no such service. */
function ownAccount(req: IqRequest): JID {
  if (req.from.bare !== req.to.bare) throw new StanzaError('service-unavailable');
  return req.to.bareJID();
}

function items(jids: readonly string[]): Element[] {
  return jids.map((jid) => x('item', { jid }));
}
