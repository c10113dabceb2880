// XEP-0163 §4.3 (filtered notifications, auto-subscribe) and §4.3.2 (the last item when a
// resource becomes available): what each account's PEP service learns from the presence
// that reaches it — the account's own resources' broadcast presence, and its contacts'
// presence — and what it does about it.
//
//   available presence, new resource or new caps:
//       from the account's own resources, or from an entity in the owner's roster (whatever
//       the subscription: access is checked for every notification, in delivery.ts, so that a
//       subscription approved later counts at once); not from others — chat room occupants,
//       strangers sending directed presence (XEP-0060 §9.1.3 "presence sharers", a SHOULD left
//       out: they may subscribe explicitly) — so that nobody can make the service remember
//       presence for accounts that do not know them. Its caps are resolved (caps.ts: cache, or
//       a disco#info query from the owner's bare JID, XEP-0163 §4.3.3); then the last item of
//       each node it newly asks "+notify" for goes to that resource, where the node's access
//       model lets it in
//   available presence, same resource and caps: nothing (§4.3.2: no new notification)
//   unavailable presence, or the resource's session closing: forgotten
//
// The work after the presence is asynchronous and never holds the presence up; an entry
// replaced meanwhile (new caps, gone) makes the work for the old one stop.

import type { RosterService } from '../../src/im/roster-service.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import type { Element } from '../../src/xml/element.js';
import { type CapsCache, type CapsRef, readCaps } from './caps.js';
import type { Delivery } from './delivery.js';
import type { Arrival, PresenceTracker } from './presence.js';

const NOTHING: ReadonlySet<string> = new Set();

export class Interests {
  constructor(
    private readonly tracker: PresenceTracker,
    private readonly caps: CapsCache,
    private readonly delivery: Delivery,
    private readonly roster: () => RosterService | undefined,
    private readonly log: Logger,
  ) {}

  /** A presence from `from` reached the service of `owner` (a bare JID). */
  observe(owner: JID, from: JID, presence: Element): void | Promise<void> {
    const type = presence.attrs.type;
    if (type === 'unavailable') {
      this.tracker.unavailable(owner.bare, from.full);
      return;
    }
    if (type !== undefined || from.resource === '') return;
    const caps = readCaps(presence);
    const key = caps === undefined ? '' : `${caps.hash ?? ''} ${caps.ver} ${caps.node}`;
    const arrival = this.tracker.available(owner.bare, from.full, key);
    if (arrival.kind === 'same') return;
    return this.settle(owner, from, caps, arrival).catch((error: unknown) => {
      this.log.error('processing presence for PEP failed', { owner: owner.bare, from: from.full, error });
    });
  }

  private async settle(
    owner: JID,
    from: JID,
    caps: CapsRef | undefined,
    arrival: Exclude<Arrival, { kind: 'same' }>,
  ): Promise<void> {
    const { entry } = arrival;
    // Tracked first and dropped after the look at the roster, so that an unavailable presence
    // arriving meanwhile is not undone.
    if (from.bare !== owner.bare && !(await this.inRoster(owner, from))) {
      if (this.tracker.isCurrent(owner.bare, entry)) this.tracker.unavailable(owner.bare, from.full);
      return;
    }
    if (!this.tracker.isCurrent(owner.bare, entry)) return;
    const interests =
      caps === undefined
        ? NOTHING
        : (this.caps.known(caps) ?? (await this.caps.interests(caps, owner, from)));
    if (!this.tracker.isCurrent(owner.bare, entry)) return;
    entry.interests = interests;
    const before = arrival.kind === 'caps-changed' ? arrival.previous.interests : undefined;
    if (interests.size > 0) await this.delivery.lastItems(owner, from, interests, before);
  }

  /** Whether the entity is in the owner's roster. */
  private async inRoster(owner: JID, contact: JID): Promise<boolean> {
    return (await this.roster()?.getItem(owner, contact.bareJID())) !== undefined;
  }
}
