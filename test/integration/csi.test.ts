// XEP-0352 client state indication over real sockets: the stream feature, what an inactive
// client is sent and when, with carbons from another resource of the account, and with XEP-0198
// stream management (counts, acknowledgements, resumption). The inactive client is a raw socket,
// so that the test sees the exact order of what reaches the wire; its contacts use @xmpp/client.
//
// Nothing here waits for something not to happen: an SM <r/> is answered after everything the
// server wrote to that stream before, so after a contact's stanzas met their fate (settle), an
// <r/> round trip shows exactly what reached the client. <r/> is a nonza: it lets nothing go.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import type { ClientSession } from '../../src/core/session.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import {
  eventually,
  expectAfter,
  openStream,
  parseServerStream,
  plainCredentials,
  RawClient,
  rawAuthenticate,
  rawLogin,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import { login, settle } from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SM = NS.SM;
const CSI = NS.CSI;
const QUEUE_SIZE = 5;
const BOB = 'bob@localhost/pc';
const CAROL = 'carol@localhost/home';

/** A raw client of alice's: its stream, its full JID, its SM-ID. */
interface Phone {
  raw: RawClient;
  jid: string;
  smId: string;
}

/** Sends `data` and waits for `until` in what the server sends after it. */
async function exchange(raw: RawClient, data: string, until: RegExp): Promise<void> {
  const since = raw.received.length;
  raw.send(data);
  await expectAfter(raw, since, until);
}

/** Waits until everything the server wrote to this stream so far has arrived (see the top). */
function sync(raw: RawClient): Promise<void> {
  return exchange(raw, `<r xmlns='${SM}'/>`, /<a xmlns='urn:xmpp:sm:3' h='\d+'\/>/);
}

const isStanza = (el: Element) => el.name === 'message' || el.name === 'presence' || el.name === 'iq';

/** The stanzas the server sent on the raw client's current stream, in order. */
function stanzas(raw: RawClient): Element[] {
  return parseServerStream(raw.received).elements.filter(isStanza);
}

/** The stanzas the server sent on the current stream after its <enabled/> (what XEP-0198 counts). */
function countedStanzas(raw: RawClient): number {
  const elements = parseServerStream(raw.received).elements;
  const enabled = elements.findIndex((el) => el.name === 'enabled');
  return elements.slice(enabled + 1).filter(isStanza).length;
}

/** An element as text with sorted attributes; the stream's own namespace on the stanza left out. */
function canon(el: Element, top = true): string {
  const keys = Object.keys(el.attrs)
    .filter((k) => !(top && k === 'xmlns' && el.attrs[k] === NS.CLIENT))
    .sort();
  const attrs = keys.map((k) => ` ${k}="${el.attrs[k]}"`).join('');
  const children = el.children.map((c) => (typeof c === 'string' ? c : canon(c, false))).join('');
  return `<${el.name}${attrs}>${children}</${el.name}>`;
}

function expectStanzas(actual: Element[], expected: Element[]): void {
  expect(actual.map((el) => canon(el))).to.deep.equal(expected.map((el) => canon(el)));
}

/** The message a XEP-0280 copy carries, with the copy's direction. */
function carried(el: Element): [string, string | undefined] | undefined {
  for (const direction of ['received', 'sent']) {
    const inner = el.getChild(direction, NS.CARBONS)?.getChild('forwarded', NS.FORWARD)?.getChild('message');
    if (inner) return [direction, inner.attrs.id];
  }
  return undefined;
}

