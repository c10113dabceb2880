// RFC 6121 §3: what the server does with subscription stanzas, around the state table of
// subscription.ts — routing and stamping (§3.1.2, §3.1.5, §3.2.2, §3.3.2), delivery and
// auto-replies (§3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4.2), roster pushes, and the presence
// that follows a change (current presence after an approval, unavailable after a
// cancellation). Also the subscriptions that removing a roster item cancels (§2.5.2).
//
// "Outbound" is a stanza a local account's client sends; "inbound" is one for a local
// account, from a local client (after its outbound processing) or, later, another server.

import type { StanzaEvent } from '../core/hooks.js';
import type { Router } from '../core/router.js';
import { type JID, tryParseJID } from '../jid.js';
import { x } from '../xml/element.js';
import type { Presences } from './presence.js';
import type { Rosters } from './rosters.js';
import type { Relation } from './store.js';
import { storedForm } from './stored-stanza.js';
import {
  contactIsSubscribed,
  type InboundOutcome,
  type OutboundOutcome,
  partsOf,
  processInbound,
  processOutbound,
  type Relationship,
  type SubscriptionStanzaType,
  stateOf,
  userIsSubscribed,
} from './subscription.js';

export function isSubscriptionType(type: string | undefined): type is SubscriptionStanzaType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

export interface AccountExistence {
  exists(jid: JID): Promise<boolean>;
}

export class Subscriptions {
  constructor(
    private readonly router: Router,
    private readonly rosters: Rosters,
    private readonly presences: Presences,
    private readonly accounts: AccountExistence,
    private readonly maxItems: number,
  ) {}

  /** A local client's subscription stanza, before routing (A.2). */
  async outbound(event: StanzaEvent, type: SubscriptionStanzaType): Promise<void> {
    const { stanza } = event;
    const user = event.from.bareJID();
    const contact = event.to.bareJID();
    if (contact.bare === user.bare) {
      this.router.bounce(stanza, 'not-allowed', 'an account always has its own presence');
      return;
    }
    let decision: OutboundOutcome | undefined;
    const outcome = await this.rosters.update(user, contact, (relation) => {
      decision = processOutbound(relationshipOf(relation), type);
      return withRelationship(relation, decision.next);
    });
    if (outcome.status !== 'updated') {
      this.router.bounce(
        stanza,
        'policy-violation',
        `the roster is full: it holds at most ${this.maxItems} contacts`,
      );
      return;
    }
    // §3.1.2, §3.1.5, §3.2.2, §3.3.2: stamped with the bare JID, and about the bare JID.
    stanza.attrs.from = user.bare;
    stanza.attrs.to = contact.bare;
    // The RFC pushes after routing; here the push goes first, because routing to a local
    // contact can bring back an answer (an auto-reply, §3.1.3 #2, §3.4) whose own push must
    // follow this one: pushes go out in the order of the changes (§2.6.3).
    this.rosters.announce(user, contact, outcome);
    const before = relationshipOf(outcome.before).state;
    if (decision!.route) {
      if (type === 'unsubscribed' && contactIsSubscribed(before)) {
        // §3.2.2: while the contact still has the subscription, it sees the user leave.
        await this.presences.sendUnavailable(user, contact);
      }
      await this.router.route({ stanza, origin: event.origin, from: user, to: contact });
    }
    if (type === 'subscribed' && decision!.route) {
      // §3.1.5: the newly approved contact gets the user's current presence.
      await this.presences.sendCurrentPresence(user, contact);
    }
  }

