// XEP-0163: Personal Eventing Protocol — https://xmpp.org/extensions/xep-0163.html
// Every account a virtual pubsub service (XEP-0060), answering at the account's bare JID:
// service.ts (the use cases), delivery.ts (who gets notifications), interests.ts (what
// presence and caps tell the service), store.ts (SQLite), and pure units for configuration
// (config.ts), access (access.ts), requests (requests.ts) and entity capabilities (caps.ts).
//
// Where it hooks in, none of them taking the event:
//   presence/broadcast   (50) the account's own resources' presence and caps
//   presence/bare|full   (50) contacts' presence reaching the account (after blocking, 500)
//   session/closed, account/deleted   forget what the service knew of a resource or account
//
// What rides on it needs nothing more here: XEP-0084 avatars, XEP-0223 private storage
// (whitelist nodes), XEP-0384 OMEMO (device lists and bundles with access_model=open and
// max_items=max through publish-options), and the bookmarks and avatar-conversion modules
// that listen through the 'pep' service.

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import { defineModule } from '../../src/core/module.js';
import type { JID } from '../../src/jid.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { CapsCache } from './caps.js';
import { Delivery } from './delivery.js';
import { Interests } from './interests.js';
import { PresenceTracker } from './presence.js';
import { Pep } from './service.js';
import { PEP_MIGRATIONS, SqliteCapsStore, SqlitePepStore } from './store.js';

const configSection = section({
  doc: 'XEP-0163 personal eventing (PEP): each account a small pubsub service for avatars, bookmarks, OMEMO keys…',
  fields: {
    max_items: int({
      default: 1000,
      min: 1,
      max: 100_000,
      unit: 'items',
      doc: "Most items one node keeps (what a node's pubsub#max_items of 'max' means); the oldest go first.",
    }),
    max_nodes: int({
      default: 250,
      min: 1,
      max: 100_000,
      unit: 'nodes',
      doc: 'Nodes one account may have; one more is refused with not-allowed <max-nodes-exceeded/>.',
    }),
    max_item_size: int({
      default: 196_608,
      min: 1024,
      max: 16_777_216,
      unit: 'bytes',
      doc:
        'Largest item payload, in bytes of XML (an avatar counts in base64); larger ones are refused ' +
        'with not-acceptable <payload-too-big/>. Keep it below c2s.max_stanza_bytes.',
    }),
    quota: int({
      default: 10_485_760,
      min: 1024,
      max: 1_073_741_824,
      unit: 'bytes',
      doc: 'Most bytes of items one account may store over all its nodes.',
    }),
  },
});

/** XEP-0060 §10: the pubsub features of this service. */
const PUBSUB_FEATURES = [
  'access-open',
  'access-presence',
  'access-roster',
  'access-whitelist',
  'auto-create',
  'auto-subscribe',
  'config-node',
  'config-node-max',
  'create-and-configure',
  'create-nodes',
  'delete-items',
  'delete-nodes',
  'filtered-notifications',
  'item-ids',
  'last-published',
  'member-affiliation',
  'modify-affiliations',
  'outcast-affiliation',
  'persistent-items',
  'presence-notifications',
  'presence-subscribe',
  'publish',
  'publish-options',
  'purge-nodes',
  'retract-items',
  'retrieve-affiliations',
  'retrieve-default',
  'retrieve-items',
  'retrieve-subscriptions',
  'subscribe',
].map((feature) => `${NS.PUBSUB}#${feature}`);

/** Where a server's own disco query for a contact's caps gives up. */
const CAPS_QUERY_TIMEOUT_MS = 10_000;

