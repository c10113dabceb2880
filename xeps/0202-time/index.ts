// XEP-0202: Entity Time — https://xmpp.org/extensions/xep-0202.html
// §4: the server's time as UTC plus its offset from UTC, in XEP-0082 formats.

import { defineModule } from '../../src/core/module.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'time',
  implements: [
    {
      spec: { xep: 202 },
      title: 'Entity Time',
      version: '2.0',
      status: 'complete',
      since: '0.1.0',
      tests: ['test/integration/ping-version-time.test.ts'],
    },
  ],
  features: [NS.TIME],
  setup(ctx) {
    ctx.handleIq('get', NS.TIME, 'time', () => {
      const now = new Date();
      return x('time', { xmlns: NS.TIME }, x('tzo', null, tzo(now)), x('utc', null, utc(now)));
    });
  },
});

/** The local offset from UTC as ±hh:mm (XEP-0082 §2.2). */
export function tzo(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** UTC with millisecond precision, as XEP-0082 DateTime allows. */
export function utc(date: Date): string {
  return date.toISOString();
}
