// XEP-0054: vcard-temp — https://xmpp.org/extensions/xep-0054.html
// §3.1 retrieving one's own vCard (an empty <vCard/> when there is none, which the section
// allows), §3.2 updating it (only its owner may: forbidden for anyone else), §3.3 viewing
// another user's (service-unavailable both when the account has no vCard and when it does not
// exist, so that the answer reveals nothing about which accounts exist), §4 the disco feature.
// XEP-0153: vCard-Based Avatars — https://xmpp.org/extensions/xep-0153.html — the photo hash
// in broadcast presence (see avatar.ts).
//
// Avatar conversion (XEP-0398) reads and writes vCards through the service in service.ts.
//
// An empty vCard set removes the stored one: the owner then reads an empty <vCard/>, exactly
// what it wrote, and others get the same answer as for an account that never had one.

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import { StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import type { IqRequest } from '../../src/core/iq.js';
import { defineModule } from '../../src/core/module.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { parseStored, serializeDetached } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { addPhoto, lacksPhoto, PhotoHashCache, photoHash, setPhoto } from './avatar.js';
import type { VCardListener, VCardService } from './service.js';
import { SqliteVCardStore, VCARD_MIGRATIONS } from './store.js';

const configSection = section({
  doc: 'XEP-0054 vCards: user profiles, and the vCard-based avatars of XEP-0153.',
  fields: {
    max_size: int({
      default: 131072,
      min: 1024,
      max: 16777216,
      unit: 'bytes',
      doc:
        'Largest vCard an account may store, in bytes of XML (a photo counts in base64). ' +
        'Larger ones are refused with not-acceptable. Keep it below c2s.max_stanza_bytes.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'vcard',
  implements: [
    {
      spec: { xep: 54 },
      title: 'vcard-temp',
      version: '1.3.0',
      status: 'complete',
      note: "own vCard (empty when none), others' vCards, size limit; no vCard for the server itself",
      since: '0.1.0',
      tests: ['test/integration/vcard.test.ts'],
    },
    {
      spec: { xep: 153 },
      title: 'vCard-Based Avatars',
      version: '1.1.1',
      status: 'complete',
      note: 'the server adds the photo hash to broadcast presence that carries none',
      since: '0.1.0',
      tests: ['test/integration/vcard.test.ts', 'xeps/0054-vcard/avatar.test.ts'],
    },
  ],
  features: [NS.VCARD],
  configSection,
  storage: VCARD_MIGRATIONS,
  setup(ctx) {
    const store = new SqliteVCardStore(ctx.server.db);
    const sessions = ctx.server.sessions;
    const maxSize = ctx.config.max_size;
    /** Modules told of clients' vCard sets (avatar conversion). */
    const listeners = new Set<VCardListener>();
    const hashes = new PhotoHashCache(
      (account) => store.photoHash(account.domain, account.local),
      (account) => sessions.hasResources(account),
    );
    /** The <photo/> elements this module added, so that a new hash can replace them in place. */
    const added = new WeakSet<Element>();
    const remember = (photo: Element | undefined): void => {
      if (photo !== undefined) added.add(photo);
    };

    ctx.handleIq(
      'get',
      NS.VCARD,
      'vCard',
      async ({ from, to }) => {
        const stored = await store.get(to.domain, to.local);
        if (stored !== undefined) return parseStored(stored);
        if (to.bare === from.bare) return x('vCard', { xmlns: NS.VCARD });
        throw new StanzaError('service-unavailable');
      },
      'account',
    );

    ctx.handleIq(
      'set',
      NS.VCARD,
      'vCard',
      async (request) => {
        const { payload, from, to } = request;
        if (to.bare !== from.bare) throw new StanzaError('forbidden', 'only its owner may change a vCard');
        if (payload.elements.length === 0) {
          await save(to, undefined);
        } else {
          const xml = serializeDetached(payload);
          const size = xml.length * 3 <= maxSize ? xml.length : Buffer.byteLength(xml);
          if (size > maxSize) {
            refuseWithoutEcho(
              request,
              new StanzaError(
                'not-acceptable',
                `the vCard is ${size} bytes; this server keeps vCards of up to ${maxSize} bytes`,
              ),
            );
          }
          await save(to, payload, xml);
        }
        for (const listener of listeners) {
          try {
            await listener(to.bareJID(), payload.elements.length === 0 ? undefined : payload);
          } catch (error) {
            ctx.log.error('a vCard listener failed', { account: to.bare, error });
          }
        }
        return undefined;
      },
      'account',
    );

    /** Stores (or, without a vCard, removes) the account's vCard; presence gets the new hash. */
    async function save(account: JID, vCard: Element | undefined, xml?: string): Promise<void> {
      let hash = '';
      if (vCard === undefined) {
        await store.delete(account.domain, account.local);
      } else {
        hash = photoHash(vCard);
        await store.put(account.domain, account.local, xml ?? serializeDetached(vCard), hash);
      }
      hashes.set(account, hash);
      refreshPresence(account, hash);
    }

    const service: VCardService = {
      async get(account) {
        const stored = await store.get(account.domain, account.local);
        return stored === undefined ? undefined : parseStored(stored);
      },
      put: (account, vCard) => save(account, vCard),
      watch(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    ctx.provide('vcard', service);

    // §3.2: the server's own vCard is nobody's to change. (Reading it falls to the router's
    // service-unavailable: the server has no vCard, and §3.3 answers that for any entity.)
    ctx.handleIq('set', NS.VCARD, 'vCard', () => {
      throw new StanzaError('forbidden', "the server's vCard cannot be changed in-band");
    });

    /** Adds the photo hash to an available presence from a client that gave none. */
    const decorate = ({ stanza, from }: StanzaEvent): void | Promise<void> => {
      if (stanza.name !== 'presence' || !lacksPhoto(stanza)) return;
      const known = hashes.get(from.bare);
      if (known !== undefined) {
        remember(addPhoto(stanza, known));
        return;
      }
      return hashes.fetch(from.bareJID()).then(
        (hash) => remember(addPhoto(stanza, hash)),
        // The presence still goes out, only without the hash.
        (err: unknown) => ctx.log.error('cannot read the photo hash', { account: from.bare, error: err }),
      );
    };
    ctx.hook('presence/broadcast', decorate, 100);
    // §4.1 rule 1: directed presence (joining a room, say) carries the hash too. Broadcast
    // presence passes here first as well, without `to`, and is decorated above instead.
    ctx.hook(
      'pre-route',
      (event) => (event.stanza.attrs.to === undefined ? undefined : decorate(event)),
      100,
    );

    // Loaded ahead, so that the initial presence a moment later is decorated without waiting.
    ctx.hook('session/bound', ({ session }) => {
      hashes.fetch(session.jid.bareJID()).catch((err: unknown) => {
        ctx.log.error('cannot read the photo hash', { account: session.jid.bare, error: err });
      });
    });
    ctx.hook('session/closed', ({ session }) => {
      if (!sessions.hasResources(session.jid.bareJID())) hashes.forget(session.jid.bare);
    });
    ctx.hook('account/deleted', ({ jid }) => {
      hashes.forget(jid.bare);
    });

    /**
     * After a vCard change, the presence each session last broadcast (kept for answering probes)
     * gets the new hash where this module had put the old one. XEP-0153 clients send a new
     * presence themselves (§4.2 rule 1); the others will carry the new hash in their next one.
     */
    function refreshPresence(account: JID, hash: string): void {
      for (const session of sessions.resources(account)) {
        const photo = session.presence?.getChild('x', NS.VCARD_UPDATE)?.getChild('photo', NS.VCARD_UPDATE);
        if (photo !== undefined && added.has(photo)) setPhoto(photo, hash);
      }
    }
  },
});

/**
 * Refuses a request without echoing its payload in the error (RFC 6120 §8.3.1 makes the echo
 * optional): sending a too-large vCard back to its sender helps nobody.
 */
function refuseWithoutEcho(request: IqRequest, error: StanzaError): never {
  request.stanza.remove(request.payload);
  throw error;
}
