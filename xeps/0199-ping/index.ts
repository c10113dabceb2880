// XEP-0199: XMPP Ping — https://xmpp.org/extensions/xep-0199.html
// §4.2 client-to-server ping: the server answers with an empty result. §4.1 server-to-client
// pings of idle sessions to find dead connections: see idle-pings.ts.

import { type ConfigOf, int, section } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import { NS } from '../../src/xml/ns.js';
import { IdlePinger } from './idle-pings.js';

const configSection = section({
  doc: 'XEP-0199 pings: the server answers them, and pings quiet clients to find dead connections.',
  fields: {
    interval: int({
      default: 300,
      min: 0,
      max: 86_400,
      unit: 'seconds',
      doc:
        'Silence after which the server pings a client to check that its connection still works; 0 turns ' +
        'server pings off. A few minutes suits most servers: shorter intervals cost mobile clients battery.',
    }),
    timeout: int({
      default: 60,
      min: 1,
      max: 3_600,
      unit: 'seconds',
      doc:
        'How long a pinged client has to answer before its connection is closed as dead ' +
        '(connection-timeout); 30 to 120 seconds allows for slow mobile networks.',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'ping',
  implements: [
    {
      spec: { xep: 199 },
      title: 'XMPP Ping',
      version: '2.0.1',
      status: 'complete',
      note: 'answers pings; pings clients idle for [ping] interval and closes those that stay silent',
      since: '0.1.0',
      tests: ['test/integration/ping-version-time.test.ts', 'test/integration/server-ping.test.ts'],
    },
  ],
  features: [NS.PING],
  configSection,
  setup(ctx) {
    ctx.handleIq('get', NS.PING, 'ping', () => undefined);

    const { interval, timeout } = ctx.config;
    if (interval === 0) return;
    const pinger = new IdlePinger(
      { sessions: ctx.server.sessions, pending: ctx.server.router.pending },
      { intervalMs: interval * 1000, timeoutMs: timeout * 1000 },
    );
    ctx.hook('session/closed', ({ session }) => pinger.forget(session));
    pinger.start();
    ctx.onUnload(() => pinger.stop());
  },
});
