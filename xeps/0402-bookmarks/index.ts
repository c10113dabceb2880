// XEP-0402: PEP Native Bookmarks — https://xmpp.org/extensions/xep-0402.html
// The bookmarks themselves are ordinary PEP items (the pep module serves them, with the
// publish-options of §4.2). This module does §5.3 and §6: it keeps XEP-0048 bookmarks in
// private storage ("#compat") and in the legacy PEP node ("#compat-pep") in step with the
// native node (sync.ts), and announces both features on accounts.
// XEP-0048: Bookmarks — https://xmpp.org/extensions/xep-0048.html — is served the same way:
// §3 through XEP-0049 private storage and through the 'storage:bookmarks' PEP node.

import { defineModule } from '../../src/core/module.js';
import { NS } from '../../src/xml/ns.js';
import { BookmarkSync } from './sync.js';

const TESTS = ['test/integration/bookmarks.test.ts', 'xeps/0402-bookmarks/convert.test.ts'];

export default defineModule({
  name: 'bookmarks',
  implements: [
    {
      spec: { xep: 402 },
      title: 'PEP Native Bookmarks',
      version: '1.2.0',
      status: 'complete',
      note: 'kept in step with XEP-0048 bookmarks in private storage (#compat) and in PEP (#compat-pep)',
      since: '0.1.0',
      tests: TESTS,
    },
    {
      spec: { xep: 48 },
      title: 'Bookmarks',
      version: '1.2',
      status: 'complete',
      note:
        'in private storage and in the storage:bookmarks PEP node, both kept in step with XEP-0402; ' +
        'URL bookmarks stay in the XEP-0048 copies only',
      since: '0.1.0',
      tests: TESTS,
    },
  ],
  setup(ctx) {
    const { server } = ctx;
    const pep = server.services.get('pep');
    if (pep === undefined) {
      ctx.log.warn('the pep module is not loaded: bookmarks are not kept in step');
      return;
    }
    const privateStorage = server.services.get('privateStorage');
    const sync = new BookmarkSync(pep, privateStorage, ctx.log);
    ctx.onUnload(server.disco.addAccountFeature(NS.BOOKMARKS_COMPAT_PEP));
    ctx.onUnload(pep.watch(NS.BOOKMARKS, (change) => sync.nativeChanged(change)));
    ctx.onUnload(pep.watch(NS.STORAGE_BOOKMARKS, (change) => sync.legacyChanged(change)));
    if (privateStorage !== undefined) {
      ctx.onUnload(server.disco.addAccountFeature(NS.BOOKMARKS_COMPAT));
      ctx.onUnload(
        privateStorage.watch(NS.STORAGE_BOOKMARKS, 'storage', (account, storage) =>
          sync.privateChanged(account, storage),
        ),
      );
    }
    ctx.hook('session/bound', ({ session }) => {
      void sync.migrate(session.jid.bareJID());
    });
  },
});