const PEP_TESTS = [
  'test/integration/pep.test.ts',
  'test/integration/omemo.test.ts',
  'xeps/0163-pep/config.test.ts',
  'xeps/0163-pep/access.test.ts',
  'xeps/0163-pep/requests.test.ts',
  'xeps/0163-pep/presence.test.ts',
  'xeps/0163-pep/caps.test.ts',
  'xeps/0163-pep/store.test.ts',
];

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'pep',
  implements: [
    {
      spec: { xep: 163 },
      title: 'Personal Eventing Protocol',
      version: '1.2.2',
      status: 'complete',
      note:
        'auto-create, auto-subscribe and filtered notifications from verified XEP-0115 caps, the last ' +
        'item on presence and on subscription; no XEP-0033 replyto address in notifications (a SHOULD)',
      since: '0.1.0',
      tests: PEP_TESTS,
    },
    {
      spec: { xep: 60 },
      title: 'Publish-Subscribe',
      version: '1.30.0',
      status: 'partial',
      note:
        'the subset PEP uses: publish (one item per request) with publish-options, retract, items ' +
        '(all, by id, max_items), subscribe, unsubscribe, create, configure, default, delete, purge, ' +
        'affiliations (member, outcast); access models open, presence, roster, whitelist. Not done: ' +
        'authorize access, subscription options, managing subscriptions, collections, item expiry, RSM',
      since: '0.1.0',
      tests: PEP_TESTS,
    },
    {
      spec: { xep: 84 },
      title: 'User Avatar',
      version: '1.1.4',
      status: 'complete',
      note: 'avatar data and metadata nodes are ordinary PEP nodes',
      since: '0.1.0',
      tests: ['test/integration/avatars.test.ts'],
    },
    {
      spec: { xep: 223 },
      title: 'Persistent Storage of Private Data via PubSub',
      version: '1.1.1',
      status: 'complete',
      note: 'persistent whitelist nodes, with publish-options',
      since: '0.1.0',
      tests: ['test/integration/pep.test.ts', 'test/integration/bookmarks.test.ts'],
    },
    {
      spec: { xep: 384 },
      title: 'OMEMO Encryption',
      version: '0.9.1',
      status: 'complete',
      note: 'the server side of §7.1: device lists and bundles on open nodes, max_items=max',
      since: '0.1.0',
      tests: ['test/integration/omemo.test.ts'],
    },
  ],
  features: PUBSUB_FEATURES,
  identities: [{ category: 'pubsub', type: 'pep' }],
  configSection,
  storage: PEP_MIGRATIONS,
  setup(ctx) {
    const { server } = ctx;
    const { router } = server;
    const store = new SqlitePepStore(server.db);
    const tracker = new PresenceTracker();
    const roster = () => server.services.get('roster');
    const delivery = new Delivery(store, tracker, roster, (stanza, from, to) =>
      router.route({ stanza, origin: undefined, from, to }),
    );
    const caps = new CapsCache(
      new SqliteCapsStore(server.db),
      (from, to, node) =>
        router.request(
          x('iq', { type: 'get', from: from.bare, to: to.full }, x('query', { xmlns: NS.DISCO_INFO, node })),
          CAPS_QUERY_TIMEOUT_MS,
        ),
      (entity, c, why) => ctx.log.info('caps not cached', { entity: entity.full, ver: c.ver, why }),
    );
    const interests = new Interests(tracker, caps, delivery, roster, ctx.log);
    const rosterGroups = async (owner: JID): Promise<string[]> => {
      const items = (await roster()?.getItems(owner)) ?? [];
      return [...new Set(items.flatMap((item) => item.groups))].sort();
    };
    const pep = new Pep(
      store,
      delivery,
      (jid) => server.accounts.exists(jid),
      rosterGroups,
      {
        maxItems: ctx.config.max_items,
        maxNodes: ctx.config.max_nodes,
        maxItemBytes: ctx.config.max_item_size,
        quota: ctx.config.quota,
      },
      ctx.log,
    );
    ctx.provide('pep', pep);

    // XEP-0163 §6.1: the account is a pubsub/pep service with these features.
    for (const feature of [...PUBSUB_FEATURES, `${NS.PUBSUB}#pubsub-on-a-jid`]) {
      ctx.onUnload(server.disco.addAccountFeature(feature));
    }
    const accountDisco = server.services.get('accountDisco');
    if (accountDisco !== undefined) ctx.onUnload(accountDisco.register(pep.discoProvider()));

    for (const type of ['get', 'set'] as const) {
      ctx.handleIq(type, NS.PUBSUB, 'pubsub', (req) => pep.pubsub(req), 'account');
      ctx.handleIq(type, NS.PUBSUB_OWNER, 'pubsub', (req) => pep.owner(req), 'account');
    }

    // Observers: they never take the event nor make it wait.
    const observe = (owner: JID, event: StanzaEvent): undefined => {
      void interests.observe(owner, event.from, event.stanza);
      return undefined;
    };
    ctx.hook(
      'presence/broadcast',
      (event) => (event.origin?.kind === 'c2s' ? observe(event.from.bareJID(), event) : undefined),
      50,
    );
    ctx.hook('presence/bare', (event) => observe(event.to, event), 50);
    ctx.hook('presence/full', (event) => observe(event.to.bareJID(), event), 50);
    ctx.hook('session/closed', ({ session }) => {
      tracker.gone(session.jid.full);
    });
    ctx.hook('account/deleted', ({ jid }) => {
      tracker.forgetAccount(jid.bare);
    });
  },
});
