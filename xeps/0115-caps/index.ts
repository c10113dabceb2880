// XEP-0115: Entity Capabilities — https://xmpp.org/extensions/xep-0115.html
// For the server itself: §6.3 the <c/> stream feature, before and after authentication, with
// the §5.1 verification string of the server's disco#info; §7 the caps feature in disco.
// The disco module answers the §6.2 query to '<node>#<ver>' through the CapsService.
// Clients' caps in presence pass through untouched (no §8.4 caps optimization); the PEP
// module reads them, verifies them with verification.ts and caches them (§5.4) to filter its
// notifications (xeps/0163-pep/caps.ts).

import { defineModule } from '../../src/core/module.js';
import type { FeatureProvider } from '../../src/core/stream-features.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { CapsService } from './service.js';
import { verificationInput, verificationString } from './verification.js';

/** Names the software (§4: a URL where a user finds out about it). */
export const CAPS_NODE = 'https://github.com/warbler-xmpp/warbler';

export default defineModule({
  name: 'caps',
  implements: [
    {
      spec: { xep: 115 },
      title: 'Entity Capabilities',
      version: '1.6.0',
      status: 'complete',
      note:
        "the server's own caps as a stream feature; clients' caps verified and cached (§5.4) for PEP " +
        'notifications; no caps optimization',
      since: '0.1.0',
      tests: [
        'test/integration/caps.test.ts',
        'test/unit/caps.test.ts',
        'xeps/0163-pep/caps.test.ts',
        'test/integration/pep.test.ts',
      ],
    },
  ],
  features: [NS.CAPS],
  setup(ctx) {
    const disco = ctx.server.disco;
    // Modules may add features at any time, and a changed disco#info needs a new 'ver'
    // (§6.1); S is cheap to build, the hash is what is kept.
    const last = new Map<string, { input: string; ver: string }>();
    const ver = (host: string): string => {
      const input = verificationInput(
        disco.serverIdentities(),
        disco.serverFeatures(),
        disco.serverExtensions(host),
      );
      const cached = last.get(host);
      if (cached?.input === input) return cached.ver;
      const fresh = verificationString(input);
      last.set(host, { input, ver: fresh });
      return fresh;
    };
    const service: CapsService = { node: CAPS_NODE, ver };
    ctx.provide('caps', service);

    const feature: FeatureProvider = ({ host }) =>
      x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: CAPS_NODE, ver: ver(host) });
    ctx.addStreamFeature(feature, 'pre-auth');
    ctx.addStreamFeature(feature, 'post-auth');
  },
});
