// XEP-0114 on a raw socket, where the protocol is the point: the handshake exactly as the XEP
// writes it, each error a component can earn (as Prosody and ejabberd give them), routing both
// ways between an @xmpp/client user and the component, and the host's disco items.
// component-slixmpp.test.ts connects an independent component library.

import { createHash } from 'node:crypto';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import {
  connect,
  eventually,
  expectAfter,
  expectStreamError,
  parseServerStream,
  qname,
  RawClient,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface IqCallee {
  get(ns: string, name: string, handler: () => XmlElement): void;
}

const SECRET = 'correct horse battery staple';
const OTHER_SECRET = 'another secret';
const SECRET_ENV = 'WARBLER_TEST_COMPONENT_SECRET';
const MAX_STANZA_BYTES = 20_000;

function componentHeader(domain: string, ns: string = NS.COMPONENT): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`;
}

function digest(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret)
    .digest('hex');
}

/** Opens a component stream and returns the server's stream id. */
async function openComponentStream(raw: RawClient, domain: string): Promise<string> {
  raw.send(componentHeader(domain));
  const [, id] = await raw.expect(/<stream:stream[^>]* id="([^"]+)"/);
  return id!;
}

/** A component connection that has completed the handshake. */
async function componentLogin(port: number, domain: string, secret: string): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  const id = await openComponentStream(raw, domain);
  raw.send(`<handshake>${digest(id, secret)}</handshake>`);
  await raw.expect(/<handshake\/>/);
  return raw;
}

/** The elements the server has sent on a component stream so far. */
function elementsOf(raw: RawClient) {
  return parseServerStream(raw.received).elements;
}

describe('components (XEP-0114)', () => {
  let ts: TestServer;
  let port: number;
  let alice: TestClient;

  before(async () => {
    process.env[SECRET_ENV] = OTHER_SECRET;
    ts = await startTestServer({
      c2s: `max_stanza_bytes = ${MAX_STANZA_BYTES}`,
      extraToml: [
        '[component]',
        'addresses = ["127.0.0.1"]',
        'port = 0',
        '[components."bot.localhost"]',
        `secret = "${SECRET}"`,
        'name = "Test bot"',
        '[components."other.localhost"]',
        `secret_env = "${SECRET_ENV}"`,
      ].join('\n'),
    });
    port = ts.server.listening.component[0]!.port;
    await ts.addUser('alice', 'alice-password');
    alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-password',
    });
    await alice.send(xml('presence'));
  });

  after(async () => {
    await alice?.stop().catch(() => {});
    await ts?.stop();
    delete process.env[SECRET_ENV];
  });

  describe('handshake', () => {
    it('answers the header with its own, an id and the component name, and no stream features', async () => {
      const raw = await RawClient.connect(port);
      try {
        const id = await openComponentStream(raw, 'bot.localhost');
        const stream = parseServerStream(raw.received);
        expect(stream.name).to.equal('stream:stream');
        expect(stream.header).to.deep.equal({
          xmlns: NS.COMPONENT,
          'xmlns:stream': NS.STREAM,
          id,
          from: 'bot.localhost',
        });
        raw.send(`<handshake>${digest(id, SECRET)}</handshake>`);
        await raw.expect(/<handshake\/>/);
        // The empty handshake is the first and only element: no <stream:features/> before it.
        expect(elementsOf(raw).map(qname)).to.deep.equal([`${NS.COMPONENT} handshake`]);
        expect(elementsOf(raw)[0]!.children).to.deep.equal([]);
      } finally {
        raw.close();
      }
    });

    it('accepts the digest in upper case too, and a secret from the environment', async () => {
      const raw = await RawClient.connect(port);
      try {
        const id = await openComponentStream(raw, 'other.localhost');
        raw.send(`<handshake>${digest(id, OTHER_SECRET).toUpperCase()}</handshake>`);
        await raw.expect(/<handshake\/>/);
      } finally {
        raw.close();
      }
    });

    it('closes the stream with <not-authorized/> for a wrong secret', async () => {
      const raw = await RawClient.connect(port);
      const id = await openComponentStream(raw, 'bot.localhost');
      raw.send(`<handshake>${digest(id, 'wrong')}</handshake>`);
      await expectStreamError(raw, 'not-authorized');
    });

    it('closes the stream with <not-authorized/> for a stanza before the handshake', async () => {
      const raw = await RawClient.connect(port);
      await openComponentStream(raw, 'bot.localhost');
      raw.send("<message from='bot.localhost' to='alice@localhost'><body>hi</body></message>");
      await expectStreamError(raw, 'not-authorized');
      expect(alice.received.filter((s) => s.is('message'))).to.deep.equal([]);
    });

    it('answers <host-unknown/> for a domain that is not configured, with a header of its own first', async () => {
      const raw = await RawClient.connect(port);
      raw.send(componentHeader('unknown.localhost'));
      const stream = await expectStreamError(raw, 'host-unknown');
      expect(stream.header.xmlns).to.equal(NS.COMPONENT);
      expect(stream.header.from).to.equal(undefined);
    });

    it('answers <host-unknown/> for a server host: accounts are not a component’s', async () => {
      const raw = await RawClient.connect(port);
      raw.send(componentHeader('localhost'));
      await expectStreamError(raw, 'host-unknown');
    });

    it('answers <invalid-namespace/> for a client stream header on the component port', async () => {
      const raw = await RawClient.connect(port);
      raw.send(componentHeader('bot.localhost', NS.CLIENT));
      await expectStreamError(raw, 'invalid-namespace');
    });

    it('refuses a second connection for a connected component with <conflict/>, and keeps the first', async () => {
      const first = await componentLogin(port, 'bot.localhost', SECRET);
      try {
        const second = await RawClient.connect(port);
        const id = await openComponentStream(second, 'bot.localhost');
        second.send(`<handshake>${digest(id, SECRET)}</handshake>`);
        await expectStreamError(second, 'conflict');
        const since = first.received.length;
        await alice.send(xml('message', { to: 'bot.localhost', type: 'chat', id: 'after-conflict' }));
        await expectAfter(first, since, /id="after-conflict"/);
      } finally {
        first.close();
      }
    });

    it('lets a component in again once its previous connection is gone', async () => {
      const first = await componentLogin(port, 'bot.localhost', SECRET);
      first.close();
      await eventually(() => ts.server.components.session('bot.localhost') === undefined, 'the old one left');
      const again = await componentLogin(port, 'bot.localhost', SECRET);
      again.close();
    });
  });

  describe('routing', () => {
    let bot: RawClient;

    beforeEach(async () => {
      await eventually(() => ts.server.components.session('bot.localhost') === undefined, 'bot is free');
      bot = await componentLogin(port, 'bot.localhost', SECRET);
    });

    afterEach(() => bot.close());

    it('routes a user’s message for any JID at the domain to the component, unstamped, and the reply back', async () => {
      const since = bot.received.length;
      await alice.send(
        xml(
          'message',
          { to: 'echo@bot.localhost/desk', type: 'chat', id: 'm1' },
          xml('body', {}, 'hello bot'),
        ),
      );
      await expectAfter(bot, since, /<\/message>/);
      const message = elementsOf(bot).at(-1)!;
      expect(message.attrs).to.deep.equal({
        xmlns: NS.COMPONENT,
        to: 'echo@bot.localhost/desk',
        type: 'chat',
        id: 'm1',
        from: alice.jid!.toString(),
      });
      expect(message.getChildText('body')).to.equal('hello bot');

      bot.send(
        `<message from='echo@bot.localhost/desk' to='${alice.jid}' type='chat' id='r1'><body>hello alice</body></message>`,
      );
      const reply = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'r1');
      expect(reply.attrs.from).to.equal('echo@bot.localhost/desk');
      expect(reply.getChildText('body')).to.equal('hello alice');
    });

    it('delivers what the component sends in one burst in the order it was sent', async () => {
      const ids = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
      // To the bare JID (delivery rules) and the full JID (straight to the session), interleaved.
      bot.send(
        ids
          .map(
            (id, i) =>
              `<message from='echo@bot.localhost' to='${i % 2 ? alice.jid!.bare().toString() : alice.jid}' type='chat' id='${id}'><body>${id}</body></message>`,
          )
          .join(''),
      );
      await alice.waitFor((s) => s.attrs.id === ids.at(-1));
      const received = alice.received
        .filter((s) => s.is('message') && ids.includes(s.attrs.id))
        .map((s) => s.attrs.id);
      expect(received).to.deep.equal(ids);
    });

    it('carries an iq from a user to the component and its result back', async () => {
      const since = bot.received.length;
      const request = alice.iqCaller.get(xml('query', { xmlns: NS.DISCO_INFO }), 'bot.localhost');
      const [, id] = await expectAfter(bot, since, /<iq [^>]*id="([^"]+)"/);
      const iq = elementsOf(bot).at(-1)!;
      expect(iq.attrs.type).to.equal('get');
      expect(iq.attrs.from).to.equal(alice.jid!.toString());
      bot.send(
        `<iq type='result' id='${id}' from='bot.localhost' to='${alice.jid}'>` +
          `<query xmlns='${NS.DISCO_INFO}'><identity category='component' type='generic' name='Bot'/></query></iq>`,
      );
      const result = (await request) as XmlElement;
      expect(result.getChild('identity')?.attrs).to.deep.equal({
        category: 'component',
        type: 'generic',
        name: 'Bot',
      });
    });

    it('lets the component ask the server (ping) and a user’s client (version), with results routed back', async () => {
      bot.send(
        `<iq type='get' id='p1' from='bot.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
      );
      await bot.expect(/<iq [^>]*id="p1"[^>]*\/>|<iq [^>]*id="p1"[^>]*>/);
      const pong = elementsOf(bot).find((e) => e.attrs.id === 'p1')!;
      expect(pong.attrs).to.include({ type: 'result', from: 'localhost', to: 'bot.localhost' });

      // @xmpp/client has an iq callee; its published types leave it out.
      const callee = (alice as unknown as { iqCallee: IqCallee }).iqCallee;
      callee.get('jabber:iq:version', 'query', () =>
        xml('query', { xmlns: 'jabber:iq:version' }, xml('name', {}, 'test client')),
      );
      bot.send(
        `<iq type='get' id='v1' from='bot.localhost' to='${alice.jid}'><query xmlns='jabber:iq:version'/></iq>`,
      );
      await bot.expect(/id="v1"/);
      const version = elementsOf(bot).find((e) => e.attrs.id === 'v1')!;
      expect(version.attrs).to.include({ type: 'result', from: alice.jid!.toString(), to: 'bot.localhost' });
      expect(version.getChild('query')?.getChildText('name')).to.equal('test client');
    });

    it('routes from one component to another', async () => {
      const other = await componentLogin(port, 'other.localhost', OTHER_SECRET);
      try {
        const since = other.received.length;
        bot.send(`<message from='a@bot.localhost' to='b@other.localhost' id='c2c'><body>x</body></message>`);
        await expectAfter(other, since, /id="c2c"/);
        expect(elementsOf(other).at(-1)!.attrs).to.include({
          from: 'a@bot.localhost',
          to: 'b@other.localhost',
        });
      } finally {
        other.close();
      }
    });

    it('answers a stanza without from or to with bad-request, and one with a malformed to with jid-malformed', async () => {
      bot.send(`<iq type='get' id='nofrom' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      bot.send(`<iq type='get' id='noto' from='bot.localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      bot.send(`<iq type='get' id='badto' from='bot.localhost' to='a@@b'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await bot.expect(/id="badto"/);
      const errors = elementsOf(bot).filter((e) => e.attrs.type === 'error');
      const condition = (e: (typeof errors)[number]) =>
        e.getChild('error')!.elements.find((c) => c.getNS() === NS.STANZAS_ERROR && c.name !== 'text')!.name;
      expect(errors.map((e) => [e.attrs.id, condition(e)])).to.deep.equal([
        ['nofrom', 'bad-request'],
        ['noto', 'bad-request'],
        ['badto', 'jid-malformed'],
      ]);
    });

    it('closes the stream with <invalid-from/> when a stanza’s from is not at the component’s domain', async () => {
      bot.send(`<message from='alice@localhost' to='alice@localhost'><body>forged</body></message>`);
      await expectStreamError(bot, 'invalid-from');
      expect(alice.received.filter((s) => s.getChildText('body') === 'forged')).to.deep.equal([]);
    });

    it('closes the stream with <policy-violation/> for a stanza over the size limit, like a client stream', async () => {
      bot.send(
        `<message from='bot.localhost' to='${alice.jid}'><body>${'x'.repeat(MAX_STANZA_BYTES)}</body></message>`,
      );
      await expectStreamError(bot, 'policy-violation');
    });

    it('closes the stream with <not-well-formed/> for broken XML', async () => {
      bot.send(`<message from='bot.localhost' to='${alice.jid}'><body></message>`);
      await expectStreamError(bot, 'not-well-formed');
    });

    it('lists the connected component in the host’s disco items, and no longer once it is gone', async () => {
      const items = async () =>
        ((await alice.iqCaller.get(xml('query', { xmlns: NS.DISCO_ITEMS }), 'localhost')) as XmlElement)
          .getChildren('item')
          .map((i) => i.attrs as Record<string, string>);
      expect(await items()).to.deep.include({ jid: 'bot.localhost', name: 'Test bot' });
      expect((await items()).map((i) => i.jid)).not.to.include('other.localhost');
      bot.close();
      await eventually(() => ts.server.components.session('bot.localhost') === undefined, 'bot left');
      expect((await items()).map((i) => i.jid)).not.to.include('bot.localhost');
    });
  });

  describe('while the component is away', () => {
    it('answers a message or an iq for it with service-unavailable (type wait), as Prosody does', async () => {
      await eventually(() => ts.server.components.session('bot.localhost') === undefined, 'bot is away');
      await alice.send(
        xml('message', { to: 'echo@bot.localhost', type: 'chat', id: 'away' }, xml('body', {}, 'hi')),
      );
      const bounce = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'away');
      expect(bounce.attrs).to.include({ type: 'error', from: 'echo@bot.localhost' });
      const error = bounce.getChild('error')!;
      expect(error.attrs.type).to.equal('wait');
      expect(error.getChild('service-unavailable', NS.STANZAS_ERROR)).to.not.equal(undefined);
    });
  });
});
