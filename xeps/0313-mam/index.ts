// XEP-0313: Message Archive Management — https://xmpp.org/extensions/xep-0313.html
// with XEP-0359 (Unique and Stable Stanza IDs), XEP-0059 (Result Set Management) and
// XEP-0441 (Message Archive Management Preferences).
//
// Every account has an archive on its bare JID (§3.4.1) holding the one-to-one messages it
// sends and receives (archiver.ts, policy.ts), each once; the recipient's copy carries a
// <stanza-id/> by the account (§3.5). The account alone may query it (§8.1): §4 queries with
// the filter form, RSM paging and flipped pages (query.ts, rsm.ts, results.ts), §5 metadata,
// XEP-0441 preferences (prefs.ts). Retention (retention.ts) expires old messages. Groupchat
// messages are left to the rooms' own archives.
//
// Where it hooks in, at priority 200 (after blocking at 500, before delivery and offline
// storage): pre-route (outgoing), message/bare and message/full (incoming).

import { type ConfigOf, int, section, str } from '../../src/config/schema.js';
import { StanzaError } from '../../src/core/errors.js';
import type { IqRequest } from '../../src/core/iq.js';
import { defineModule } from '../../src/core/module.js';
import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { Archiver } from './archiver.js';
import { DEFAULT_MODES } from './policy.js';
import { parsePrefs, prefsElement } from './prefs.js';
import { parseQuery, queryForm } from './query.js';
import { finElement, metadataElement, resultMessage } from './results.js';
import { RetentionSweeper } from './retention.js';
import { type ArchivePage, MAM_MIGRATIONS, SqliteMamStore, UnknownArchiveId } from './store.js';

/** After blocking (500), ahead of delivery, offline storage and copies. */
const ARCHIVE_PRIORITY = 200;
/** The most JIDs the always and never lists hold together. */
const MAX_PREF_JIDS = 1000;

const configSection = section({
  doc: 'XEP-0313 message archive: the one-to-one messages of every account, kept on the server.',
  fields: {
    default_mode: str({
      default: 'always',
      choices: DEFAULT_MODES,
      doc:
        'What is archived for users who have not chosen (XEP-0441): always, never, or roster ' +
        '(only messages with contacts in the roster).',
    }),
    max_page_size: int({
      default: 250,
      min: 1,
      max: 10_000,
      unit: 'messages',
      doc: 'The most messages one query returns; a client asking for more gets this many and pages on.',
    }),
    retention_days: int({
      default: 0,
      min: 0,
      max: 36_500,
      unit: 'days',
      doc: 'Archived messages older than this are deleted (0: kept forever).',
    }),
  },
});

/** What other modules may ask of the archive. */
export interface ArchiveService {
  /**
   * The id a message got in an account's archive while it was routed, if it was archived
   * there: carbons put the sender's <stanza-id/> in its sent copies (XEP-0313 §3.5).
   */
  archivedId(stanza: Element, account: JID): string | undefined;
  /** Runs a retention sweep now; resolves with how many messages it deleted. */
  expireNow(): Promise<number>;
}

declare module '../../src/core/services.js' {
  interface Services {
    archive: ArchiveService;
  }
}

