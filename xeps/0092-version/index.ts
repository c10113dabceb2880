// XEP-0092: Software Version — https://xmpp.org/extensions/xep-0092.html
// The operating system is left out unless the operator opts in: §5 notes that it helps an
// attacker pick exploits.

import { release, type } from 'node:os';
import { bool, type ConfigOf, section } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

const configSection = section({
  doc: 'XEP-0092 software version answers.',
  fields: {
    show_os: bool({
      default: false,
      doc: 'Include the operating system in version answers (helps attackers; off by default).',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'version',
  implements: [
    {
      spec: { xep: 92 },
      title: 'Software Version',
      version: '1.1',
      status: 'complete',
      since: '0.1.0',
      tests: ['test/integration/ping-version-time.test.ts'],
    },
  ],
  features: [NS.VERSION],
  configSection,
  setup(ctx) {
    const os = ctx.config.show_os ? `${type()} ${release()}` : undefined;
    ctx.handleIq('get', NS.VERSION, 'query', () =>
      x(
        'query',
        { xmlns: NS.VERSION },
        x('name', null, 'Warbler'),
        x('version', null, ctx.server.version),
        os !== undefined && x('os', null, os),
      ),
    );
  },
});
