// XEP-0030 Service Discovery end to end, and the server's answers to iqs it does not
// handle: a real server on loopback, @xmpp/client over STARTTLS.
//
// XEP-0030 §3.1 (disco#info), §3.2 (info nodes), §4.1 (disco#items), §4.2 (item nodes);
// RFC 6120 §8.2.3 (an iq result or error is never answered), §8.3.3.19 service-unavailable;
// RFC 6121 §8.5.1 (no such account); XEP-0086 (legacy error codes).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

let counter = 0;

/** Sends an iq with a fresh id and resolves with the reply that carries the same id. */
async function request(client: TestClient, attrs: Record<string, string>, payload?: XmlElement) {
  const id = `disco-${++counter}`;
  await client.send(payload ? xml('iq', { ...attrs, id }, payload) : xml('iq', { ...attrs, id }));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

/** The error of an error reply, reduced to what the specs fix: type, legacy code, condition. */
function errorOf(reply: XmlElement): { type: string; code: string; condition: string; ns: string } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error');
  expect(error, reply.toString()).to.not.equal(undefined);
  const condition = error!.children.find((c): c is XmlElement => typeof c !== 'string' && c.name !== 'text');
  return {
    type: error!.attrs.type!,
    code: error!.attrs.code!,
    condition: condition!.name,
    ns: condition!.attrs.xmlns!,
  };
}

function features(query: XmlElement): string[] {
  return query.getChildren('feature').map((f) => f.attrs.var!);
}

function identities(query: XmlElement): Array<Record<string, string>> {
  return query.getChildren('identity').map((i) => ({ ...i.attrs }));
}

