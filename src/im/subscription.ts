// RFC 6121 Appendix A: the subscription states of a user's relationship with one contact, and
// what the user's server does with the subscription stanzas the user sends (A.2) and receives
// (A.3), with the subscription pre-approval of §3.4 folded in. Pure: no storage, no stanzas.
//
//   A.1   the nine states, named here exactly as the RFC names them
//   A.2   outbound subscribe / unsubscribe / subscribed / unsubscribed (route? new state)
//   A.3   inbound subscribe / unsubscribe / subscribed / unsubscribed (deliver? new state)
//   §3.4  pre-approval: an outbound "subscribed" before any request is remembered as the
//         'approved' flag, and the contact's later "subscribe" is answered by the server
//   §2.1.2.2, §2.1.2.5  how a state shows in a roster item (subscription + ask)

import type { Subscription } from './roster-service.js';

/** A.1, in the RFC's own words. */
export type SubscriptionState =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out+In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';

export const SUBSCRIPTION_STATES: readonly SubscriptionState[] = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out+In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
];

export type SubscriptionStanzaType = 'subscribe' | 'unsubscribe' | 'subscribed' | 'unsubscribed';

/** A state together with the §3.4 pre-approval flag ('approved' on the roster item). */
export interface Relationship {
  readonly state: SubscriptionState;
  readonly approved: boolean;
}

/** How a state is stored: a roster item's subscription and ask, plus an inbound request on file. */
export interface StateParts {
  readonly subscription: Subscription;
  /** ask='subscribe': the user's request waits for the contact's answer. */
  readonly pendingOut: boolean;
  /** The contact's request waits for the user's answer. */
  readonly pendingIn: boolean;
}

