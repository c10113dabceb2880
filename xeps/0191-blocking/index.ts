// XEP-0191: Blocking Command — https://xmpp.org/extensions/xep-0191.html
// §3.1 the disco feature; §3.2–§3.5 the commands (commands.ts); §3.3 the block in both
// directions (enforcement.ts); §5 a user's resources never block each other; §6 JID matching
// (blocklist.ts). Blocklists live in SQLite (store.ts) and in memory (cache.ts); other modules
// ask whether a JID is blocked through the service in service.ts.
//
// Polite blocking (§4): subscriptions are left alone and the blocked JID is told nothing.

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import { NS } from '../../src/xml/ns.js';
import { BlocklistCache } from './cache.js';
import { BlocklistCommands } from './commands.js';
import { Enforcement } from './enforcement.js';
import type { BlockingService } from './service.js';
import { BLOCKLIST_MIGRATIONS, SqliteBlocklistStore } from './store.js';

/** Ahead of every module that delivers, stores or answers a stanza. */
const ENFORCEMENT_PRIORITY = 500;
/** How many offline accounts' blocklists stay in memory. */
const RECENT_LISTS = 1024;

const DELIVERY_HOOKS: readonly `${'message' | 'presence' | 'iq'}/${'bare' | 'full'}`[] = [
  'message/bare',
  'message/full',
  'presence/bare',
  'presence/full',
  'iq/bare',
  'iq/full',
];

const configSection = section({
  doc: 'XEP-0191 blocking command.',
  fields: {
    max_items: int({
      default: 1000,
      min: 1,
      max: 100_000,
      unit: 'JIDs',
      doc: 'The most JIDs one account may block; a block command that would exceed it is refused.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'blocking',
  implements: [
    {
      spec: { xep: 191 },
      title: 'Blocking Command',
      version: '1.3',
      status: 'complete',
      note:
        'polite blocking; outbound stanzas to a blocked JID, presence included, get ' +
        '<not-acceptable/><blocked/>; presence on block and unblock goes to roster subscribers',
      since: '0.1.0',
      tests: ['test/integration/blocking.test.ts', 'test/unit/blocking.test.ts'],
    },
  ],
  features: [NS.BLOCKING],
  configSection,
  storage: BLOCKLIST_MIGRATIONS,
  async setup(ctx) {
    const { server } = ctx;
    const store = new SqliteBlocklistStore(server.db);
    const lists = new BlocklistCache(store, RECENT_LISTS);
    await lists.init();
    const enforcement = new Enforcement(lists, server.router);
    const commands = new BlocklistCommands(server, store, lists, enforcement, ctx.config.max_items, ctx.log);

    const service: BlockingService = {
      blocks(account, entity) {
        // §5, and the enforcement's rule: never the account itself, nor its own server.
        if (entity.bare === account.bare || entity.full === account.domain) return false;
        const list = lists.get(account);
        if (list === undefined) return false;
        if (list instanceof Promise) return list.then((l) => l?.blocks(entity) ?? false);
        return list.blocks(entity);
      },
    };
    ctx.provide('blocking', service);

    ctx.handleIq('get', NS.BLOCKING, 'blocklist', commands.get, 'account');
    ctx.handleIq('set', NS.BLOCKING, 'block', commands.block, 'account');
    ctx.handleIq('set', NS.BLOCKING, 'unblock', commands.unblock, 'account');

    ctx.hook('pre-route', enforcement.fromClient, ENFORCEMENT_PRIORITY);
    for (const name of DELIVERY_HOOKS) ctx.hook(name, enforcement.toLocal, ENFORCEMENT_PRIORITY);
    ctx.hook('route/remote', enforcement.toRemote, ENFORCEMENT_PRIORITY);

    ctx.hook('session/bound', ({ session }) => {
      lists.accountOnline(session.jid)?.catch((err: unknown) => {
        ctx.log.error('could not read a blocklist', { account: session.jid.bare, error: err });
      });
    });
    ctx.hook('session/closed', ({ session }) => {
      commands.sessionClosed(session);
      if (!server.sessions.hasResources(session.jid)) lists.accountOffline(session.jid);
    });
    ctx.hook('account/deleted', ({ jid }) => {
      lists.forget(jid);
      commands.accountDeleted(jid);
    });
  },
});
