// XEP-0160: Best Practices for Handling Offline Messages — https://xmpp.org/extensions/xep-0160.html
// with XEP-0203 (Delayed Delivery) notations and XEP-0334 (Message Processing Hints).
//
// §2 process flow: a chat or normal message for an account none of whose resources takes
// messages (RFC 6121 §8.5.2.2.1; the router fires 'message/offline') is stored with a delay
// notation, or refused with service-unavailable when the account's quota is full; the stored
// messages go to the first resource that sends available presence with a non-negative
// priority. §3: which types are stored (and which payloads, see policy.ts). §4: the
// "msgoffline" disco feature. XEP-0013 flexible retrieval is not offered.

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import type { ClientSession } from '../../src/core/session.js';
import { NS } from '../../src/xml/ns.js';
import { OfflineDelivery, takesMessages } from './delivery.js';
import { offlineFate } from './policy.js';
import { OFFLINE_MIGRATIONS, SqliteOfflineStore } from './store.js';
import { storedForm } from './stored-stanza.js';

const configSection = section({
  doc: 'XEP-0160 offline messages: chat and normal messages kept for users who are offline.',
  fields: {
    max_messages: int({
      default: 1000,
      min: 1,
      max: 1_000_000,
      unit: 'messages',
      doc: 'Messages kept per user; once full, senders get service-unavailable and nothing more is stored.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'offline',
  implements: [
    {
      spec: { xep: 160 },
      title: 'Best Practices for Handling Offline Messages',
      version: '1.0.1',
      status: 'complete',
      note:
        'chat and normal messages with content are stored (standalone chat states are not), up to ' +
        'offline.max_messages per user; XEP-0013 flexible retrieval is not offered',
      since: '0.1.0',
      tests: ['test/integration/offline.test.ts', 'test/unit/offline-policy.test.ts'],
    },
    {
      spec: { xep: 203 },
      title: 'Delayed Delivery',
      version: '2.0',
      status: 'partial',
      note: 'added to offline messages (a forged one claiming to be from the server is dropped)',
      since: '0.1.0',
      tests: ['test/integration/offline.test.ts', 'test/unit/offline-policy.test.ts'],
    },
    {
      spec: { xep: 334 },
      title: 'Message Processing Hints',
      version: '1.0.0',
      status: 'partial',
      note: 'offline storage honours <no-store/> and <store/>; <no-permanent-store/> allows it',
      since: '0.1.0',
      tests: ['test/integration/offline.test.ts', 'test/unit/offline-policy.test.ts'],
    },
  ],
  features: [NS.MSGOFFLINE],
  configSection,
  storage: OFFLINE_MIGRATIONS,
  setup(ctx) {
    const { sessions } = ctx.server;
    const limit = ctx.config.max_messages;
    const store = new SqliteOfflineStore(ctx.server.db);
    const delivery = new OfflineDelivery(
      store,
      sessions,
      ctx.log,
      (account, sender) => ctx.server.services.get('blocking')?.blocks(account, sender) ?? false,
    );
    // Sessions that took messages at their last presence and have had the store emptied to
    // them: a mere status change of theirs needs no look at the store, since nothing is
    // stored while a resource takes messages.
    const served = new WeakSet<ClientSession>();

    ctx.hook('message/offline', (event) => {
      const fate = offlineFate(event.stanza);
      if (fate === 'discard') {
        ctx.log.debug('transient message for an offline user dropped', { to: event.to.bare });
        return true;
      }
      // Not taken: the router answers service-unavailable.
      if (fate === 'refuse') return false;
      const account = event.to.bareJID();
      const text = storedForm(event.stanza, account.domain, new Date(), event.redelivery === true);
      return store.push(account, text, limit).then((stored) => {
        if (!stored) {
          // XEP-0160 §2 step 3. No text in the error: it would tell strangers that the account exists.
          ctx.log.info('offline storage full; message refused', { to: account.bare, limit });
          return false;
        }
        // A resource may have become available while the message was on its way here.
        const recipient = delivery.recipient(account);
        if (recipient) void delivery.deliver(account, recipient);
        return true;
      });
    });

    // After the IM module's broadcast (priority 0), so contacts see the user online first.
    ctx.hook(
      'presence/broadcast',
      (event) => {
        const session = event.origin;
        if (session?.kind !== 'c2s') return;
        const client = session as ClientSession;
        if (!takesMessages(client)) {
          served.delete(client);
          return;
        }
        if (served.has(client)) return;
        served.add(client);
        return delivery.deliver(client.jid.bareJID(), client);
      },
      -10,
    );
  },
});
