// RFC 6121 Appendix A, row by row: every state against every outbound (A.2) and inbound (A.3)
// subscription stanza, then the §3.4 pre-approval rows and the state <-> roster item mapping.

import { expect } from 'chai';
import {
  partsOf,
  processInbound,
  processOutbound,
  SUBSCRIPTION_STATES,
  type SubscriptionStanzaType,
  type SubscriptionState,
  stateOf,
} from '../../src/im/subscription.js';

// [existing state, routed?, new state]; "=" is "no state change".
type Row = [SubscriptionState, boolean, SubscriptionState | '='];

const A2: Record<SubscriptionStanzaType, Row[]> = {
  // A.2.1 Table 2
  subscribe: [
    ['None', true, 'None + Pending Out'],
    ['None + Pending Out', true, '='],
    ['None + Pending In', true, 'None + Pending Out+In'],
    ['None + Pending Out+In', true, '='],
    ['To', true, '='],
    ['To + Pending In', true, '='],
    ['From', true, 'From + Pending Out'],
    ['From + Pending Out', true, '='],
    ['Both', true, '='],
  ],
  // A.2.2 Table 3
  unsubscribe: [
    ['None', true, '='],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', true, '='],
    ['None + Pending Out+In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', true, '='],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ],
  // A.2.3 Table 4 (the "pre-approval" rows keep the state; see the §3.4 tests below)
  subscribed: [
    ['None', false, '='],
    ['None + Pending Out', false, '='],
    ['None + Pending In', true, 'From'],
    ['None + Pending Out+In', true, 'From + Pending Out'],
    ['To', false, '='],
    ['To + Pending In', true, 'Both'],
    ['From', false, '='],
    ['From + Pending Out', false, '='],
    ['Both', false, '='],
  ],
  // A.2.4 Table 5
  unsubscribed: [
    ['None', false, '='],
    ['None + Pending Out', false, '='],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out+In', true, 'None + Pending Out'],
    ['To', false, '='],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None'],
    ['From + Pending Out', true, 'None + Pending Out'],
    ['Both', true, 'To'],
  ],
};

type InboundRow = [
  SubscriptionState,
  boolean,
  SubscriptionState | '=',
  'subscribed' | 'unsubscribed' | undefined,
];

const A3: Record<SubscriptionStanzaType, InboundRow[]> = {
  // A.3.1 Table 6, with [2]: auto-reply "subscribed" when the contact is already subscribed
  subscribe: [
    ['None', true, 'None + Pending In', undefined],
    ['None + Pending Out', true, 'None + Pending Out+In', undefined],
    ['None + Pending In', false, '=', undefined],
    ['None + Pending Out+In', false, '=', undefined],
    ['To', true, 'To + Pending In', undefined],
    ['To + Pending In', false, '=', undefined],
    ['From', false, '=', 'subscribed'],
    ['From + Pending Out', false, '=', 'subscribed'],
    ['Both', false, '=', 'subscribed'],
  ],
  // A.3.2 Table 7, with [1]: auto-reply "unsubscribed" when the state changes
  unsubscribe: [
    ['None', false, '=', undefined],
    ['None + Pending Out', false, '=', undefined],
    ['None + Pending In', true, 'None', 'unsubscribed'],
    ['None + Pending Out+In', true, 'None + Pending Out', 'unsubscribed'],
    ['To', false, '=', undefined],
    ['To + Pending In', true, 'To', 'unsubscribed'],
    ['From', true, 'None', 'unsubscribed'],
    ['From + Pending Out', true, 'None + Pending Out', 'unsubscribed'],
    ['Both', true, 'To', 'unsubscribed'],
  ],
  // A.3.3 Table 8
  subscribed: [
    ['None', false, '=', undefined],
    ['None + Pending Out', true, 'To', undefined],
    ['None + Pending In', false, '=', undefined],
    ['None + Pending Out+In', true, 'To + Pending In', undefined],
    ['To', false, '=', undefined],
    ['To + Pending In', false, '=', undefined],
    ['From', false, '=', undefined],
    ['From + Pending Out', true, 'Both', undefined],
    ['Both', false, '=', undefined],
  ],
  // A.3.4 Table 9
  unsubscribed: [
    ['None', false, '=', undefined],
    ['None + Pending Out', true, 'None', undefined],
    ['None + Pending In', false, '=', undefined],
    ['None + Pending Out+In', true, 'None + Pending In', undefined],
    ['To', true, 'None', undefined],
    ['To + Pending In', true, 'None + Pending In', undefined],
    ['From', false, '=', undefined],
    ['From + Pending Out', true, 'From', undefined],
    ['Both', true, 'From', undefined],
  ],
};

const TYPES: SubscriptionStanzaType[] = ['subscribe', 'unsubscribe', 'subscribed', 'unsubscribed'];

