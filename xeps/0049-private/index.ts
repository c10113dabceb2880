// XEP-0049: Private XML Storage — https://xmpp.org/extensions/xep-0049.html
// §2.3: a set stores each child of <query/> under its (namespace, local name), replacing what
// was there; a get names one child and is answered with what is stored, or with that child
// empty when nothing is. Only the account itself may read or write (anyone else: forbidden,
// which the section prefers); a query without a namespaced child is not-acceptable (the
// section's MUST), and so is a reserved namespace (optional there, done here).
// Other modules read and write here, and hear of clients' sets, through the service in
// service.ts (the bookmarks module keeps XEP-0048 bookmarks in step with XEP-0402).

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import { StanzaError } from '../../src/core/errors.js';
import type { IqRequest } from '../../src/core/iq.js';
import { defineModule } from '../../src/core/module.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { parseStored, serializeDetached } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { isEmptyElement, isReservedNamespace } from './rules.js';
import type { PrivateListener, PrivateStorageService } from './service.js';
import { PRIVATE_MIGRATIONS, type PrivateItem, SqlitePrivateStore } from './store.js';

const configSection = section({
  doc: 'XEP-0049 private XML storage (client preferences, legacy bookmarks).',
  fields: {
    quota: int({
      default: 1048576,
      min: 1024,
      max: 1073741824,
      unit: 'bytes',
      doc: 'Most private XML one account may store, in bytes of XML over all its elements.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'private',
  implements: [
    {
      spec: { xep: 49 },
      title: 'Private XML Storage',
      version: '1.2',
      status: 'complete',
      note: 'reserved namespaces refused; a per-account quota',
      since: '0.1.0',
      tests: ['test/integration/private.test.ts', 'xeps/0049-private/rules.test.ts'],
    },
  ],
  configSection,
  storage: PRIVATE_MIGRATIONS,
  setup(ctx) {
    const store = new SqlitePrivateStore(ctx.server.db);
    const quota = ctx.config.quota;
    const watchers = new Map<string, Set<PrivateListener>>();
    const service: PrivateStorageService = {
      async get(account, namespace, name) {
        const stored = await store.get(account.domain, account.local, namespace, name);
        return stored === undefined ? undefined : parseStored(stored);
      },
      async put(account, element) {
        const xml = isEmptyElement(element) ? undefined : serializeDetached(element);
        const item = { namespace: element.getNS() ?? '', name: element.localName, xml, size: 0 };
        if (xml !== undefined) item.size = Buffer.byteLength(xml);
        await store.put(account.domain, account.local, [item], Number.MAX_SAFE_INTEGER);
      },
      watch(namespace, name, listener) {
        const key = `${name} ${namespace}`;
        const set = watchers.get(key) ?? new Set();
        watchers.set(key, set.add(listener));
        return () => set.delete(listener);
      },
    };
    ctx.provide('privateStorage', service);

    /** Tells the watchers of the keys a client just stored; their failures are theirs, logged. */
    const tell = async (account: JID, stored: ReadonlyMap<string, Element | undefined>): Promise<void> => {
      for (const [key, element] of stored) {
        for (const listener of watchers.get(key) ?? []) {
          try {
            await listener(account, element);
          } catch (error) {
            ctx.log.error('a private storage listener failed', { account: account.bare, error });
          }
        }
      }
    };

    ctx.handleIq(
      'get',
      NS.PRIVATE,
      'query',
      async (request) => {
        const { payload, to } = request;
        checkOwner(request);
        const children = payload.elements;
        if (children.length === 0) throw missingChild();
        if (children.length > 1) throw new StanzaError('bad-request', 'ask for one element at a time');
        const key = storageKey(children[0]!);
        const stored = await store.get(to.domain, to.local, key.namespace, key.name);
        const element = stored === undefined ? x(key.name, { xmlns: key.namespace }) : parseStored(stored);
        return x('query', { xmlns: NS.PRIVATE }, element);
      },
      'account',
    );

    ctx.handleIq(
      'set',
      NS.PRIVATE,
      'query',
      async (request) => {
        const { payload, to } = request;
        checkOwner(request);
        const children = payload.elements;
        if (children.length === 0) throw missingChild();
        // The last element for a key wins, as if they had been stored one after the other.
        const items = new Map<string, PrivateItem>();
        const stored = new Map<string, Element | undefined>();
        for (const child of children) {
          const { namespace, name } = storageKey(child);
          const xml = isEmptyElement(child) ? undefined : serializeDetached(child);
          const size = xml === undefined ? 0 : Buffer.byteLength(xml);
          items.set(`${name} ${namespace}`, { namespace, name, xml, size });
          stored.set(`${name} ${namespace}`, xml === undefined ? undefined : child);
        }
        const outcome = await store.put(to.domain, to.local, [...items.values()], quota);
        if (!outcome.stored) {
          // Not echoed: the payload is what did not fit.
          request.stanza.remove(payload);
          throw new StanzaError(
            'not-acceptable',
            `private storage would hold ${outcome.total} bytes; this server keeps up to ${quota} per account`,
          );
        }
        if (watchers.size > 0) await tell(to.bareJID(), stored);
        return undefined;
      },
      'account',
    );
  },
});

/** §2.3: only the account itself (a get or set without `to`, or to its own bare JID). */
function checkOwner({ from, to }: IqRequest): void {
  if (to.bare !== from.bare) throw new StanzaError('forbidden', "another account's private data is private");
}

function missingChild(): StanzaError {
  return new StanzaError('not-acceptable', 'the query needs a child element in a namespace of its own');
}

function storageKey(child: Element): { namespace: string; name: string } {
  const namespace = child.getNS();
  if (namespace === undefined || namespace === NS.PRIVATE) throw missingChild();
  if (isReservedNamespace(namespace)) {
    throw new StanzaError('not-acceptable', `${namespace} is a reserved namespace`);
  }
  return { namespace, name: child.localName };
}