/** §8.1: an archive is its owner's alone. */
function ownArchive(req: IqRequest): JID {
  if (req.from.bare !== req.to.bare) throw new StanzaError('forbidden', 'an archive is its owner’s alone');
  return req.to.bareJID();
}

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'mam',
  implements: [
    {
      spec: { xep: 313 },
      title: 'Message Archive Management',
      version: '1.1.3',
      status: 'complete',
      note:
        'user archives with urn:xmpp:mam:2#extended (before-id, after-id, ids, flipped pages, ' +
        'metadata) and include-groupchat (no groupchat messages are kept in user archives); ' +
        'mam.retention_days expires old messages',
      since: '0.1.0',
      tests: [
        'test/integration/mam.test.ts',
        'test/integration/mam-durability.test.ts',
        'test/unit/mam-policy.test.ts',
        'test/unit/mam-query.test.ts',
        'test/unit/mam-store.test.ts',
      ],
    },
    {
      spec: { xep: 359 },
      title: 'Unique and Stable Stanza IDs',
      version: '0.7.0',
      status: 'complete',
      note: 'stanza-id by the account on archived incoming messages; forged ones removed',
      since: '0.1.0',
      tests: ['test/integration/mam.test.ts'],
    },
    {
      spec: { xep: 59 },
      title: 'Result Set Management',
      version: '1.0',
      status: 'complete',
      note: 'in archive queries: max, after, before, index, first/last/count',
      since: '0.1.0',
      tests: ['test/integration/mam.test.ts', 'test/unit/mam-query.test.ts', 'test/unit/mam-store.test.ts'],
    },
    {
      spec: { xep: 441 },
      title: 'Message Archive Management Preferences',
      version: '0.2.0',
      status: 'complete',
      note: 'users who have not chosen a default mode get mam.default_mode',
      since: '0.1.0',
      tests: ['test/integration/mam.test.ts', 'test/unit/mam-policy.test.ts'],
    },
  ],
  configSection,
  storage: MAM_MIGRATIONS,
  setup(ctx) {
    const { server } = ctx;
    const config = ctx.config;
    const maxPage = config.max_page_size;
    const store = new SqliteMamStore(server.db, ctx.log);
    // The turn's pending messages, before the database closes.
    ctx.onUnload(() => store.commit());
    const archiver = new Archiver(store, () => server.services.get('roster'), config.default_mode, ctx.log);
    const retention = new RetentionSweeper(store, config.retention_days, ctx.log);

    // §6: the archive lives on the account's bare JID, so its features are the account's.
    for (const feature of [NS.MAM, NS.MAM_EXTENDED, NS.MAM_GROUPCHAT_FIELD, NS.SID])
      ctx.onUnload(server.disco.addAccountFeature(feature));

    ctx.hook('pre-route', archiver.outgoing, ARCHIVE_PRIORITY);
    ctx.hook('message/bare', archiver.incoming, ARCHIVE_PRIORITY);
    ctx.hook('message/full', archiver.incoming, ARCHIVE_PRIORITY);
    ctx.hook('account/deleted', ({ jid }) => store.forget(jid));

    ctx.handleIq(
      'get',
      NS.MAM,
      'query',
      (req) => {
        ownArchive(req);
        return queryForm();
      },
      'account',
    );

    ctx.handleIq(
      'set',
      NS.MAM,
      'query',
      async (req) => {
        const account = ownArchive(req);
        const query = parseQuery(req.payload, { maxIds: maxPage });
        const max = Math.min(query.rsm.max ?? maxPage, maxPage);
        let page: ArchivePage;
        try {
          page = await store.query(account, { filter: query.filter, page: query.rsm.page, max });
        } catch (err) {
          if (err instanceof UnknownArchiveId) throw new StanzaError('item-not-found', err.message);
          throw err;
        }
        // §4.2: the results go to the querying resource before the iq result ends the query.
        const session = req.origin?.kind === 'c2s' ? req.origin : undefined;
        const to = req.from.full;
        const messages = query.flip ? [...page.messages].reverse() : page.messages;
        for (const message of messages) {
          let original: Element;
          try {
            original = parseStored(message.stanza);
          } catch (error) {
            ctx.log.error('archived message does not parse; left out', { account: account.bare, error });
            continue;
          }
          const result = resultMessage(to, account.bare, query.queryId, message, original);
          if (session) session.send(result);
          else server.router.send(result);
        }
        return finElement(page);
      },
      'account',
    );

    ctx.handleIq(
      'get',
      NS.MAM,
      'metadata',
      async (req) => metadataElement(await store.ends(ownArchive(req))),
      'account',
    );

    ctx.handleIq(
      'get',
      NS.MAM,
      'prefs',
      async (req) => prefsElement(await store.getPrefs(ownArchive(req)), config.default_mode),
      'account',
    );

    ctx.handleIq(
      'set',
      NS.MAM,
      'prefs',
      async (req) => {
        const account = ownArchive(req);
        const current = await store.getPrefs(account);
        const prefs = parsePrefs(req.payload, current.default, MAX_PREF_JIDS);
        if (!(await store.setPrefs(account, prefs))) throw new StanzaError('item-not-found');
        // XEP-0441 §2.1: the answer carries the preferences as applied.
        return prefsElement(await store.getPrefs(account), config.default_mode);
      },
      'account',
    );

    ctx.provide('archive', {
      archivedId: (stanza, account) => archiver.archivedId(stanza, account),
      expireNow: () => retention.sweep(),
    });

    retention.start();
    ctx.onUnload(() => retention.stop());
  },
});