describe('XEP-0030 service discovery', () => {
  let ts: TestServer;
  let alice: TestClient;

  before(async () => {
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
      resource: 'laptop',
    });
  });
  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
  });

  describe('disco#info of the server', () => {
    it('names the server an IM server and lists the features of the loaded modules', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: DISCO_INFO }),
      );
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('localhost');
      expect(reply.attrs.to).to.equal('alice@localhost/laptop');
      const query = reply.getChild('query', DISCO_INFO)!;
      expect(query.attrs.node).to.equal(undefined);
      expect(identities(query)).to.deep.equal([
        { category: 'server', type: 'im', name: 'Warbler' },
        // XEP-0223 §5: a PEP server says so in its own disco#info too.
        { category: 'pubsub', type: 'pep' },
      ]);
      const vars = features(query);
      expect(vars).to.include.members([
        DISCO_INFO,
        DISCO_ITEMS,
        'urn:xmpp:ping',
        'jabber:iq:version',
        'urn:xmpp:time',
      ]);
      // Each feature once (XEP-0030 §3.1: a <feature/> per namespace).
      expect(new Set(vars).size).to.equal(vars.length);
    });

    it('answers item-not-found for a node the server does not have', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: DISCO_INFO, node: 'http://example.org/no-such-node' }),
      );
      expect(reply.attrs.from).to.equal('localhost');
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '404',
        condition: 'item-not-found',
        ns: STANZAS,
      });
      // The request's payload comes back with the error, so the client can tell which failed.
      expect(reply.getChild('query', DISCO_INFO)?.attrs.node).to.equal('http://example.org/no-such-node');
    });
  });

  describe('disco#items of the server', () => {
    it('lists the services the server hosts, and only those', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: DISCO_ITEMS }),
      );
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('localhost');
      const query = reply.getChild('query', DISCO_ITEMS)!;
      // The group chat service is the only one a default configuration runs.
      expect(query.getChildren('item').map((item) => ({ ...item.attrs }))).to.deep.equal([
        { jid: 'conference.localhost', name: 'Chatrooms' },
      ]);
    });

    it('answers item-not-found for a node the server does not have', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: DISCO_ITEMS, node: 'announcements' }),
      );
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '404',
        condition: 'item-not-found',
        ns: STANZAS,
      });
    });
  });

  describe('disco#info of an account (answered by the server on its behalf)', () => {
    it("identifies another user's existing account as account/registered", async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'bob@localhost' },
        xml('query', { xmlns: DISCO_INFO }),
      );
      expect(reply.attrs.type).to.equal('result');
      expect(reply.attrs.from).to.equal('bob@localhost');
      const query = reply.getChild('query', DISCO_INFO)!;
      // XEP-0163 §6.1: every account is a PEP service.
      expect(identities(query)).to.deep.equal([
        { category: 'account', type: 'registered' },
        { category: 'pubsub', type: 'pep' },
      ]);
      expect(features(query)).to.include(DISCO_INFO);
    });

    it("identifies the user's own account as account/registered", async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'alice@localhost' },
        xml('query', { xmlns: DISCO_INFO }),
      );
      expect(reply.attrs.type).to.equal('result');
      expect(identities(reply.getChild('query', DISCO_INFO)!)).to.deep.equal([
        { category: 'account', type: 'registered' },
        { category: 'pubsub', type: 'pep' },
      ]);
    });

    it('answers service-unavailable for an account that does not exist', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'nobody@localhost' },
        xml('query', { xmlns: DISCO_INFO }),
      );
      expect(reply.attrs.from).to.equal('nobody@localhost');
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '503',
        condition: 'service-unavailable',
        ns: STANZAS,
      });
    });

    it('answers disco#items of an existing account with an empty list, and of a missing one with service-unavailable', async () => {
      const existing = await request(
        alice,
        { type: 'get', to: 'bob@localhost' },
        xml('query', { xmlns: DISCO_ITEMS }),
      );
      expect(existing.attrs.type).to.equal('result');
      expect(existing.getChild('query', DISCO_ITEMS)!.children).to.deep.equal([]);
      const missing = await request(
        alice,
        { type: 'get', to: 'nobody@localhost' },
        xml('query', { xmlns: DISCO_ITEMS }),
      );
      expect(errorOf(missing).condition).to.equal('service-unavailable');
    });
  });

  describe('iqs the server does not handle', () => {
    it('answers a request in an unknown namespace with service-unavailable, code 503 (XEP-0086)', async () => {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: 'urn:example:unknown' }),
      );
      expect(reply.attrs.from).to.equal('localhost');
      expect(reply.attrs.to).to.equal('alice@localhost/laptop');
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '503',
        condition: 'service-unavailable',
        ns: STANZAS,
      });
    });

    it('answers an unknown request without `to` (for the account, RFC 6120 §10.3.3) the same way', async () => {
      const reply = await request(alice, { type: 'get' }, xml('query', { xmlns: 'urn:example:unknown' }));
      expect(reply.attrs.to).to.equal('alice@localhost/laptop');
      expect([undefined, 'alice@localhost']).to.include(reply.attrs.from);
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '503',
        condition: 'service-unavailable',
        ns: STANZAS,
      });
    });

    it('answers an unknown set as well as an unknown get', async () => {
      const reply = await request(
        alice,
        { type: 'set', to: 'localhost' },
        xml('command', { xmlns: 'urn:example:unknown' }),
      );
      expect(errorOf(reply)).to.deep.equal({
        type: 'cancel',
        code: '503',
        condition: 'service-unavailable',
        ns: STANZAS,
      });
    });

    it('never answers an iq of type result or error', async () => {
      await alice.send(xml('iq', { type: 'result', to: 'localhost', id: 'unsolicited-result' }));
      await alice.send(
        xml(
          'iq',
          { type: 'error', to: 'localhost', id: 'unsolicited-error' },
          xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: STANZAS })),
        ),
      );
      // The server handles a session's stanzas in order: once this ping is answered, any
      // answer to the two above would have arrived before it.
      const pong = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('ping', { xmlns: 'urn:xmpp:ping' }),
      );
      expect(pong.attrs.type).to.equal('result');
      const ids = alice.received.map((el) => el.attrs.id);
      expect(ids).to.not.include('unsolicited-result');
      expect(ids).to.not.include('unsolicited-error');
    });
  });
});
