// XEP-0045: Multi-User Chat — https://xmpp.org/extensions/xep-0045.html
// XEP-0486: MUC Avatars — https://xmpp.org/extensions/xep-0486.html
// XEP-0249: Direct MUC Invitations — https://xmpp.org/extensions/xep-0249.html (they pass
// from user to user untouched; the service only has to leave them alone)
//
// A MUC service for every host, at conference.<host> unless configured otherwise. The files:
//   permissions.ts  the §5 tables (roles, affiliations, who may do what), pure
//   config.ts       the §15.5.3 muc#roomconfig form and what each field means, pure
//   history.ts      discussion history (§7.2.12, §7.2.13), pure
//   room.ts         a room's state; service.ts  one service domain: dispatch, creation, store
//   presence.ts     entering, presence, nicknames, leaving, removals (§7.1–§7.7, §7.14)
//   messages.ts     groupchat, subject, private messages, history on entry (§7.4, §7.5, §8.1)
//   admin.ts        roles and affiliations, the lists (§8, §9, §10.3–§10.8)
//   owner.ts        creation, configuration, destruction (§10.1, §10.2, §10.9)
//   invitations.ts  mediated invitations (§7.8.2); voice.ts voice requests (§7.13, §8.6)
//   register.ts     registration with a room (§7.10); disco.ts service discovery (§6)
//   vcard.ts        room avatars (XEP-0486); delivery.ts the groupchat fan-out
//   store.ts        persistent rooms in SQLite; api.ts what other modules hook into
// and the modern group chat, plugged in through the same extension points (context.ts):
//   archive.ts      XEP-0313 room archives with XEP-0359 stanza ids; archive-store.ts in SQLite
//   occupant-id.ts  XEP-0421 occupant ids; moderation.ts XEP-0425 moderated retraction
//   service.ts      also answers XEP-0410 self-pings; hats.ts XEP-0317 hats

import { domainName } from '../../src/config/options.js';
import {
  bool,
  type ConfigOf,
  type ItemRule,
  int,
  section,
  str,
  strList,
  table,
} from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import { tryParseJID } from '../../src/jid.js';
import type { MucApi } from './api.js';
import { RoomArchiveFeature } from './archive.js';
import { RoomArchives, serviceSecret } from './archive-store.js';
import { defaultConfig } from './config.js';
import { MucExtensions } from './context.js';
import { HatStore, HatsFeature } from './hats.js';
import { ModerationFeature } from './moderation.js';
import { installOccupantIds, OccupantIds } from './occupant-id.js';
import { MucDomain } from './service.js';
import { MUC_MIGRATIONS, SqliteMucStore } from './store.js';

const bareJid: ItemRule = {
  expected: 'a bare JID such as admin@example.org',
  parse: (value) => {
    const jid = tryParseJID(value);
    return jid === undefined || jid.resource !== '' ? undefined : jid.bare;
  },
};

const hostSection = section({
  doc: 'The MUC service of one host.',
  fields: {
    domain: str({
      default: '',
      doc: 'The service domain for this host, instead of <subdomain>.<host> (e.g. "chat.example.org").',
    }),
  },
  check: (host) =>
    host.domain !== '' && domainName.parse(host.domain) === undefined
      ? { at: ['domain'], message: `must be ${domainName.expected}` }
      : undefined,
});