  /** A subscription stanza for the local account `event.to` (A.3). */
  async inbound(event: StanzaEvent, type: SubscriptionStanzaType): Promise<void> {
    const { stanza } = event;
    const user = event.to.bareJID();
    const contact = event.from.bareJID();
    if (contact.bare === user.bare) return;
    // §8.5.1: silently ignored for an account that does not exist.
    if (!(await this.accounts.exists(user))) return;
    stanza.attrs.from = contact.bare;
    stanza.attrs.to = user.bare;
    const request = type === 'subscribe' ? storedForm(stanza) : undefined;
    let decision: InboundOutcome | undefined;
    const outcome = await this.rosters.update(user, contact, (relation) => {
      decision = processInbound(relationshipOf(relation), type);
      return withRelationship(relation, decision.next, request);
    });
    if (outcome.status !== 'updated') {
      // §3.1.3 security warning: the requests kept for an account are bounded.
      this.router.bounce(
        stanza,
        'resource-constraint',
        'too many subscription requests are waiting for this account',
      );
      return;
    }
    const { deliver, reply } = decision!;
    if (deliver) {
      // Requests go to the available resources (§3.1.3 #3), the other notices to the
      // interested ones (§3.1.6 #1, §3.2.3 #1, §3.3.3 #1), before the roster push.
      for (const session of this.rosters.resourcesFor(
        user,
        type === 'subscribe' ? 'available' : 'interested',
      )) {
        session.send(stanza);
      }
    }
    this.rosters.announce(user, contact, outcome);
    const before = relationshipOf(outcome.before).state;
    if (type === 'unsubscribe' && contactIsSubscribed(before) && !contactIsSubscribed(decision!.next.state)) {
      await this.presences.sendUnavailable(user, contact); // §3.3.3 #3
    }
    if (reply) {
      // A.3.1 [2], A.3.2 [1], §3.4: answered on the user's behalf, from the bare JID.
      const answer = x('presence', { type: reply, id: stanza.attrs.id, from: user.bare, to: contact.bare });
      await this.router.route({ stanza: answer, origin: undefined, from: user, to: contact });
      if (reply === 'subscribed') await this.presences.sendCurrentPresence(user, contact);
    }
  }

  /**
   * XEP-0077 §3.2: an account about to be deleted cancels every subscription it has, both ways,
   * as if it removed each contact from its roster (§2.5.2) — requests it never answered
   * included — so that its contacts' rosters do not keep a subscription nobody can end.
   */
  async cancelEverything(user: JID): Promise<void> {
    const relations = new Map<string, Relation>();
    for (const item of (await this.rosters.snapshot(user)).items) {
      relations.set(item.contact, { item, pendingIn: undefined });
    }
    for (const request of await this.rosters.requests(user)) {
      relations.set(request.contact, {
        item: relations.get(request.contact)?.item,
        pendingIn: request.stanza,
      });
    }
    for (const [contact, relation] of relations) {
      const jid = tryParseJID(contact);
      if (jid) await this.cancelAll(user, jid, relation);
    }
  }

  /** §2.5.2: removing `contact` from the roster cancels the subscriptions both ways. */
  async cancelAll(user: JID, contact: JID, removed: Relation): Promise<void> {
    const { state } = relationshipOf(removed);
    const parts = partsOf(state);
    const presence = (type: string) =>
      x('presence', { type, id: this.presences.nextId(), from: user.bare, to: contact.bare });
    if (userIsSubscribed(state) || parts.pendingOut) {
      await this.router.route({
        stanza: presence('unsubscribe'),
        origin: undefined,
        from: user,
        to: contact,
      });
    }
    if (contactIsSubscribed(state)) await this.presences.sendUnavailable(user, contact);
    if (contactIsSubscribed(state) || parts.pendingIn) {
      await this.router.route({
        stanza: presence('unsubscribed'),
        origin: undefined,
        from: user,
        to: contact,
      });
    }
  }
}

/** The A.1 state (and §3.4 flag) that a stored relation stands for. */
export function relationshipOf(relation: Relation): Relationship {
  const item = relation.item;
  return {
    state: stateOf(item?.subscription ?? 'none', item?.ask ?? false, relation.pendingIn !== undefined),
    approved: item?.approved ?? false,
  };
}

/**
 * The relation after a move to `next`. A roster item appears only when the user acts or is
 * subscribed — never for a contact's mere request (§3.1.3 security warning, A.1 #3) — and
 * `request` is what to keep when a request starts waiting.
 */
export function withRelationship(relation: Relation, next: Relationship, request?: string): Relation {
  const parts = partsOf(next.state);
  const pendingIn = parts.pendingIn ? (relation.pendingIn ?? request) : undefined;
  const needsItem =
    relation.item !== undefined ||
    next.approved ||
    (next.state !== 'None' && next.state !== 'None + Pending In');
  if (!needsItem) return { item: undefined, pendingIn };
  return {
    item: {
      name: relation.item?.name,
      groups: relation.item?.groups ?? [],
      subscription: parts.subscription,
      ask: parts.pendingOut,
      approved: next.approved,
    },
    pendingIn,
  };
}
