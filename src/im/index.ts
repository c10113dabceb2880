// RFC 6121: XMPP Instant Messaging and Presence — https://www.rfc-editor.org/rfc/rfc6121
// The roster module: rosters (§2, roster-requests.ts), presence subscriptions (§3 and
// Appendix A, subscription.ts + subscription-handler.ts) and presence (§4, presence.ts).
// Message delivery (§5, §8.5) is the router's (src/core/router.ts).
//
// Where it hooks in, all at priority 0:
//   pre-route             a client's presence with 'to': subscription stanzas are processed
//                         and routed here (taken); directed presence is noted
//   presence/bare|full    every presence for a local account ends here (taken)
//   presence/broadcast    a client's own presence, broadcast (not taken: others listen)
//   session/closed        unavailable on the client's behalf (not taken)
//   account/deleting      every subscription of the account cancelled (XEP-0077 §3.2)

import { type ConfigOf, int, section } from '../config/schema.js';
import type { StanzaEvent } from '../core/hooks.js';
import { defineModule } from '../core/module.js';
import type { ClientSession } from '../core/session.js';
import { x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { Presences } from './presence.js';
import { RosterRequests } from './roster-requests.js';
import { Rosters } from './rosters.js';
import { ROSTER_MIGRATIONS, SqliteRosterStore } from './store.js';
import { isSubscriptionType, Subscriptions } from './subscription-handler.js';

const configSection = section({
  doc: 'Rosters, presence subscriptions and presence (RFC 6121).',
  fields: {
    max_items: int({
      default: 2000,
      min: 1,
      max: 1_000_000,
      unit: 'contacts',
      doc: 'Contacts a roster holds; adding one more is refused with policy-violation.',
    }),
    max_name_length: int({
      default: 1023,
      min: 1,
      max: 65_535,
      unit: 'bytes',
      doc: "Longest contact name (a roster item's name); longer ones are refused with not-acceptable.",
    }),
    max_group_length: int({
      default: 1023,
      min: 1,
      max: 65_535,
      unit: 'bytes',
      doc: 'Longest roster group name; longer ones are refused with not-acceptable.',
    }),
    max_pending_requests: int({
      default: 500,
      min: 1,
      max: 1_000_000,
      unit: 'requests',
      doc:
        'Unanswered subscription requests kept per user (delivered at each login until answered); ' +
        'further requests are refused with resource-constraint.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'roster',
  implements: [
    {
      spec: { rfc: 6121 },
      title: 'XMPP: Instant Messaging and Presence',
      version: '1.0',
      status: 'complete',
      note:
        'rosters with versioning (interim pushes) and pre-approval, every subscription state of ' +
        'Appendix A, presence broadcast, probes and directed presence; message rules in the router. ' +
        'Not done: the delay stamp on unavailable answers to probes, and resending unanswered ' +
        'requests to other domains (both SHOULD)',
      since: '0.1.0',
      tests: [
        'test/unit/subscription.test.ts',
        'test/integration/roster.test.ts',
        'test/integration/subscriptions.test.ts',
        'test/integration/presence.test.ts',
        'test/integration/c2s.test.ts',
      ],
    },
  ],
  configSection,
  storage: ROSTER_MIGRATIONS,
  setup(ctx) {
    const { router, sessions, accounts, db } = ctx.server;
    const config = ctx.config;
    const store = new SqliteRosterStore(db, {
      maxItems: config.max_items,
      maxRequests: config.max_pending_requests,
    });
    const rosters = new Rosters(store, sessions);
    // XEP-0191, when its module is loaded: the requests kept for a user from a JID it has
    // blocked since are not delivered.
    const presences = new Presences(
      router,
      sessions,
      rosters,
      ctx.log,
      (user, contact) => ctx.server.services.get('blocking')?.blocks(user, contact) ?? false,
    );
    const subscriptions = new Subscriptions(router, rosters, presences, accounts, config.max_items);
    const requests = new RosterRequests(rosters, subscriptions, {
      maxItems: config.max_items,
      maxNameBytes: config.max_name_length,
      maxGroupBytes: config.max_group_length,
    });

    ctx.provide('roster', rosters);
    // §2.6.1, §3.4: informative stream features.
    ctx.addStreamFeature(() => x('ver', { xmlns: NS.ROSTER_VER }));
    ctx.addStreamFeature(() => x('sub', { xmlns: NS.PRE_APPROVAL }));

    ctx.handleIq('get', NS.ROSTER, 'query', (req) => requests.get(req), 'account');
    ctx.handleIq('set', NS.ROSTER, 'query', (req) => requests.set(req), 'account');

    /** Runs a notification-style handler: failures are logged, never thrown at the stream. */
    const guarded = (what: string, event: StanzaEvent | undefined, work: () => Promise<void>) =>
      work().catch((error: unknown) => {
        ctx.log.error(`${what} failed`, { from: event?.from.full, to: event?.to.full, error });
        if (event) router.bounce(event.stanza, 'internal-server-error');
      });

    ctx.hook('pre-route', (event) => {
      const { stanza } = event;
      if (stanza.name !== 'presence' || stanza.attrs.to === undefined) return undefined;
      const session = event.origin;
      if (session?.kind !== 'c2s') return undefined;
      const type = stanza.attrs.type;
      if (isSubscriptionType(type)) {
        return guarded('outbound subscription', event, () => subscriptions.outbound(event, type)).then(
          () => true,
        );
      }
      if (type === undefined || type === 'unavailable') {
        presences.trackDirected(session as ClientSession, event.to, type);
      }
      return undefined;
    });

    ctx.hook('presence/bare', (event) => {
      const type = event.stanza.attrs.type;
      if (isSubscriptionType(type)) return subscriptions.inbound(event, type).then(() => true);
      if (type === 'probe') {
        return presences.answerProbe(event.to, event.from, event.stanza.attrs.id).then(() => true);
      }
      if (type === undefined || type === 'unavailable' || type === 'error') presences.deliverToBare(event);
      return true;
    });

    ctx.hook('presence/full', (event) => {
      const type = event.stanza.attrs.type;
      if (isSubscriptionType(type)) {
        // §3.1.3: a subscription stanza is about the bare JID, whatever it was sent to.
        return subscriptions.inbound({ ...event, to: event.to.bareJID() }, type).then(() => true);
      }
      if (type === 'probe') return presences.answerFullProbe(event).then(() => true);
      if (type === undefined || type === 'unavailable' || type === 'error') presences.deliverToFull(event);
      return true;
    });

    ctx.hook('presence/broadcast', (event) => {
      const session = event.origin;
      if (session?.kind !== 'c2s') return undefined;
      return guarded('presence broadcast', undefined, () =>
        presences.broadcast(session as ClientSession, event.stanza),
      ).then(() => undefined);
    });

    ctx.hook('session/closed', ({ session }) => {
      void guarded('unavailable presence for a closed session', undefined, () => presences.closed(session));
    });

    // XEP-0077 §3.2: the contacts learn that the subscriptions are over while the roster that
    // says which they are still exists. A failure is logged; it does not keep the account.
    ctx.hook('account/deleting', ({ jid }) =>
      subscriptions.cancelEverything(jid).catch((error: unknown) => {
        ctx.log.error('cancelling the subscriptions of a deleted account failed', { user: jid.bare, error });
      }),
    );
    ctx.hook('account/deleted', ({ jid }) => rosters.forget(jid));
  },
});
