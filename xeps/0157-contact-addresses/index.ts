// XEP-0157: Contact Addresses for XMPP Services — https://xmpp.org/extensions/xep-0157.html
// §3: the operator's contact addresses, as a XEP-0128 form with the FORM_TYPE
// http://jabber.org/network/serverinfo in the disco#info of every host; §7.1 the registered
// fields. Nothing is added while no address is configured.

import { type ConfigOf, type ItemRule, section, strList } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

// Loose on purpose (§3: the values SHOULD be URIs): a scheme, a colon and something without
// whitespace catches a bare address or a pasted sentence, and accepts every real scheme.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

const uri: ItemRule = {
  expected: 'a URI such as mailto:abuse@example.org, xmpp:admin@example.org or https://example.org/support',
  parse: (value) => (URI.test(value) ? value : undefined),
};

function addresses(doc: string) {
  return strList({ default: [], unique: true, item: uri, doc });
}

const configSection = section({
  doc: "XEP-0157 contact addresses, published in the server's service discovery (empty lists are left out).",
  fields: {
    abuse: addresses('Where to report abuse (spam, harassment) coming from this server.'),
    admin: addresses("The server's administrators."),
    feedback: addresses('Where users send feedback.'),
    sales: addresses('Sales and marketing inquiries.'),
    security: addresses('Where to report security problems.'),
    status: addresses("Where the service's status is published (a status page)."),
    support: addresses('Where users get help.'),
  },
});

type ContactConfig = ConfigOf<typeof configSection>;

/** The config keys in the order of the §7.1 registry, whose fields are named '<key>-addresses'. */
const ROLES = ['abuse', 'admin', 'feedback', 'sales', 'security', 'status', 'support'] as const;

/** The serverinfo form, or undefined when no address is configured. */
export function contactForm(config: ContactConfig): Element | undefined {
  const form = x(
    'x',
    { xmlns: NS.DATA_FORMS, type: 'result' },
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, NS.SERVERINFO)),
  );
  let any = false;
  for (const role of ROLES) {
    const list = config[role];
    if (list.length === 0) continue;
    any = true;
    form.append(
      x(
        'field',
        { var: `${role}-addresses`, type: 'list-multi' },
        list.map((address) => x('value', null, address)),
      ),
    );
  }
  return any ? form : undefined;
}

export default defineModule<ContactConfig>({
  name: 'contact_addresses',
  implements: [
    {
      spec: { xep: 157 },
      title: 'Contact Addresses for XMPP Services',
      version: '1.1.1',
      status: 'complete',
      note: 'addresses from the [contact_addresses] config section, the same for every host',
      since: '0.1.0',
      tests: ['test/integration/contact-addresses.test.ts'],
    },
  ],
  configSection,
  setup(ctx) {
    const form = contactForm(ctx.config);
    // A copy per answer: the reply adopts the element it is given.
    if (form) ctx.addDiscoExtension(() => form.clone());
  },
});