describe('RFC 6121 Appendix A subscription states', () => {
  describe('A.2 outbound subscription stanzas', () => {
    for (const type of TYPES) {
      describe(`outbound "${type}"`, () => {
        it('has a row for each of the nine states', () => {
          expect(A2[type].map((row) => row[0])).to.deep.equal(SUBSCRIPTION_STATES);
        });
        for (const [state, route, next] of A2[type]) {
          it(`${state}: ${route ? 'routed' : 'not routed'}, ${next === '=' ? 'no state change' : `-> ${next}`}`, () => {
            expect(processOutbound({ state, approved: false }, type)).to.deep.equal({
              route,
              next: {
                state: next === '=' ? state : next,
                approved: type === 'subscribed' && !route && preApprovable(state),
              },
            });
          });
        }
      });
    }
  });

  describe('A.3 inbound subscription stanzas', () => {
    for (const type of TYPES) {
      describe(`inbound "${type}"`, () => {
        it('has a row for each of the nine states', () => {
          expect(A3[type].map((row) => row[0])).to.deep.equal(SUBSCRIPTION_STATES);
        });
        for (const [state, deliver, next, reply] of A3[type]) {
          const title = `${state}: ${deliver ? 'delivered' : 'not delivered'}, ${next === '=' ? 'no state change' : `-> ${next}`}${reply ? `, auto-reply "${reply}"` : ''}`;
          it(title, () => {
            expect(processInbound({ state, approved: false }, type)).to.deep.equal({
              deliver,
              next: { state: next === '=' ? state : next, approved: false },
              reply,
            });
          });
        }
      });
    }
  });

  describe('§3.4 subscription pre-approval', () => {
    const rows: Array<[SubscriptionState, SubscriptionState]> = [
      ['None', 'From'],
      ['None + Pending Out', 'From + Pending Out'],
      ['To', 'Both'],
    ];
    for (const [state, approvedState] of rows) {
      it(`${state}: an outbound "subscribed" is not routed and records the approval`, () => {
        expect(processOutbound({ state, approved: false }, 'subscribed')).to.deep.equal({
          route: false,
          next: { state, approved: true },
        });
      });
      it(`${state}: a pre-approved inbound "subscribe" is answered, not delivered, -> ${approvedState}`, () => {
        expect(processInbound({ state, approved: true }, 'subscribe')).to.deep.equal({
          deliver: false,
          next: { state: approvedState, approved: false },
          reply: 'subscribed',
        });
      });
      it(`${state}: an outbound "unsubscribed" withdraws the approval without being routed`, () => {
        expect(processOutbound({ state, approved: true }, 'unsubscribed')).to.deep.equal({
          route: false,
          next: { state, approved: false },
        });
      });
    }

    it('keeps the approval while the user subscribes, and while the contact answers', () => {
      const asked = processOutbound({ state: 'None', approved: true }, 'subscribe');
      expect(asked).to.deep.equal({ route: true, next: { state: 'None + Pending Out', approved: true } });
      const answered = processInbound(asked.next, 'subscribed');
      expect(answered.next).to.deep.equal({ state: 'To', approved: true });
      const cancelled = processInbound(answered.next, 'unsubscribed');
      expect(cancelled.next).to.deep.equal({ state: 'None', approved: true });
    });

    it('spends the approval once the contact is subscribed', () => {
      const approved = processInbound({ state: 'None', approved: true }, 'subscribe');
      expect(approved.next.approved).to.equal(false);
      expect(processOutbound(approved.next, 'unsubscribed')).to.deep.equal({
        route: true,
        next: { state: 'None', approved: false },
      });
    });

    it('is not consulted for a contact already subscribed (A.3.1 [2] applies)', () => {
      expect(processInbound({ state: 'From', approved: true }, 'subscribe')).to.deep.equal({
        deliver: false,
        next: { state: 'From', approved: false },
        reply: 'subscribed',
      });
    });
  });

  describe('states as roster items (§2.1.2.2, §2.1.2.5)', () => {
    const shown: Array<[SubscriptionState, string, boolean, boolean]> = [
      ['None', 'none', false, false],
      ['None + Pending Out', 'none', true, false],
      ['None + Pending In', 'none', false, true],
      ['None + Pending Out+In', 'none', true, true],
      ['To', 'to', false, false],
      ['To + Pending In', 'to', false, true],
      ['From', 'from', false, false],
      ['From + Pending Out', 'from', true, false],
      ['Both', 'both', false, false],
    ];
    for (const [state, subscription, pendingOut, pendingIn] of shown) {
      it(`${state} is subscription='${subscription}'${pendingOut ? " ask='subscribe'" : ''}${pendingIn ? ' with a request on file' : ''}`, () => {
        expect(partsOf(state)).to.deep.equal({ subscription, pendingOut, pendingIn });
        expect(stateOf(subscription as 'none', pendingOut, pendingIn)).to.equal(state);
      });
    }

    it('reads combinations A.1 does not name as the subscription alone', () => {
      expect(stateOf('both', true, true)).to.equal('Both');
      expect(stateOf('to', true, false)).to.equal('To');
      expect(stateOf('from', false, true)).to.equal('From');
    });
  });
});

function preApprovable(state: SubscriptionState): boolean {
  return state === 'None' || state === 'None + Pending Out' || state === 'To';
}
