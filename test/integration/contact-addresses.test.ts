// XEP-0157 contact addresses: the serverinfo form of XEP-0128 in the server's disco#info
// (§3, the fields of §7.1) with the addresses from the config, absent when none is
// configured, and addresses that are not URIs refused when the config is loaded.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { moduleSections } from '../../src/modules.js';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DATA_FORMS = 'jabber:x:data';

let counter = 0;

async function discoInfo(client: TestClient): Promise<XmlElement> {
  const id = `contact-${++counter}`;
  await client.send(xml('iq', { type: 'get', to: 'localhost', id }, xml('query', { xmlns: DISCO_INFO })));
  const reply = await client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.getChild('query', DISCO_INFO)!;
}

/** A form as plain data: its attributes, then each field's attributes and values, in order. */
function formData(form: XmlElement) {
  return {
    attrs: form.attrs,
    fields: form.children.map((field) => {
      if (typeof field === 'string') throw new Error(`text in the form: ${form.toString()}`);
      return {
        name: field.name,
        attrs: field.attrs,
        values: field.children.map((v) => {
          if (typeof v === 'string' || v.name !== 'value')
            throw new Error(`not a value: ${field.toString()}`);
          return v.getText();
        }),
      };
    }),
  };
}

async function serverWithAlice(extraToml?: string): Promise<{ ts: TestServer; alice: TestClient }> {
  const ts = await startTestServer(extraToml === undefined ? {} : { extraToml });
  await ts.addUser('alice', 'alice-secret');
  const alice = await connect({
    port: ts.port,
    domain: 'localhost',
    username: 'alice',
    password: 'alice-secret',
    mechanism: 'PLAIN',
  });
  return { ts, alice };
}

describe('XEP-0157 contact addresses', () => {
  describe('with addresses configured', () => {
    let ts: TestServer;
    let alice: TestClient;

    before(async () => {
      ({ ts, alice } = await serverWithAlice(
        [
          '[contact_addresses]',
          'abuse = ["mailto:abuse@example.org", "xmpp:abuse@example.org"]',
          'admin = ["xmpp:admin@example.org"]',
          'security = ["https://example.org/.well-known/security.txt"]',
          'status = ["https://status.example.org"]',
          'support = ["xmpp:support@conference.example.org?join", "https://example.org/help"]',
        ].join('\n'),
      ));
    });
    after(async () => {
      await alice?.stop().catch(() => {});
      await ts?.stop();
    });

    it('adds the serverinfo form with the configured roles only, in the order of the §7.1 registry', async () => {
      const query = await discoInfo(alice);
      const forms = query.getChildren('x', DATA_FORMS);
      expect(forms).to.have.length(1);
      const list = (name: string, ...values: string[]) => ({
        name: 'field',
        attrs: { var: `${name}-addresses`, type: 'list-multi' },
        values,
      });
      expect(formData(forms[0]!)).to.deep.equal({
        attrs: { xmlns: DATA_FORMS, type: 'result' },
        fields: [
          {
            name: 'field',
            attrs: { var: 'FORM_TYPE', type: 'hidden' },
            values: ['http://jabber.org/network/serverinfo'],
          },
          list('abuse', 'mailto:abuse@example.org', 'xmpp:abuse@example.org'),
          list('admin', 'xmpp:admin@example.org'),
          list('security', 'https://example.org/.well-known/security.txt'),
          list('status', 'https://status.example.org'),
          list('support', 'xmpp:support@conference.example.org?join', 'https://example.org/help'),
        ],
      });
    });

    it('comes after the identities and features', async () => {
      const query = await discoInfo(alice);
      const names = query.children.map((c) => (typeof c === 'string' ? '#text' : c.name));
      expect(names.at(-1)).to.equal('x');
      expect(names.indexOf('x')).to.equal(names.length - 1);
    });
  });

  describe('without addresses', () => {
    let ts: TestServer;
    let alice: TestClient;

    before(async () => {
      ({ ts, alice } = await serverWithAlice());
    });
    after(async () => {
      await alice?.stop().catch(() => {});
      await ts?.stop();
    });

    it('adds no form', async () => {
      const query = await discoInfo(alice);
      expect(query.getChildren('x', DATA_FORMS)).to.deep.equal([]);
      expect(query.getChildren('feature').length).to.be.above(0);
    });
  });

  describe('config', () => {
    function load(toml: string) {
      return loadConfig({ text: toml }, moduleSections());
    }

    it('defaults every role to an empty list', () => {
      expect(load('').contact_addresses).to.deep.equal({
        abuse: [],
        admin: [],
        feedback: [],
        sales: [],
        security: [],
        status: [],
        support: [],
      });
    });

    const invalid: Array<[string, string]> = [
      ['abuse@example.org', 'no scheme'],
      ['mailto:', 'nothing after the scheme'],
      ['mailto:abuse @example.org', 'whitespace'],
      ['1http://example.org', 'a scheme must start with a letter'],
      ['', 'empty'],
    ];
    for (const [address, why] of invalid) {
      it(`refuses ${JSON.stringify(address)} (${why}) with the key it is at`, () => {
        let error: unknown;
        try {
          load(`[contact_addresses]\nfeedback = ["mailto:feedback@example.org", ${JSON.stringify(address)}]`);
        } catch (err) {
          error = err;
        }
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as ConfigError).code).to.equal('CONFIG_VALUE');
        expect((error as ConfigError).key).to.equal('contact_addresses.feedback[1]');
        expect((error as ConfigError).message).to.include('must be a URI');
      });
    }

    it('refuses the same address twice in one role', () => {
      expect(() =>
        load('[contact_addresses]\nadmin = ["xmpp:admin@example.org", "xmpp:admin@example.org"]'),
      ).to.throw(ConfigError);
    });
  });
});