const configSection = section({
  doc: 'XEP-0045 multi-user chat: a group chat service for every host.',
  fields: {
    subdomain: str({
      default: 'conference',
      doc: 'Each host gets a service at <subdomain>.<host>; the certificate must cover it.',
    }),
    hosts: table(hostSection, { key: domainName, exampleKey: 'example.org' }),
    name: str({ default: 'Chatrooms', doc: "The service's name in service discovery." }),
    room_creation: str({
      default: 'local',
      choices: ['anyone', 'local', 'admins'] as const,
      doc:
        'Who may create rooms: anyone (users of other servers too), local (accounts of this ' +
        "server's hosts) or admins (the service admins below).",
    }),
    admins: strList({
      default: [],
      unique: true,
      item: bareJid,
      doc: 'Service admins (bare JIDs): they own every room, and may always create rooms.',
    }),
    max_occupants: int({
      default: 10_000,
      min: 1,
      max: 1_000_000,
      unit: 'occupants',
      doc: 'The most occupants a room may have, whatever its own configuration says.',
    }),
    history_length: int({
      default: 20,
      min: 0,
      max: 1000,
      unit: 'messages',
      doc: 'Messages a new room keeps for newcomers (its owners may change it up to max_history_length).',
    }),
    max_history_length: int({
      default: 100,
      min: 0,
      max: 1000,
      unit: 'messages',
      doc: 'The longest history a room may keep in memory.',
    }),
    lock_timeout: int({
      default: 300,
      min: 0,
      max: 86_400,
      unit: 'seconds',
      doc:
        'A new room stays locked (only its creator inside) until configured, or until this ' +
        'time has passed and it takes the defaults; 0 opens new rooms at once.',
    }),
    default_public: bool({ default: true, doc: 'New rooms are listed in service discovery.' }),
    default_persistent: bool({ default: false, doc: 'New rooms outlive their last occupant.' }),
    default_members_only: bool({ default: false, doc: 'New rooms admit members only.' }),
    default_moderated: bool({ default: false, doc: 'New rooms give the unaffiliated no voice.' }),
    default_archiving: bool({
      default: true,
      doc:
        'New rooms keep a XEP-0313 archive of their messages (muc#roomconfig_enablearchiving), ' +
        'which occupants can page through and which brings the history of persistent rooms back ' +
        'after a restart; a temporary room loses its archive when it goes.',
    }),
    default_whois: str({
      default: 'moderators',
      choices: ['moderators', 'anyone'] as const,
      doc: "Who sees occupants' real JIDs in new rooms: moderators (semi-anonymous) or anyone.",
    }),
  },
  check: (muc) => {
    if (domainName.parse(muc.subdomain) === undefined)
      return { at: ['subdomain'], message: `must be ${domainName.expected}` };
    if (muc.history_length > muc.max_history_length)
      return {
        at: ['history_length'],
        message: `must be at most max_history_length (${muc.max_history_length})`,
      };
    return undefined;
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'muc',
  implements: [
    {
      spec: { xep: 45 },
      title: 'Multi-User Chat',
      version: '1.35.5',
      status: 'complete',
      note:
        'every §15.5.3 configuration field enforced; persistent rooms (configuration, affiliations, ' +
        'subject, vCard) in SQLite; multi-session nicknames; registration with open rooms (accepted at ' +
        'once: no approval by admins, §9.9); voice requests; iq pass-through to occupants. Left out, all ' +
        'MAY: paging of the room list (XEP-0059), out-of-room 101 notices, XEP-0033 ofrom in history, ' +
        'nickname lockdown, presence probes of rooms. Rooms with muc#roomconfig_enablearchiving (on by ' +
        'default: muc.default_archiving) keep a XEP-0313 archive on their JID (urn:xmpp:mam:2 with ' +
        '#extended: filters by occupant, real JID for those who may see it, time and ids; RSM paging; ' +
        'flipped pages; metadata) and give each message a XEP-0359 stanza-id by the room; history on ' +
        'entry of persistent archived rooms comes back from the archive after a restart',
      since: '0.1.0',
      tests: [
        'test/unit/muc-permissions.test.ts',
        'test/unit/muc-config.test.ts',
        'test/unit/muc-history.test.ts',
        'test/unit/muc-delivery.test.ts',
        'test/integration/muc-rooms.test.ts',
        'test/integration/muc-messages.test.ts',
        'test/integration/muc-moderation.test.ts',
        'test/integration/muc-persistence.test.ts',
        'test/integration/muc-archive.test.ts',
        'test/unit/muc-modern.test.ts',
        'test/integration/muc-slixmpp.test.ts',
      ],
    },
    {
      spec: { xep: 249 },
      title: 'Direct MUC Invitations',
      version: '1.2',
      status: 'complete',
      note: 'invitations go from user to user untouched; the service needs no part in them',
      since: '0.1.0',
      tests: ['test/integration/muc-messages.test.ts'],
    },
    {
      spec: { xep: 317 },
      title: 'Hats',
      version: '0.3.1',
      status: 'complete',
      note:
        'owners and admins create, update, destroy, assign and remove hats with XEP-0050 commands on ' +
        'the room; hats shown in presence (a client’s own removed), kept with the room; hats#hash in ' +
        'muc#roominfo',
      since: '0.1.0',
      tests: [
        'test/unit/muc-hats.test.ts',
        'test/integration/muc-modern.test.ts',
        'test/integration/muc-persistence.test.ts',
      ],
    },
    {
      spec: { xep: 410 },
      title: "MUC Self-Ping (Schrödinger's Chat)",
      version: '1.1.0',
      status: 'complete',
      note: 'a ping to the occupant’s own JID is answered by the room (muc#self-ping-optimization)',
      since: '0.1.0',
      tests: ['test/integration/muc-modern.test.ts', 'test/integration/muc-slixmpp.test.ts'],
    },
    {
      spec: { xep: 421 },
      title: 'Occupant identifiers for semi-anonymous MUCs',
      version: '1.0.1',
      status: 'complete',
      note:
        'in every room (advertised by the service too): an HMAC of the room and the real bare JID under ' +
        'a secret kept in the database, on presence, messages, history and archived messages; a ' +
        'client’s own replaced',
      since: '0.1.0',
      tests: [
        'test/unit/muc-modern.test.ts',
        'test/integration/muc-modern.test.ts',
        'test/integration/muc-slixmpp.test.ts',
      ],
    },
    {
      spec: { xep: 424 },
      title: 'Message Retraction',
      version: '0.4.2',
      status: 'complete',
      note:
        'in rooms: an occupant’s retraction of its own message (by the room’s stanza-id, checked against ' +
        'the real JID) is passed on and archived, and the archive and history keep a tombstone naming ' +
        'it (#tombstone); moderated retractions use the same elements (XEP-0425). User archives keep ' +
        'one-to-one retractions as sent',
      since: '0.1.0',
      tests: ['test/unit/muc-modern.test.ts', 'test/integration/muc-modern.test.ts'],
    },
    {
      spec: { xep: 425 },
      title: 'Moderated Message Retraction',
      version: '0.3.0',
      status: 'complete',
      note:
        'in archived rooms, by stanza-id: the retraction goes to every occupant, the archive and the ' +
        'history keep a tombstone; the 0.2 request (urn:xmpp:message-moderate:0 in XEP-0422 apply-to) ' +
        'is accepted too, and announcements carry both forms',
      since: '0.1.0',
      tests: [
        'test/unit/muc-modern.test.ts',
        'test/integration/muc-modern.test.ts',
        'test/integration/muc-slixmpp.test.ts',
      ],
    },
    {
      spec: { xep: 486 },
      title: 'MUC Avatars',
      version: '0.1.0',
      status: 'complete',
      note: "owners set a room's vCard; its photo hashes are in muc#roominfo; 104 tells occupants",
      since: '0.1.0',
      tests: ['test/integration/muc-rooms.test.ts'],
    },
  ],
  configSection,
  storage: MUC_MIGRATIONS,
  async setup(ctx) {
    const config = ctx.config;
    const store = new SqliteMucStore(ctx.server.db);
    const extensions = new MucExtensions();
    // Occupant ids first: the archive keeps messages as broadcast, ids and all.
    const occupantIds = new OccupantIds(serviceSecret(ctx.server.db, 'occupant-ids', 32));
    installOccupantIds(extensions, occupantIds);
    const archives = new RoomArchives(ctx.server.db, ctx.log.child({ part: 'archive' }));
    const archive = new RoomArchiveFeature(archives, ctx.server.router, ctx.log);
    archive.install(extensions);
    new ModerationFeature(archive, occupantIds, Date.now).install(extensions);
    const hats = new HatsFeature(new HatStore(ctx.server.db), ctx.log);
    hats.install(extensions);
    const admins = new Set(config.admins);
    const defaults = defaultConfig({
      public: config.default_public,
      persistent: config.default_persistent,
      membersOnly: config.default_members_only,
      moderated: config.default_moderated,
      whois: config.default_whois,
      historyLength: config.history_length,
      archiving: config.default_archiving,
    });
    const limits = {
      maxUsers: config.max_occupants,
      maxHistory: config.max_history_length,
      adminOverflow: 10,
      lockSeconds: config.lock_timeout,
    };
    const services: MucDomain[] = [];
    for (const host of ctx.server.hosts) {
      const domain = config.hosts[host]?.domain || `${config.subdomain}.${host}`;
      const service = new MucDomain(ctx.server, store, ctx.log.child({ service: domain }), extensions, {
        domain,
        name: config.name,
        creation: config.room_creation,
        admins,
        limits,
        defaults,
      });
      await service.load();
      // Temporary rooms that lived until the server stopped: a new room of the same name must
      // not inherit their conversation.
      const kept = new Set(service.rooms.keys());
      archives.keepOnly(domain, kept);
      hats.store.keepOnly(domain, kept);
      ctx.registerService(domain, service.handle);
      ctx.addDiscoItem({ jid: domain, name: config.name });
      services.push(service);
    }

    ctx.hook('session/closed', ({ session }) => {
      for (const service of services) service.sessionClosed(session.jid);
    });
    ctx.hook('server/stopping', () => {
      for (const service of services) service.shutdown();
      archives.flush();
    });

    const registered = <T>(set: Set<T>, value: T) => {
      set.add(value);
      return () => set.delete(value);
    };
    const api: MucApi = {
      domains: () => services.map((s) => s.domain),
      room: (jid) => {
        const service = services.find((s) => s.domain === jid.domain);
        const room = service?.rooms.get(jid.local);
        return room?.destroyed === false ? room : undefined;
      },
      beforeBroadcast: (handler) => registered(extensions.beforeBroadcast, handler),
      afterBroadcast: (handler) => registered(extensions.afterBroadcast, handler),
      decorateOccupantStanza: (handler) => registered(extensions.occupantStanza, handler),
      addRoomFeatures: (features) => registered(extensions.roomFeatures, features),
      roomLoaded: (handler) => registered(extensions.roomLoaded, handler),
      roomDiscarded: (handler) => registered(extensions.roomDiscarded, handler),
      handleRoomIq: (type, ns, name, handler) => {
        const key = MucExtensions.iqKey(type, ns, name);
        if (extensions.roomIq.has(key)) throw new Error(`a room iq handler for ${key} is already registered`);
        extensions.roomIq.set(key, handler);
        return () => {
          if (extensions.roomIq.get(key) === handler) extensions.roomIq.delete(key);
        };
      },
    };
    ctx.provide('muc', api);
  },
});