describe('XEP-0352 client state indication', () => {
  let ts: TestServer;
  let bob: TestClient;
  let carol: TestClient;
  const raws: RawClient[] = [];
  /** Raw clients with stream management enabled. */
  const managed = new Set<RawClient>();
  const clients: TestClient[] = [];

  before(async () => {
    ts = await startTestServer({
      c2s: 'resumption_timeout = 30',
      extraToml: `[csi]\nqueue_size = ${QUEUE_SIZE}`,
    });
    for (const user of ['alice', 'bob', 'carol', 'dave']) await ts.addUser(user, `${user}-secret`);
    bob = await login(ts, 'bob', 'pc');
    carol = await login(ts, 'carol', 'home');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop().catch(() => {});
    // A clean close ends a session at once; a dropped connection would leave it waiting to be resumed.
    for (const raw of raws.splice(0)) {
      // A polite client acknowledges what it got before it leaves: XEP-0198 would otherwise
      // answer the requests among the unacknowledged stanzas with errors.
      if (!raw.closed && managed.has(raw)) raw.send(`<a xmlns='${SM}' h='${countedStanzas(raw)}'/>`);
      if (!raw.closed) raw.send('</stream:stream>');
      await raw.waitClosed(2000).catch(() => {});
      raw.close();
    }
  });
  after(async () => {
    await bob.stop().catch(() => {});
    await carol.stop().catch(() => {});
    await ts.stop();
  });

  /** alice's phone: a raw stream with resumable stream management and available presence, made inactive. */
  async function inactivePhone(resource: string, options: { carbons?: boolean } = {}): Promise<Phone> {
    const { raw, jid } = await rawLogin(ts.port, 'alice', 'alice-secret', { resource });
    raws.push(raw);
    await exchange(raw, `<enable xmlns='${SM}' resume='true'/>`, /<enabled [^>]*\/>/);
    managed.add(raw);
    const enabled = parseServerStream(raw.received).elements.find((el) => el.name === 'enabled')!;
    if (options.carbons) {
      await exchange(raw, `<iq type='set' id='carbons'><enable xmlns='${NS.CARBONS}'/></iq>`, /id="carbons"/);
    }
    raw.send('<presence/>');
    raw.send(`<inactive xmlns='${CSI}'/>`);
    await sync(raw);
    // Acknowledge what login brought (own presence and the like), so that the server's next
    // <r/> follows the next stanza it sends.
    raw.send(`<a xmlns='${SM}' h='${countedStanzas(raw)}'/>`);
    await sync(raw);
    return { raw, jid, smId: enabled.attrs.id! };
  }

  function sessionOf(full: string): ClientSession {
    const session = ts.server.sessions.resources('alice@localhost').find((s) => s.jid.full === full);
    if (!session) throw new Error(`no session ${full}`);
    return session;
  }

  // What the contacts send, and how it reaches alice's phone.
  // The vCard module adds its avatar hash (XEP-0153) to every presence from an account: none here.
  const presence = (from: string, to: string, id: string, show?: string) =>
    x(
      'presence',
      { to, id, from },
      show !== undefined && x('show', null, show),
      x('x', { xmlns: NS.VCARD_UPDATE }, x('photo')),
    );
  const chatState = (from: string, to: string, id: string, state: string) =>
    x('message', { to, type: 'chat', id, from }, x(state, { xmlns: NS.CHATSTATES }));
  const sendPresence = (c: TestClient, to: string, id: string, show?: string) =>
    c.send(
      show === undefined ? xml('presence', { to, id }) : xml('presence', { to, id }, xml('show', {}, show)),
    );
  const sendChatState = (c: TestClient, to: string, id: string, state: string) =>
    c.send(xml('message', { to, type: 'chat', id }, xml(state, { xmlns: NS.CHATSTATES })));
  const sendChat = (c: TestClient, to: string, id: string, body: string) =>
    c.send(xml('message', { to, type: 'chat', id }, xml('body', {}, body)));

  it('advertises <csi/> after authentication, not before (§4)', async () => {
    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    const before = await openStream(raw);
    expect(before.getChild('csi', CSI), before.toString()).to.equal(undefined);
    await exchange(
      raw,
      `<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainCredentials('alice', 'alice-secret')}</auth>`,
      /<success[ />]/,
    );
    const after = await openStream(raw);
    expect(after.getChildren('csi', CSI).map((el) => el.toString())).to.deep.equal([`<csi xmlns="${CSI}"/>`]);
  });

  it('holds presence updates and chat states while inactive, and sends only the latest of each, in order, on <active/>', async () => {
    const phone = await inactivePhone('fold');
    const mark = stanzas(phone.raw).length;
    await sendPresence(bob, phone.jid, 'away', 'away');
    await sendChatState(bob, phone.jid, 'composing', 'composing');
    await settle(bob);
    await sendPresence(carol, phone.jid, 'carol', 'chat');
    await settle(carol);
    await sendPresence(bob, phone.jid, 'xa', 'xa');
    await settle(bob);
    await sync(phone.raw);
    expect(
      stanzas(phone.raw)
        .slice(mark)
        .map((el) => el.toString()),
    ).to.deep.equal([]);

    phone.raw.send(`<active xmlns='${CSI}'/>`);
    await sync(phone.raw);
    // bob's first presence was superseded by his latest, which keeps its own (later) place.
    expectStanzas(stanzas(phone.raw).slice(mark), [
      chatState(BOB, phone.jid, 'composing', 'composing'),
      presence(CAROL, phone.jid, 'carol', 'chat'),
      presence(BOB, phone.jid, 'xa', 'xa'),
    ]);

    // Active again: updates pass at once.
    const since = phone.raw.received.length;
    await sendPresence(bob, phone.jid, 'online');
    await expectAfter(phone.raw, since, /id="online"/);
    expectStanzas(stanzas(phone.raw).slice(mark + 3), [presence(BOB, phone.jid, 'online')]);
  });

  it('sends what is held before a message with a body, then the message, and stays inactive', async () => {
    const phone = await inactivePhone('body');
    const mark = stanzas(phone.raw).length;
    await sendPresence(bob, phone.jid, 'away', 'away');
    await sendChatState(bob, phone.jid, 'composing', 'composing');
    await sendChatState(bob, phone.jid, 'paused', 'paused');
    await sendChatState(bob, phone.jid, 'active', 'active');
    const since = phone.raw.received.length;
    await sendChat(bob, phone.jid, 'hello', 'Hello, Alice');
    await expectAfter(phone.raw, since, /id="hello"/);
    const got = stanzas(phone.raw).slice(mark);
    expectStanzas(got.slice(0, 2), [
      presence(BOB, phone.jid, 'away', 'away'),
      chatState(BOB, phone.jid, 'active', 'active'),
    ]);
    expect(got.slice(2).map((el) => [el.name, el.attrs.id, el.getChildText('body')])).to.deep.equal([
      ['message', 'hello', 'Hello, Alice'],
    ]);

    // Still inactive: the next update waits.
    await sendPresence(bob, phone.jid, 'xa', 'xa');
    await settle(bob);
    await sync(phone.raw);
    expect(stanzas(phone.raw).length).to.equal(mark + 3);
    phone.raw.send(`<active xmlns='${CSI}'/>`);
    await sync(phone.raw);
    expectStanzas(stanzas(phone.raw).slice(mark + 3), [presence(BOB, phone.jid, 'xa', 'xa')]);
  });

  it('passes an iq request and a subscription request at once, after what is held', async () => {
    const phone = await inactivePhone('urgent');
    const mark = stanzas(phone.raw).length;
    await sendPresence(bob, phone.jid, 'away', 'away');
    let since = phone.raw.received.length;
    await bob.send(xml('iq', { to: phone.jid, type: 'get', id: 'q1' }, xml('ping', { xmlns: NS.PING })));
    await expectAfter(phone.raw, since, /id="q1"/);
    expectStanzas(stanzas(phone.raw).slice(mark), [
      presence(BOB, phone.jid, 'away', 'away'),
      x('iq', { to: phone.jid, type: 'get', id: 'q1', from: BOB }, x('ping', { xmlns: NS.PING })),
    ]);
    phone.raw.send(`<iq type='result' to='${BOB}' id='q1'/>`);
    const answer = await bob.waitFor((el: XmlElement) => el.name === 'iq' && el.attrs.id === 'q1');
    expect(answer.attrs.type).to.equal('result');

    const dave = await login(ts, 'dave', 'd');
    clients.push(dave);
    await sendChatState(bob, phone.jid, 'composing', 'composing');
    await settle(bob);
    since = phone.raw.received.length;
    await dave.send(xml('presence', { to: 'alice@localhost', type: 'subscribe', id: 'sub' }));
    await expectAfter(phone.raw, since, /type="subscribe"/);
    const got = stanzas(phone.raw).slice(mark + 2);
    expectStanzas(got.slice(0, 1), [chatState(BOB, phone.jid, 'composing', 'composing')]);
    expect(got.slice(1).map((el) => [el.name, el.attrs.type, el.attrs.from])).to.deep.equal([
      ['presence', 'subscribe', 'dave@localhost'],
    ]);
    // Declined, so that later logins of alice's are not offered it again.
    phone.raw.send(`<presence to='dave@localhost' type='unsubscribed'/>`);
    await sync(phone.raw);
  });

  it('sends what is held when the client itself sends a stanza, and stays inactive', async () => {
    const phone = await inactivePhone('talks');
    const mark = stanzas(phone.raw).length;
    await sendPresence(bob, phone.jid, 'away', 'away');
    await settle(bob);
    await exchange(
      phone.raw,
      `<iq type='get' id='own-ping' to='localhost'><ping xmlns='${NS.PING}'/></iq>`,
      /id="own-ping"/,
    );
    expectStanzas(stanzas(phone.raw).slice(mark), [
      presence(BOB, phone.jid, 'away', 'away'),
      x('iq', { type: 'result', id: 'own-ping', from: 'localhost', to: phone.jid }),
    ]);
    await sendPresence(bob, phone.jid, 'xa', 'xa');
    await settle(bob);
    await sync(phone.raw);
    expect(stanzas(phone.raw).length).to.equal(mark + 2);
  });

  it(`sends everything held at once when ${QUEUE_SIZE} stanzas are held`, async () => {
    const phone = await inactivePhone('full');
    const mark = stanzas(phone.raw).length;
    const receipt = (n: number) =>
      bob.send(
        xml('message', { to: phone.jid, id: `r${n}` }, xml('received', { xmlns: NS.RECEIPTS, id: `m${n}` })),
      );
    for (let n = 1; n < QUEUE_SIZE - 1; n++) await receipt(n);
    // A presence folded into another counts once.
    await sendPresence(bob, phone.jid, 'away', 'away');
    await settle(bob);
    await sync(phone.raw);
    expect(stanzas(phone.raw).length).to.equal(mark);
    await sendPresence(bob, phone.jid, 'xa', 'xa');
    await settle(bob);
    await sync(phone.raw);
    expect(stanzas(phone.raw).length).to.equal(mark);

    const since = phone.raw.received.length;
    await receipt(QUEUE_SIZE - 1);
    await expectAfter(phone.raw, since, new RegExp(`id="r${QUEUE_SIZE - 1}"`));
    expect(
      stanzas(phone.raw)
        .slice(mark)
        .map((el) => el.attrs.id),
    ).to.deep.equal(['r1', 'r2', 'r3', 'xa', 'r4']);
    expectStanzas(stanzas(phone.raw).slice(mark, mark + 1), [
      x('message', { to: phone.jid, id: 'r1', from: BOB }, x('received', { xmlns: NS.RECEIPTS, id: 'm1' })),
    ]);
  });

  it("holds carbon copies of chat states folded, and lets a copy of a message with a body through at once (another resource's conversation)", async () => {
    const phone = await inactivePhone('carbons', { carbons: true });
    const laptop = await login(ts, 'alice', 'laptop');
    clients.push(laptop);
    await laptop.send(xml('presence'));
    await settle(laptop);
    await sync(phone.raw);
    const mark = stanzas(phone.raw).length;
    const toLaptop = laptop.jid!.toString();
    await sendChatState(bob, toLaptop, 'c1', 'composing');
    await sendChatState(bob, toLaptop, 'c2', 'paused');
    await settle(bob);
    await sync(phone.raw);
    expect(stanzas(phone.raw).length).to.equal(mark);

    const since = phone.raw.received.length;
    await sendChat(laptop, 'bob@localhost', 's1', 'sent from the laptop');
    await expectAfter(phone.raw, since, /id="s1"/);
    // The laptop's own available presence waited too.
    const got = stanzas(phone.raw).slice(mark);
    expect(got.map((el) => carried(el) ?? [el.name, el.attrs.from])).to.deep.equal([
      ['presence', laptop.jid!.toString()],
      ['received', 'c2'],
      ['sent', 's1'],
    ]);
    expect(got.slice(1).map((el) => el.attrs.from)).to.deep.equal(['alice@localhost', 'alice@localhost']);
  });

  it('counts and acknowledges only what reaches the wire (XEP-0198)', async () => {
    const phone = await inactivePhone('counts');
    const sm = () => (sessionOf(phone.jid) as unknown as { sm: { sent: number; pending: number } }).sm;
    const sentBefore = sm().sent;
    expect(sentBefore).to.equal(countedStanzas(phone.raw));

    await sendPresence(bob, phone.jid, 'away', 'away');
    await sendPresence(bob, phone.jid, 'xa', 'xa');
    await sendChatState(bob, phone.jid, 'composing', 'composing');
    await sendPresence(bob, phone.jid, 'dnd', 'dnd');
    await settle(bob);
    // Held stanzas are neither written, nor counted, nor asked to be acknowledged; the client's
    // <inactive/> was not counted as a stanza it sent either (h counts its one presence).
    let since = phone.raw.received.length;
    await sync(phone.raw);
    expect(phone.raw.received.slice(since)).to.equal(`<a xmlns='${SM}' h='1'/>`);
    expect(sm().sent).to.equal(sentBefore);

    since = phone.raw.received.length;
    phone.raw.send(`<active xmlns='${CSI}'/>`);
    await expectAfter(phone.raw, since, /<r xmlns='urn:xmpp:sm:3'\/>/);
    expect(sm().sent).to.equal(sentBefore + 2);
    expect(countedStanzas(phone.raw)).to.equal(sentBefore + 2);
    phone.raw.send(`<a xmlns='${SM}' h='${countedStanzas(phone.raw)}'/>`);
    await eventually(() => sm().pending === 0, 'everything acknowledged');
    await sync(phone.raw);
    expect(phone.raw.closed).to.equal(false);
  });

  it('starts a resumed stream active: what was held goes after what is resent (§5, XEP-0198)', async () => {
    const first = await inactivePhone('resume');
    const h = countedStanzas(first.raw);
    await sendPresence(bob, first.jid, 'away', 'away');
    await settle(bob);
    first.raw.close();
    await eventually(() => !sessionOf(first.jid).connected, 'hibernation');

    // While it hibernates: a presence (folding the first), a message that lets both go into the
    // queue of unacknowledged stanzas, and a chat state held again.
    await sendPresence(bob, first.jid, 'xa', 'xa');
    await sendChat(bob, first.jid, 'm1', 'are you there?');
    await sendChatState(bob, first.jid, 'c1', 'composing');
    await settle(bob);

    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    await rawAuthenticate(raw, 'alice', 'alice-secret');
    await openStream(raw);
    await exchange(raw, `<resume xmlns='${SM}' h='${h}' previd='${first.smId}'/>`, /id="c1"/);
    // Active now: the next update passes at once.
    const since = raw.received.length;
    await sendPresence(bob, first.jid, 'dnd', 'dnd');
    await expectAfter(raw, since, /id="dnd"/);

    const got = stanzas(raw);
    expect(got.map((el) => el.attrs.id)).to.deep.equal(['xa', 'm1', 'c1', 'dnd']);
    expectStanzas(
      [got[0]!, got[2]!, got[3]!],
      [
        presence(BOB, first.jid, 'xa', 'xa'),
        chatState(BOB, first.jid, 'c1', 'composing'),
        presence(BOB, first.jid, 'dnd', 'dnd'),
      ],
    );
  });

  it('drops what is held when the session ends, bouncing nothing', async () => {
    const phone = await inactivePhone('ends');
    await sendPresence(bob, phone.jid, 'away', 'away');
    await sendChatState(bob, phone.jid, 'gone', 'gone');
    await settle(bob);
    const mark = stanzas(phone.raw).length;
    phone.raw.send('</stream:stream>');
    await phone.raw.waitClosed();
    await eventually(
      () => !ts.server.sessions.resources('alice@localhost').some((s) => s.jid.full === phone.jid),
      'the end of the session',
    );
    expect(stanzas(phone.raw).length).to.equal(mark);
    await settle(bob);
    expect(
      bob.received
        .filter((el: XmlElement) => el.attrs.type === 'error' && ['away', 'gone'].includes(el.attrs.id!))
        .map((el) => el.toString()),
    ).to.deep.equal([]);
  });
});
