// XEP-0199 XMPP Ping, XEP-0092 Software Version and XEP-0202 Entity Time, asked of the
// server by a real client over STARTTLS.
//
// XEP-0199 §4.2 (client-to-server ping); XEP-0092 §2 (the answer), §5 (the OS is private);
// XEP-0202 §3–4 and XEP-0082 §3.2–3.3 (tzo and utc formats).

import { readFileSync } from 'node:fs';
import { release, type } from 'node:os';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

let counter = 0;

/** Sends an iq get with a fresh id and resolves with the reply that carries the same id. */
async function get(client: TestClient, payload: XmlElement, to?: string): Promise<XmlElement> {
  const id = `pvt-${++counter}`;
  const attrs: Record<string, string> = { type: 'get', id };
  if (to !== undefined) attrs.to = to;
  await client.send(xml('iq', attrs, payload));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

/** Element children only (whitespace between them, if any, is not content). */
function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

async function startWithClient(extraToml?: string): Promise<{ ts: TestServer; alice: TestClient }> {
  const ts = await startTestServer(extraToml === undefined ? {} : { extraToml });
  await ts.addUser('alice', 'alice-secret');
  const alice = await connect({
    port: ts.port,
    domain: 'localhost',
    username: 'alice',
    password: 'alice-secret',
    resource: 'r',
  });
  return { ts, alice };
}

describe('XEP-0199 ping, XEP-0092 version, XEP-0202 time', () => {
  let ts: TestServer;
  let alice: TestClient;

  before(async () => {
    ({ ts, alice } = await startWithClient());
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  describe('XEP-0199 ping', () => {
    it('answers a ping to the server with an empty result from the server', async () => {
      const reply = await get(alice, xml('ping', { xmlns: 'urn:xmpp:ping' }), 'localhost');
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('localhost');
      expect(reply.attrs.to).to.equal('alice@localhost/r');
      expect(reply.children).to.deep.equal([]);
    });

    it('answers a ping without `to` (RFC 6120 §10.3.3: for the server on the account’s behalf)', async () => {
      const reply = await get(alice, xml('ping', { xmlns: 'urn:xmpp:ping' }));
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.to).to.equal('alice@localhost/r');
      // RFC 6120 §8.1.2.1: the answer to a stanza without `to` comes from the account
      // (its bare JID) or carries no `from` at all.
      expect([undefined, 'alice@localhost']).to.include(reply.attrs.from);
      expect(reply.children).to.deep.equal([]);
    });
  });

  describe('XEP-0092 software version', () => {
    it('names Warbler and the version from package.json, without the operating system', async () => {
      const reply = await get(alice, xml('query', { xmlns: 'jabber:iq:version' }), 'localhost');
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('localhost');
      const query = reply.getChild('query', 'jabber:iq:version')!;
      expect(elements(query).map((e) => e.name)).to.deep.equal(['name', 'version']);
      expect(query.getChildText('name')).to.equal('Warbler');
      expect(query.getChildText('version')).to.equal(PACKAGE_VERSION);
      expect(query.getChild('os')).to.equal(undefined);
    });
  });

  describe('XEP-0202 entity time', () => {
    it('gives the offset as ±hh:mm and UTC in XEP-0082 form, close to now', async () => {
      const before = Date.now();
      const reply = await get(alice, xml('time', { xmlns: 'urn:xmpp:time' }), 'localhost');
      const after = Date.now();
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('localhost');
      const time = reply.getChild('time', 'urn:xmpp:time')!;
      expect(elements(time).map((e) => e.name)).to.deep.equal(['tzo', 'utc']);

      const tzo = time.getChildText('tzo')!;
      expect(tzo).to.match(/^[+-]\d{2}:\d{2}$/);
      // The server runs in this process, so its offset is ours.
      const minutes = -new Date().getTimezoneOffset();
      const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
      const mm = String(Math.abs(minutes) % 60).padStart(2, '0');
      expect(tzo).to.equal(`${minutes < 0 ? '-' : '+'}${hh}:${mm}`);

      const utc = time.getChildText('utc')!;
      expect(utc).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/);
      const at = Date.parse(utc);
      // Within a few seconds of the request (the check is about the clock, not about speed).
      expect(at).to.be.within(before - 5_000, after + 5_000);
    });
  });
});

describe('XEP-0092 with [version] show_os = true', () => {
  let ts: TestServer;
  let alice: TestClient;

  before(async () => {
    ({ ts, alice } = await startWithClient('[version]\nshow_os = true'));
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  it('includes the operating system', async () => {
    const reply = await get(alice, xml('query', { xmlns: 'jabber:iq:version' }), 'localhost');
    const query = reply.getChild('query', 'jabber:iq:version')!;
    expect(elements(query).map((e) => e.name)).to.deep.equal(['name', 'version', 'os']);
    expect(query.getChildText('name')).to.equal('Warbler');
    expect(query.getChildText('version')).to.equal(PACKAGE_VERSION);
    expect(query.getChildText('os')).to.equal(`${type()} ${release()}`);
  });
});
