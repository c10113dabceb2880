// XEP-0199: XMPP Ping — https://xmpp.org/extensions/xep-0199.html
// §4.2 client-to-server ping: the server answers with an empty result.

import { defineModule } from '../../src/core/module.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'ping',
  implements: [
    {
      spec: { xep: 199 },
      title: 'XMPP Ping',
      version: '2.0.1',
      status: 'partial',
      note: 'answers pings; server-initiated pings to detect dead connections are not sent yet',
      since: '0.1.0',
      tests: ['test/integration/ping-version-time.test.ts'],
    },
  ],
  features: [NS.PING],
  setup(ctx) {
    ctx.handleIq('get', NS.PING, 'ping', () => undefined);
  },
});
