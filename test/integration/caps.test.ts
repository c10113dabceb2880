// XEP-0115 entity capabilities of the server: the <c/> stream feature (§6.3) before and after
// authentication, its 'ver' recomputed here from the server's disco#info answer as a client
// would (§5.1, §5.4), the '<node>#<ver>' query (§6.2), a new 'ver' when the features change
// (§6.1), and the same 'ver' after a restart on the same data.
//
// The features are read over a raw socket (no client library shows them); disco#info is asked
// with @xmpp/client, and the hash is computed here independently of the server's code.

import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { Element } from '../../src/xml/element.js';
import {
  connect,
  expectAfter,
  openStream,
  plainCredentials,
  qname,
  RawClient,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CAPS = 'http://jabber.org/protocol/caps';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DATA_FORMS = 'jabber:x:data';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NODE = 'https://github.com/warbler-xmpp/warbler';

// Contact addresses give the disco#info answer a XEP-0128 form, which the hash covers.
const CONTACTS = [
  '[contact_addresses]',
  'abuse = ["mailto:abuse@example.org", "xmpp:abuse@example.org"]',
  'admin = ["xmpp:admin@example.org"]',
].join('\n');

let counter = 0;

/** Sends a disco#info get to the server and resolves with the reply. */
async function discoInfo(client: TestClient, node?: string): Promise<XmlElement> {
  const id = `caps-${++counter}`;
  const attrs: Record<string, string> = { xmlns: DISCO_INFO };
  if (node !== undefined) attrs.node = node;
  await client.send(xml('iq', { type: 'get', to: 'localhost', id }, xml('query', attrs)));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

// ---- §5.1, written from the spec for this test ----

/** i;octet (RFC 4790 §9.3): by the UTF-8 bytes. */
function octets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function clientSideVer(query: XmlElement): string {
  const identities = query.getChildren('identity').map((i) => ({
    category: i.attrs.category ?? '',
    type: i.attrs.type ?? '',
    lang: i.attrs['xml:lang'] ?? '',
    name: i.attrs.name ?? '',
  }));
  identities.sort(
    (a, b) => octets(a.category, b.category) || octets(a.type, b.type) || octets(a.lang, b.lang),
  );
  let s = '';
  for (const i of identities) s += `${i.category}/${i.type}/${i.lang}/${i.name}<`;
  const features = query.getChildren('feature').map((f) => f.attrs.var!);
  // §5.4 3.4: duplicates make the answer ill-formed.
  expect(new Set(features).size, 'duplicate features').to.equal(features.length);
  for (const f of features.sort(octets)) s += `${f}<`;
  const forms = query
    .getChildren('x', DATA_FORMS)
    .map((form) => {
      const fields = form.getChildren('field');
      const formType = fields.find((f) => f.attrs.var === 'FORM_TYPE');
      return { formType: formType?.getChildText('value') ?? '', fields, hidden: formType?.attrs.type };
    })
    .filter((form) => form.hidden === 'hidden');
  forms.sort((a, b) => octets(a.formType, b.formType));
  for (const form of forms) {
    s += `${form.formType}<`;
    const fields = form.fields.filter((f) => f.attrs.var !== 'FORM_TYPE');
    fields.sort((a, b) => octets(a.attrs.var!, b.attrs.var!));
    for (const field of fields) {
      s += `${field.attrs.var}<`;
      const values = field.getChildren('value').map((v) => v.getText());
      for (const v of values.sort(octets)) s += `${v}<`;
    }
  }
  return createHash('sha1').update(s, 'utf8').digest('base64');
}

// ---- stream features over a raw socket ----

interface Features {
  plaintext: Element;
  tls: Element;
  authenticated: Element;
}

/** Logs in step by step and keeps the features of each of the three streams. */
async function featuresOfLogin(port: number, username: string, password: string): Promise<Features> {
  const raw = await RawClient.connect(port);
  try {
    const plaintext = await openStream(raw);
    raw.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await raw.expect(/<proceed [^>]*\/>/);
    await raw.startTls();
    const tls = await openStream(raw);
    const since = raw.received.length;
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plainCredentials(username, password)}</auth>`,
    );
    await expectAfter(raw, since, /<success[ />]/);
    const authenticated = await openStream(raw);
    return { plaintext, tls, authenticated };
  } finally {
    raw.close();
  }
}

/** The <c/> among the features, checked to be exactly what §6.3 shows; returns its ver. */
function capsVer(features: Element): string {
  const c = features.elements.filter((el) => qname(el) === `${CAPS} c`);
  expect(c, features.toString()).to.have.length(1);
  const { ver, ...rest } = c[0]!.attrs;
  expect(rest).to.deep.equal({ xmlns: CAPS, hash: 'sha-1', node: NODE });
  expect(c[0]!.children).to.deep.equal([]);
  expect(ver).to.match(/^[A-Za-z0-9+/]{27}=$/); // a SHA-1 in Base64
  return ver!;
}

describe('XEP-0115 entity capabilities of the server', () => {
  let ts: TestServer;
  let alice: TestClient;

  before(async () => {
    ts = await startTestServer({ extraToml: CONTACTS });
    await ts.addUser('alice', 'alice-secret');
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
      resource: 'r',
      mechanism: 'PLAIN',
    });
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  it('advertises <c/> with one ver before TLS, after TLS and after authentication (§6.3)', async () => {
    const features = await featuresOfLogin(ts.port, 'alice', 'alice-secret');
    const ver = capsVer(features.plaintext);
    expect(capsVer(features.tls)).to.equal(ver);
    expect(capsVer(features.authenticated)).to.equal(ver);
  });

  it('lists the caps feature in disco#info (§7)', async () => {
    const reply = await discoInfo(alice);
    const vars = reply
      .getChild('query', DISCO_INFO)!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(vars).to.include(CAPS);
  });

  it('has the ver a client computes from the disco#info answer, contact form included (§5.1)', async () => {
    const ver = capsVer((await featuresOfLogin(ts.port, 'alice', 'alice-secret')).authenticated);
    const reply = await discoInfo(alice);
    expect(reply.attrs.type).to.equal('result');
    const query = reply.getChild('query', DISCO_INFO)!;
    // The hash is over a form here, not only identities and features.
    expect(query.getChildren('x', DATA_FORMS)).to.have.length(1);
    expect(clientSideVer(query)).to.equal(ver);
  });

  it("answers disco#info to '<node>#<ver>' as to no node, naming the node (§6.2)", async () => {
    const ver = capsVer((await featuresOfLogin(ts.port, 'alice', 'alice-secret')).tls);
    const plain = (await discoInfo(alice)).getChild('query', DISCO_INFO)!;
    const reply = await discoInfo(alice, `${NODE}#${ver}`);
    expect(reply.attrs.type).to.equal('result');
    expect(reply.attrs.from).to.equal('localhost');
    const query = reply.getChild('query', DISCO_INFO)!;
    expect(query.attrs.node).to.equal(`${NODE}#${ver}`);
    expect(query.children.map(String)).to.deep.equal(plain.children.map(String));
    expect(clientSideVer(query)).to.equal(ver);
  });

  it('answers item-not-found for a ver that is not the current one', async () => {
    const reply = await discoInfo(alice, `${NODE}#QgayPKawpkPSDYmwT/WM94uAlu0=`);
    expect(reply.attrs.type).to.equal('error');
    const error = reply.getChild('error')!;
    expect(error.attrs.type).to.equal('cancel');
    expect(error.getChild('item-not-found', STANZAS)).to.not.equal(undefined);
  });

  it('computes a new ver when a module adds a feature, and the old one stops answering (§6.1)', async () => {
    const before = capsVer((await featuresOfLogin(ts.port, 'alice', 'alice-secret')).authenticated);
    const remove = ts.server.disco.addFeature('urn:example:caps-test');
    let after: string;
    try {
      after = capsVer((await featuresOfLogin(ts.port, 'alice', 'alice-secret')).authenticated);
      expect(after).to.not.equal(before);
      const query = (await discoInfo(alice)).getChild('query', DISCO_INFO)!;
      expect(clientSideVer(query)).to.equal(after);
      expect((await discoInfo(alice, `${NODE}#${before}`)).attrs.type).to.equal('error');
      expect((await discoInfo(alice, `${NODE}#${after}`)).attrs.type).to.equal('result');
    } finally {
      remove();
    }
    expect(capsVer((await featuresOfLogin(ts.port, 'alice', 'alice-secret')).authenticated)).to.equal(before);
  });
});

describe('XEP-0115 ver across a restart', () => {
  it('stays the same when the server restarts on the same directory and config', async () => {
    const first = await startTestServer({ extraToml: CONTACTS });
    const dir = first.dir;
    let ver: string;
    try {
      await first.addUser('alice', 'alice-secret');
      ver = capsVer((await featuresOfLogin(first.port, 'alice', 'alice-secret')).authenticated);
    } finally {
      await first.server.stop();
    }
    const second = await startTestServer({ dir, extraToml: CONTACTS });
    try {
      // The account is still there (it is in SQLite), and the caps are unchanged.
      expect(capsVer((await featuresOfLogin(second.port, 'alice', 'alice-secret')).authenticated)).to.equal(
        ver,
      );
    } finally {
      await second.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
