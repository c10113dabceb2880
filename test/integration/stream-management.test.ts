// XEP-0198 stream management over real sockets: acks both ways, resumption on a new
// connection with the stanzas the client missed, and what happens to a session that is not
// resumed in time. The client side is written here by hand on a raw socket, so that every
// element on the wire is the test's choice.

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import {
  connect,
  eventually,
  expectAfter,
  expectStreamError,
  openStream,
  parseServerStream,
  RawClient,
  rawAuthenticate,
  rawLogin,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SM = NS.SM;

/** Sends `data` and returns the first element the server sends back after it. */
async function exchange(raw: RawClient, data: string, until: RegExp) {
  const since = raw.received.length;
  raw.send(data);
  await expectAfter(raw, since, until);
  return parseServerStream(raw.received)
    .elements.filter((el) => el.toString().match(until))
    .at(-1)!;
}

/** Logs in on a raw socket, binds, enables stream management; returns the SM-ID. */
async function loginWithSm(ts: TestServer, resource: string) {
  const { raw, jid } = await rawLogin(ts.port, 'alice', 'alice-secret', { resource });
  const enabled = await exchange(raw, `<enable xmlns='${SM}' resume='true'/>`, /<enabled /);
  return { raw, jid, id: enabled.attrs.id!, enabled };
}

/** The messages the server sent on the raw stream, in order. */
function messages(raw: RawClient) {
  return parseServerStream(raw.received).elements.filter((el) => el.name === 'message');
}

describe('XEP-0198 stream management', () => {
  let ts: TestServer;
  let bob: TestClient;
  const raws: RawClient[] = [];

  before(async () => {
    ts = await startTestServer({ c2s: 'resumption_timeout = 2' });
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('eve', 'eve-secret');
    bob = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'bob',
      password: 'bob-secret',
      mechanism: 'PLAIN',
    });
  });
  afterEach(() => {
    for (const raw of raws.splice(0)) raw.close();
  });
  after(async () => {
    await bob.stop().catch(() => {});
    await ts.stop();
  });

  const chat = (to: string, id: string) =>
    xml('message', { to, type: 'chat', id }, xml('body', {}, `body of ${id}`));

  it('offers <sm/> after authentication, and refuses <enable/> before binding (§3)', async () => {
    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    await rawAuthenticate(raw, 'alice', 'alice-secret');
    const features = await openStream(raw);
    expect(features.getChild('sm', SM), features.toString()).to.not.equal(undefined);
    const failed = await exchange(raw, `<enable xmlns='${SM}'/>`, /<failed /);
    expect(failed.toString()).to.equal(
      `<failed xmlns="${SM}"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    // Binding still works on the same stream.
    raw.send(`<iq type='set' id='b'><bind xmlns='${NS.BIND}'/></iq>`);
    await raw.expect(/<jid>alice@localhost\/warbler-/);
  });

  it('enables with resumption (id, resume, max) and without it', async () => {
    const { raw, enabled } = await loginWithSm(ts, 'res');
    raws.push(raw);
    expect(enabled.attrs.resume).to.equal('true');
    expect(enabled.attrs.max).to.equal('2');
    expect(enabled.attrs.id).to.match(/^[\w-]{20,}$/);

    const other = await rawLogin(ts.port, 'alice', 'alice-secret', { resource: 'plain' });
    raws.push(other.raw);
    const plain = await exchange(other.raw, `<enable xmlns='${SM}'/>`, /<enabled/);
    expect(plain.toString()).to.equal(`<enabled xmlns="${SM}"/>`);
    // A second <enable/> is refused.
    const again = await exchange(other.raw, `<enable xmlns='${SM}'/>`, /<failed/);
    expect(again.getChild('unexpected-request')).to.not.equal(undefined);
  });

  it('answers <r/> with the number of stanzas it handled, and asks for acks itself', async () => {
    const { raw, jid } = await loginWithSm(ts, 'acks');
    raws.push(raw);
    raw.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    raw.send(`<presence/>`);
    raw.send(`<message to='bob@localhost' type='chat' id='x'><body>hi</body></message>`);
    const a = await exchange(raw, `<r xmlns='${SM}'/>`, /<a /);
    expect(a.toString()).to.equal(`<a xmlns="${SM}" h="3"/>`);
    // Stanzas to the client are followed by a request for an acknowledgement (the ping's
    // result was the first); while it is unanswered no second one is sent.
    await raw.expect(/id="p1"\/><r xmlns='urn:xmpp:sm:3'\/>/);
    raw.send(`<a xmlns='${SM}' h='2'/>`);
    await new Promise((r) => setTimeout(r, 50));
    const since = raw.received.length;
    await bob.send(chat(jid, 'to-acks'));
    await expectAfter(raw, since, /id="to-acks"[\s\S]*<\/message><r xmlns='urn:xmpp:sm:3'\/>/);
  });

  it('ends the stream when the client acknowledges more than it was sent (§6)', async () => {
    const { raw } = await loginWithSm(ts, 'toohigh');
    raws.push(raw);
    raw.send(`<a xmlns='${SM}' h='5'/>`);
    await raw.waitClosed();
    const error = parseServerStream(raw.received).elements.at(-1)!;
    expect(error.getChild('undefined-condition', 'urn:ietf:params:xml:ns:xmpp-streams')).to.not.equal(
      undefined,
    );
    const detail = error.getChild('handled-count-too-high', SM)!;
    expect(detail.attrs).to.include({ h: '5', 'send-count': '0' });
  });

  it('resumes a session after its connection died, resending exactly what the client missed (§5)', async () => {
    const first = await loginWithSm(ts, 'phone');
    raws.push(first.raw);
    await bob.send(chat(first.jid, 'm1'));
    await first.raw.expect(/id="m1"/);
    // The client saw m1 but the connection dies before it can say so; m2 and m3 arrive while
    // it is gone.
    first.raw.close();
    await eventually(
      () => !ts.server.sessions.get(ts.server.sessions.resources('alice@localhost')[0]!.jid)?.connected,
      'hibernation',
    );
    expect(ts.server.sessions.resources('alice@localhost').map((s) => s.jid.full)).to.include(first.jid);
    await bob.send(chat(first.jid, 'm2'));
    await bob.send(chat(first.jid, 'm3'));
    await new Promise((r) => setTimeout(r, 100));

    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    await rawAuthenticate(raw, 'alice', 'alice-secret');
    await openStream(raw);
    const since = raw.received.length;
    raw.send(`<resume xmlns='${SM}' h='1' previd='${first.id}'/>`);
    await expectAfter(raw, since, /id="m3"/);
    const after = parseServerStream(raw.received).elements;
    const resumed = after.find((el) => el.name === 'resumed')!;
    expect(resumed.attrs).to.include({ previd: first.id, h: '0' });
    expect(messages(raw).map((m) => m.attrs.id)).to.deep.equal(['m2', 'm3']);
    expect(messages(raw)[0]!.getChildText('body')).to.equal('body of m2');

    // The session carries on: same JID, new messages arrive, and acks continue the count.
    await bob.send(chat(first.jid, 'm4'));
    await raw.expect(/id="m4"/);
    const ack = await exchange(raw, `<r xmlns='${SM}'/>`, /<a /);
    expect(ack.attrs.h).to.equal('0');
    raw.send(`<a xmlns='${SM}' h='4'/>`);
    raw.send(`<message to='${bob.jid!.toString()}' type='chat' id='back'><body>I am back</body></message>`);
    const got = await bob
      .waitFor((el) => el.attrs.id === 'back')
      .catch((err: Error) => {
        throw new Error(`${err.message}; alice received: ${raw.received}`);
      });
    expect(got.attrs.from).to.equal(first.jid);
  });

  it('refuses an unknown or foreign SM-ID with item-not-found and lets the client bind (§5)', async () => {
    const alice = await loginWithSm(ts, 'mine');
    raws.push(alice.raw);

    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    await rawAuthenticate(raw, 'eve', 'eve-secret');
    await openStream(raw);
    for (const previd of ['no-such-session', alice.id]) {
      const failed = await exchange(raw, `<resume xmlns='${SM}' h='0' previd='${previd}'/>`, /<failed/);
      expect(failed.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas')).to.not.equal(
        undefined,
      );
    }
    raw.send(`<iq type='set' id='b'><bind xmlns='${NS.BIND}'><resource>after</resource></bind></iq>`);
    await raw.expect(/<jid>eve@localhost\/after<\/jid>/);
    // alice's session was not disturbed.
    expect(
      ts.server.sessions.resources('alice@localhost').some((s) => s.jid.resource === 'mine' && s.connected),
    ).to.equal(true);
  });

  it('closes the old connection with <conflict/> when the session is resumed elsewhere while it is open', async () => {
    const first = await loginWithSm(ts, 'laptop');
    raws.push(first.raw);
    const raw = await RawClient.connect(ts.port);
    raws.push(raw);
    await rawStartTls(raw);
    await rawAuthenticate(raw, 'alice', 'alice-secret');
    await openStream(raw);
    await exchange(raw, `<resume xmlns='${SM}' h='0' previd='${first.id}'/>`, /<resumed /);
    await expectStreamError(first.raw, 'conflict');
    await bob.send(chat(first.jid, 'after-move'));
    await raw.expect(/id="after-move"/);
  });

  it('ends a session not resumed in time: unavailable to contacts, unacked messages to offline storage', async () => {
    const first = await loginWithSm(ts, 'gone');
    raws.push(first.raw);
    await bob.send(chat(first.jid, 'lost-1'));
    await first.raw.expect(/id="lost-1"/);
    first.raw.close();
    await eventually(
      () =>
        ts.server.sessions.resources('alice@localhost').some((s) => s.jid.full === first.jid && !s.connected),
      'hibernation',
    );
    await bob.send(chat(first.jid, 'lost-2'));
    // resumption_timeout is 2 s here.
    await eventually(
      () => !ts.server.sessions.resources('alice@localhost').some((s) => s.jid.full === first.jid),
      'end of session',
      5000,
    );

    // Both messages were never acknowledged: the next login gets them from offline storage.
    const again = await rawLogin(ts.port, 'alice', 'alice-secret', { resource: 'later' });
    raws.push(again.raw);
    const since = again.raw.received.length;
    again.raw.send('<presence/>');
    await expectAfter(again.raw, since, /id="lost-2"/);
    const ids = messages(again.raw).map((m) => m.attrs.id);
    expect(ids).to.include.members(['lost-1', 'lost-2']);
    const stored = messages(again.raw).find((m) => m.attrs.id === 'lost-2')!;
    expect(stored.getChild('delay', NS.DELAY)).to.not.equal(undefined);
  });

  it('bounces an unacknowledged request the client never answered, but not one it answered', async () => {
    const first = await loginWithSm(ts, 'iqs');
    raws.push(first.raw);
    const ask = (id: string) =>
      bob.send(xml('iq', { to: first.jid, type: 'get', id }, xml('query', { xmlns: 'jabber:iq:version' })));
    await ask('answered');
    await ask('ignored');
    await first.raw.expect(/id="ignored"/);
    first.raw.send(`<iq type='result' id='answered' to='${bob.jid!.toString()}'/>`);
    await bob.waitFor((el) => el.attrs.id === 'answered' && el.attrs.type === 'result');
    // Neither request was acknowledged when the connection dies and resumption times out.
    first.raw.close();
    const error = await bob.waitFor((el) => el.attrs.id === 'ignored', 6000);
    expect(error.attrs.type).to.equal('error');
    expect(error.getChild('error')?.getChild('service-unavailable')).to.not.equal(undefined);
    await bob.send(
      xml('iq', { to: 'localhost', type: 'get', id: 'sync' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    await bob.waitFor((el) => el.attrs.id === 'sync');
    expect(bob.received.filter((el) => el.attrs.id === 'answered').map((el) => el.attrs.type)).to.deep.equal([
      'result',
    ]);
  });

  it('ends the session at once when the client closes its stream cleanly (§7)', async () => {
    const first = await loginWithSm(ts, 'clean');
    raws.push(first.raw);
    first.raw.send('</stream:stream>');
    await first.raw.waitClosed();
    await eventually(
      () => !ts.server.sessions.resources('alice@localhost').some((s) => s.jid.full === first.jid),
      'session end',
      1000,
    );
  });

  it('works with a real client library: @xmpp/client enables it and acks', async () => {
    const alice = await connect({
      port: ts.port,
      domain: 'localhost',
      username: 'alice',
      password: 'alice-secret',
      resource: 'lib',
      mechanism: 'PLAIN',
    });
    try {
      const session = ts.server.sessions
        .resources('alice@localhost')
        .find((s) => s.jid.resource === 'lib') as unknown as {
        sm?: { pending: number; resumable: boolean };
      };
      await eventually(() => session.sm !== undefined, 'stream management enabled');
      await bob.send(chat('alice@localhost/lib', 'lib-1'));
      await alice.waitFor((el) => el.attrs.id === 'lib-1');
      await eventually(() => session.sm!.pending === 0, 'the library acknowledged the message');
      expect(session.sm!.resumable).to.equal(true);
    } finally {
      await alice.stop().catch(() => {});
    }
  });
});
