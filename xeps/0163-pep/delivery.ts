// XEP-0163 §4.3 (who receives a notification) and §4.3.2 (the last published item):
//
//   - the owner's available resources and the contacts' available resources the service
//     knows of (presence.ts), each only for the nodes its caps ask "+notify" for (XEP-0060
//     §9.2), and each contact only where the node's access model lets it in (§4.5);
//   - explicit subscribers (XEP-0060 §6.1), at the JID they subscribed with, unless a resource
//     of theirs got the notification already (XEP-0163 §4.3.1: one notification per resource);
//
// all from the account's bare JID and through the router, so that blocking (XEP-0191, as
// XEP-0163 §4.3.1 requires) and server-to-server delivery apply as to any other stanza.

import { randomBytes } from 'node:crypto';
import type { RosterService } from '../../src/im/roster-service.js';
import { type JID, parseJID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import type { NodeConfig } from './config.js';
import { itemsEvent, notification } from './notifications.js';
import { bareOf, type PresenceTracker } from './presence.js';
import { Relations } from './relations.js';
import type { PepStore } from './store.js';

/** Routes a stanza the server makes; resolves once its fate is settled. */
export type Deliver = (stanza: Element, from: JID, to: JID) => void | Promise<void>;

export class Delivery {
  /** Notification ids: unique per server run (XEP-0060 §12.3), never reused after a restart. */
  private readonly idPrefix = randomBytes(4).toString('hex');
  private ids = 0;

  constructor(
    private readonly store: PepStore,
    private readonly tracker: PresenceTracker,
    private readonly roster: () => RosterService | undefined,
    private readonly deliver: Deliver,
  ) {}

  relations(owner: JID): Relations {
    return new Relations(owner, this.store, this.roster());
  }

  /** Everyone who gets a notification about `node` now (`subscribers`: read already, when deleting). */
  async recipients(
    owner: JID,
    node: string,
    config: NodeConfig,
    subscribers?: readonly string[],
  ): Promise<string[]> {
    if (!config.deliverNotifications) return [];
    const relations = this.relations(owner);
    const out: string[] = [];
    const reached = new Set<string>();
    // A snapshot: presence may change while roster items are read.
    for (const resource of [...this.tracker.resources(owner.bare)]) {
      if (!resource.interests?.has(node)) continue;
      const bare = bareOf(resource.jid);
      if (!(await relations.allowed(bare, node, config))) continue;
      out.push(resource.jid);
      reached.add(bare);
    }
    for (const jid of subscribers ?? (await this.store.subscribers(owner, node))) {
      const bare = bareOf(jid);
      if (jid === bare ? reached.has(bare) : out.includes(jid)) continue;
      if (!(await relations.allowed(bare, node, config))) continue;
      out.push(jid);
    }
    return out;
  }

  /** Sends one <event/> to each recipient. */
  async send(owner: JID, config: NodeConfig, event: Element, recipients: readonly string[]): Promise<void> {
    if (recipients.length === 0) return;
    const pending: Array<Promise<void>> = [];
    for (const to of recipients) {
      const stanza = notification(owner.bare, to, this.nextId(), config.notificationType, event);
      const routed = this.deliver(stanza, owner, parseJID(to));
      if (routed) pending.push(routed);
    }
    await Promise.all(pending);
  }

  /** Notifies whoever should hear of `node` now. */
  async notify(owner: JID, node: string, config: NodeConfig, event: Element): Promise<void> {
    await this.send(owner, config, event, await this.recipients(owner, node, config));
  }

  /**
   * XEP-0163 §4.3.2: the last item of each node in `nodes` (and not in `already`) that `to` may
   * see and that is configured to be sent on presence.
   */
  async lastItems(
    owner: JID,
    to: JID,
    nodes: ReadonlySet<string>,
    already: ReadonlySet<string> | undefined,
  ): Promise<void> {
    const relations = this.relations(owner);
    for (const { node, config } of await this.store.nodes(owner)) {
      if (!nodes.has(node) || already?.has(node)) continue;
      if (config.sendLastPublishedItem !== 'on_sub_and_presence' || !config.deliverNotifications) continue;
      if (!(await relations.allowed(to.bare, node, config))) continue;
      await this.lastItem(owner, node, config, to);
    }
  }

  /** The node's last item to one entity (on presence, or on a new subscription, XEP-0060 §6.1.7). */
  async lastItem(owner: JID, node: string, config: NodeConfig, to: JID): Promise<void> {
    const [last] = await this.store.items(owner, node, { max: 1 });
    if (last === undefined) return;
    const payload = config.deliverPayloads ? parseStored(last.xml) : undefined;
    await this.send(owner, config, itemsEvent(node, last.id, payload), [to.full]);
  }

  private nextId(): string {
    return `pep-${this.idPrefix}-${(++this.ids).toString(36)}`;
  }
}