const PARTS: Record<SubscriptionState, StateParts> = {
  None: { subscription: 'none', pendingOut: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', pendingOut: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', pendingOut: false, pendingIn: true },
  'None + Pending Out+In': { subscription: 'none', pendingOut: true, pendingIn: true },
  To: { subscription: 'to', pendingOut: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', pendingOut: false, pendingIn: true },
  From: { subscription: 'from', pendingOut: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', pendingOut: true, pendingIn: false },
  Both: { subscription: 'both', pendingOut: false, pendingIn: false },
};

export function partsOf(state: SubscriptionState): StateParts {
  return PARTS[state];
}

/**
 * The state that stored parts describe. Combinations A.1 does not name (a request pending
 * in a direction that is already subscribed) collapse to the subscription alone.
 */
export function stateOf(
  subscription: Subscription,
  pendingOut: boolean,
  pendingIn: boolean,
): SubscriptionState {
  switch (subscription) {
    case 'both':
      return 'Both';
    case 'to':
      return pendingIn ? 'To + Pending In' : 'To';
    case 'from':
      return pendingOut ? 'From + Pending Out' : 'From';
    case 'none':
      if (pendingOut) return pendingIn ? 'None + Pending Out+In' : 'None + Pending Out';
      return pendingIn ? 'None + Pending In' : 'None';
  }
}

/** Whether the contact may see the user's presence (subscription 'from' or 'both'). */
export function contactIsSubscribed(state: SubscriptionState): boolean {
  const { subscription } = PARTS[state];
  return subscription === 'from' || subscription === 'both';
}

/** Whether the user sees the contact's presence (subscription 'to' or 'both'). */
export function userIsSubscribed(state: SubscriptionState): boolean {
  const { subscription } = PARTS[state];
  return subscription === 'to' || subscription === 'both';
}

// ---- the tables, transcribed row by row ------------------------------------------------------

/** The RFC's conformance words for routing (A.2) and delivery (A.3); "S.N."/"M.N." spelled out. */
export type Requirement = 'MUST' | 'SHOULD NOT' | 'MUST NOT';

/** 'no state change'; 'pre-approval' is A.2.3's [1] (§3.4). */
type NewState = SubscriptionState | 'no state change' | 'pre-approval';

type Row = readonly [SubscriptionState, Requirement, NewState];
type Table = Readonly<Record<SubscriptionState, readonly [Requirement, NewState]>>;

function table(rows: readonly Row[]): Table {
  const out = {} as Record<SubscriptionState, readonly [Requirement, NewState]>;
  for (const [state, requirement, next] of rows) out[state] = [requirement, next];
  for (const state of SUBSCRIPTION_STATES) if (!out[state]) throw new Error(`table lacks ${state}`);
  return out;
}

/** A.2: the user sends the stanza; "route?" and the user's new state. */
export const OUTBOUND: Readonly<Record<SubscriptionStanzaType, Table>> = {
  // A.2.1, Table 2
  subscribe: table([
    ['None', 'MUST', 'None + Pending Out'],
    ['None + Pending Out', 'MUST', 'no state change'],
    ['None + Pending In', 'MUST', 'None + Pending Out+In'],
    ['None + Pending Out+In', 'MUST', 'no state change'],
    ['To', 'MUST', 'no state change'],
    ['To + Pending In', 'MUST', 'no state change'],
    ['From', 'MUST', 'From + Pending Out'],
    ['From + Pending Out', 'MUST', 'no state change'],
    ['Both', 'MUST', 'no state change'],
  ]),
  // A.2.2, Table 3
  unsubscribe: table([
    ['None', 'MUST', 'no state change'],
    ['None + Pending Out', 'MUST', 'None'],
    ['None + Pending In', 'MUST', 'no state change'],
    ['None + Pending Out+In', 'MUST', 'None + Pending In'],
    ['To', 'MUST', 'None'],
    ['To + Pending In', 'MUST', 'None + Pending In'],
    ['From', 'MUST', 'no state change'],
    ['From + Pending Out', 'MUST', 'From'],
    ['Both', 'MUST', 'From'],
  ]),
  // A.2.3, Table 4
  subscribed: table([
    ['None', 'MUST NOT', 'pre-approval'],
    ['None + Pending Out', 'MUST NOT', 'pre-approval'],
    ['None + Pending In', 'MUST', 'From'],
    ['None + Pending Out+In', 'MUST', 'From + Pending Out'],
    ['To', 'MUST NOT', 'pre-approval'],
    ['To + Pending In', 'MUST', 'Both'],
    ['From', 'MUST NOT', 'no state change'],
    ['From + Pending Out', 'MUST NOT', 'no state change'],
    ['Both', 'MUST NOT', 'no state change'],
  ]),
  // A.2.4, Table 5 ([1]: in the unrouted rows the stanza cancels a pre-approval, §3.2.2 #2)
  unsubscribed: table([
    ['None', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out', 'SHOULD NOT', 'no state change'],
    ['None + Pending In', 'MUST', 'None'],
    ['None + Pending Out+In', 'MUST', 'None + Pending Out'],
    ['To', 'SHOULD NOT', 'no state change'],
    ['To + Pending In', 'MUST', 'To'],
    ['From', 'MUST', 'None'],
    ['From + Pending Out', 'MUST', 'None + Pending Out'],
    ['Both', 'MUST', 'To'],
  ]),
};

/** A.3: the user receives the stanza; "deliver?" and the user's new state. */
export const INBOUND: Readonly<Record<SubscriptionStanzaType, Table>> = {
  // A.3.1, Table 6 ([2]: the server SHOULD auto-reply "subscribed" in the last three rows)
  subscribe: table([
    ['None', 'MUST', 'None + Pending In'],
    ['None + Pending Out', 'MUST', 'None + Pending Out+In'],
    ['None + Pending In', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out+In', 'SHOULD NOT', 'no state change'],
    ['To', 'MUST', 'To + Pending In'],
    ['To + Pending In', 'SHOULD NOT', 'no state change'],
    ['From', 'SHOULD NOT', 'no state change'],
    ['From + Pending Out', 'SHOULD NOT', 'no state change'],
    ['Both', 'SHOULD NOT', 'no state change'],
  ]),
  // A.3.2, Table 7 ([1]: the server SHOULD auto-reply "unsubscribed" whenever the state changes)
  unsubscribe: table([
    ['None', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out', 'SHOULD NOT', 'no state change'],
    ['None + Pending In', 'MUST', 'None'],
    ['None + Pending Out+In', 'MUST', 'None + Pending Out'],
    ['To', 'SHOULD NOT', 'no state change'],
    ['To + Pending In', 'MUST', 'To'],
    ['From', 'MUST', 'None'],
    ['From + Pending Out', 'MUST', 'None + Pending Out'],
    ['Both', 'MUST', 'To'],
  ]),
  // A.3.3, Table 8
  subscribed: table([
    ['None', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out', 'MUST', 'To'],
    ['None + Pending In', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out+In', 'MUST', 'To + Pending In'],
    ['To', 'SHOULD NOT', 'no state change'],
    ['To + Pending In', 'SHOULD NOT', 'no state change'],
    ['From', 'SHOULD NOT', 'no state change'],
    ['From + Pending Out', 'MUST', 'Both'],
    ['Both', 'SHOULD NOT', 'no state change'],
  ]),
  // A.3.4, Table 9
  unsubscribed: table([
    ['None', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out', 'MUST', 'None'],
    ['None + Pending In', 'SHOULD NOT', 'no state change'],
    ['None + Pending Out+In', 'MUST', 'None + Pending In'],
    ['To', 'MUST', 'None'],
    ['To + Pending In', 'MUST', 'None + Pending In'],
    ['From', 'SHOULD NOT', 'no state change'],
    ['From + Pending Out', 'MUST', 'From'],
    ['Both', 'MUST', 'From'],
  ]),
};

// ---- applying them ----------------------------------------------------------------------------

export interface OutboundOutcome {
  /** Whether the stanza goes on to the contact. */
  readonly route: boolean;
  readonly next: Relationship;
}

export interface InboundOutcome {
  /** Whether the stanza is shown to the user's resources. */
  readonly deliver: boolean;
  readonly next: Relationship;
  /** What the server answers on the user's behalf, from the user's bare JID to the contact. */
  readonly reply: 'subscribed' | 'unsubscribed' | undefined;
}

/** The states in which §3.4.2 records a pre-approval rather than routing "subscribed". */
function canBePreApproved(state: SubscriptionState): boolean {
  return state === 'None' || state === 'None + Pending Out' || state === 'To';
}

/**
 * A pre-approval is spent once the contact is subscribed or has asked (the server keeps no
 * record of it afterwards, §3.4 implementation note), and is otherwise carried along.
 */
function carry(approved: boolean, state: SubscriptionState): Relationship {
  return { state, approved: approved && canBePreApproved(state) };
}

/** A.2 for a stanza the user sends to the contact. */
export function processOutbound(current: Relationship, type: SubscriptionStanzaType): OutboundOutcome {
  const [requirement, next] = OUTBOUND[type][current.state];
  const route = requirement === 'MUST';
  if (next === 'pre-approval') return { route, next: { state: current.state, approved: true } };
  if (type === 'unsubscribed' && canBePreApproved(current.state)) {
    // §3.2.2 #2: an unrouted "unsubscribed" withdraws a pre-approval.
    return { route, next: { state: current.state, approved: false } };
  }
  return { route, next: carry(current.approved, next === 'no state change' ? current.state : next) };
}

/** A.3 for a stanza the contact sends to the user. */
export function processInbound(current: Relationship, type: SubscriptionStanzaType): InboundOutcome {
  if (type === 'subscribe' && current.approved && canBePreApproved(current.state)) {
    // §3.4: the server approves on the user's behalf and does not deliver the request;
    // the state moves as if the user had answered it (A.3.1 [1]).
    const [, approvedState] = OUTBOUND.subscribed[INBOUND.subscribe[current.state][1] as SubscriptionState];
    return {
      deliver: false,
      next: { state: approvedState as SubscriptionState, approved: false },
      reply: 'subscribed',
    };
  }
  const [requirement, next] = INBOUND[type][current.state];
  const changed = next !== 'no state change';
  const state = changed ? (next as SubscriptionState) : current.state;
  let reply: InboundOutcome['reply'];
  if (type === 'subscribe' && contactIsSubscribed(current.state))
    reply = 'subscribed'; // A.3.1 [2]
  else if (type === 'unsubscribe' && changed) reply = 'unsubscribed'; // A.3.2 [1]
  return { deliver: requirement === 'MUST', next: carry(current.approved, state), reply };
}
