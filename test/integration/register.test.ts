// XEP-0077 in-band registration end to end: raw sockets for what happens before
// authentication, @xmpp/client for logged-in users, three accounts, registration off and on.
//
// XEP-0077 §3.1 (fields, registration, conflict, not-acceptable; service-unavailable when
// off; <registered/> once logged in), §3.1.1 (registration with a server: here one account per
// address per interval), §3.2 (removal: result, then <not-authorized/> for every session),
// §3.3 (password change), §8 (stream feature), §10 (disco feature).

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import {
  connect,
  expectAfter,
  expectStreamError,
  openStream,
  parseServerStream,
  plainCredentials,
  qname,
  RawClient,
  rawBind,
  rawLogin,
  rawStartTls,
  type TestClient,
} from '../helpers/client.js';
import {
  befriend,
  login as imLogin,
  request as imRequest,
  settle as imSettle,
  presenceFrom,
  pushAbout,
  rosterOf,
  rosterQuery,
  since,
  upcoming,
} from '../helpers/im.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REGISTER = 'jabber:iq:register';
const FEATURE = 'http://jabber.org/features/iq-register';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

let counter = 0;

/** Sends an iq on a raw stream and returns the server's answer to it. */
async function rawIq(raw: RawClient, iq: string): Promise<Element> {
  const since = raw.received.length;
  raw.send(iq);
  await expectAfter(raw, since, /<\/iq>|<iq [^>]*\/>/);
  return parseServerStream(raw.received).elements.at(-1)!;
}

function registerSet(inner: string, id = `reg-${++counter}`): string {
  return `<iq type='set' id='${id}' to='localhost'><query xmlns='${REGISTER}'>${inner}</query></iq>`;
}

function credentials(username: string, password: string): string {
  return `<username>${username}</username><password>${password}</password>`;
}

/** The error of a raw error reply: its type, legacy code and condition, and what else it carries. */
function rawError(reply: Element): { type: string; code: string; condition: string; others: string[] } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error')!;
  const condition = error.elements.find((el) => el.getNS() === STANZAS && el.localName !== 'text')!;
  return {
    type: error.attrs.type!,
    code: error.attrs.code!,
    condition: condition.localName,
    others: reply.elements.filter((el) => el !== error).map(qname),
  };
}

/** A raw stream through STARTTLS, ready for pre-auth iqs; returns it with its features. */
async function rawSecure(
  ts: TestServer,
  localAddress?: string,
): Promise<{ raw: RawClient; features: Element }> {
  const raw = await RawClient.connect(ts.port, { localAddress });
  await rawStartTls(raw);
  return { raw, features: await openStream(raw) };
}

async function request(client: TestClient, attrs: Record<string, string>, payload: XmlElement) {
  const id = `iq-${++counter}`;
  await client.send(xml('iq', { ...attrs, id }, payload));
  return client.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
}

function errorOf(reply: XmlElement): { type: string; code: string; condition: string } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error')!;
  const condition = error.children.find(
    (c): c is XmlElement => typeof c !== 'string' && c.name !== 'text' && c.attrs.xmlns === STANZAS,
  );
  return { type: error.attrs.type!, code: error.attrs.code!, condition: condition!.name };
}

function login(ts: TestServer, username: string, password: string, resource?: string): Promise<TestClient> {
  return connect({ port: ts.port, domain: 'localhost', username, password, resource, mechanism: 'PLAIN' });
}

/** Whether logging in fails (the server answers SASL with a failure). */
async function loginFails(ts: TestServer, username: string, password: string): Promise<boolean> {
  let client: TestClient | undefined;
  try {
    client = await login(ts, username, password);
    return false;
  } catch {
    return true;
  } finally {
    await client?.stop().catch(() => {});
  }
}

describe('XEP-0077 with registration off (the default)', () => {
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer();
    await ts.addUser('alice', 'alice-secret');
    await ts.addUser('bob', 'bob-secret');
    await ts.addUser('carol', 'carol-secret');
    for (const name of ['erin', 'frank', 'gina', 'hugo']) await ts.addUser(name, `${name}-secret`);
  });
  after(async () => {
    await ts?.stop();
  });

  it('does not offer the stream feature', async () => {
    const raw = await RawClient.connect(ts.port);
    try {
      const plain = await openStream(raw);
      expect(plain.elements.map(qname)).to.not.include(`${FEATURE} register`);
      raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await raw.expect(/<proceed [^>]*\/>/);
      await raw.startTls();
      const secure = await openStream(raw);
      expect(secure.elements.map(qname)).to.not.include(`${FEATURE} register`);
    } finally {
      raw.close();
    }
  });

  it('answers registration requests with service-unavailable and creates nothing (§3.1)', async () => {
    const { raw } = await rawSecure(ts);
    try {
      const get = await rawIq(
        raw,
        `<iq type='get' id='off-1' to='localhost'><query xmlns='${REGISTER}'/></iq>`,
      );
      expect(get.attrs.id).to.equal('off-1');
      expect(rawError(get)).to.deep.equal({
        type: 'cancel',
        code: '503',
        condition: 'service-unavailable',
        others: [`${REGISTER} query`],
      });
      const set = await rawIq(raw, registerSet(credentials('mallory', 'mallory-secret')));
      expect(rawError(set)).to.deep.include({ condition: 'service-unavailable', others: [] });
      expect(await ts.server.accounts.exists(jid('mallory', 'localhost'))).to.equal(false);
    } finally {
      raw.close();
    }
  });

  it('still advertises jabber:iq:register, for password changes (§10)', async () => {
    const alice = await login(ts, 'alice', 'alice-secret');
    try {
      const reply = await request(
        alice,
        { type: 'get', to: 'localhost' },
        xml('query', { xmlns: DISCO_INFO }),
      );
      const features = reply
        .getChild('query', DISCO_INFO)!
        .getChildren('feature')
        .map((f) => f.attrs.var);
      expect(features).to.include(REGISTER);
    } finally {
      await alice.stop().catch(() => {});
    }
  });

  it('tells a logged-in user that it is registered (§3.1)', async () => {
    const alice = await login(ts, 'alice', 'alice-secret', 'laptop');
    try {
      const requests: Array<Record<string, string>> = [{ type: 'get' }, { type: 'get', to: 'localhost' }];
      for (const attrs of requests) {
        const reply = await request(alice, attrs, xml('query', { xmlns: REGISTER }));
        expect(reply.attrs.type).to.equal('result');
        const query = reply.getChild('query', REGISTER)!;
        expect(query.children.map(String)).to.deep.equal([
          '<instructions>You are registered as alice@localhost. Send a new password to change it, ' +
            'or &lt;remove/&gt; to delete the account.</instructions>',
          '<registered/>',
          '<username>alice</username>',
        ]);
      }
    } finally {
      await alice.stop().catch(() => {});
    }
  });

  describe('password change (§3.3)', () => {
    it('changes the password: the new one logs in, the old one no longer does', async () => {
      const bob = await login(ts, 'bob', 'bob-secret');
      try {
        const reply = await request(
          bob,
          { type: 'set', to: 'localhost' },
          xml(
            'query',
            { xmlns: REGISTER },
            xml('username', {}, 'bob'),
            xml('password', {}, 'bob-new-secret'),
          ),
        );
        expect(reply.attrs.type).to.equal('result');
        expect(reply.children).to.deep.equal([]);
      } finally {
        await bob.stop().catch(() => {});
      }
      expect(await loginFails(ts, 'bob', 'bob-secret')).to.equal(true);
      const again = await login(ts, 'bob', 'bob-new-secret');
      await again.stop().catch(() => {});
    });

    it('takes a request without "to" and the username as a bare JID', async () => {
      const bob = await login(ts, 'bob', 'bob-new-secret');
      try {
        const reply = await request(
          bob,
          { type: 'set' },
          xml(
            'query',
            { xmlns: REGISTER },
            xml('username', {}, 'bob@localhost'),
            xml('password', {}, 'bob-newer-secret'),
          ),
        );
        expect(reply.attrs.type).to.equal('result');
      } finally {
        await bob.stop().catch(() => {});
      }
      const again = await login(ts, 'bob', 'bob-newer-secret');
      await again.stop().catch(() => {});
    });

    it("refuses another user's username, an empty or short password, and echoes none", async () => {
      const alice = await login(ts, 'alice', 'alice-secret');
      try {
        const cases: Array<[XmlElement[], { type: string; code: string; condition: string }]> = [
          [
            [xml('username', {}, 'bob'), xml('password', {}, 'stolen-password')],
            { type: 'auth', code: '403', condition: 'forbidden' },
          ],
          [
            [xml('username', {}, 'alice'), xml('password')],
            { type: 'modify', code: '400', condition: 'bad-request' },
          ],
          [[xml('username', {}, 'alice')], { type: 'modify', code: '400', condition: 'bad-request' }],
          [
            [xml('username', {}, 'alice'), xml('password', {}, 'short')],
            { type: 'modify', code: '406', condition: 'not-acceptable' },
          ],
        ];
        for (const [fields, expected] of cases) {
          const reply = await request(alice, { type: 'set' }, xml('query', { xmlns: REGISTER }, ...fields));
          expect(errorOf(reply), fields.join('')).to.deep.equal(expected);
          expect(reply.getChild('query'), 'the request is not echoed').to.equal(undefined);
        }
      } finally {
        await alice.stop().catch(() => {});
      }
      // Nothing changed.
      expect(await loginFails(ts, 'bob', 'stolen-password')).to.equal(true);
      const again = await login(ts, 'alice', 'alice-secret');
      await again.stop().catch(() => {});
    });
  });

  describe('account removal (§3.2)', () => {
    it('refuses <remove/> with anything else with bad-request', async () => {
      const alice = await login(ts, 'alice', 'alice-secret');
      try {
        const reply = await request(
          alice,
          { type: 'set' },
          xml('query', { xmlns: REGISTER }, xml('remove'), xml('username', {}, 'alice')),
        );
        expect(errorOf(reply)).to.deep.equal({ type: 'modify', code: '400', condition: 'bad-request' });
        expect(await ts.server.accounts.exists(jid('alice', 'localhost'))).to.equal(true);
      } finally {
        await alice.stop().catch(() => {});
      }
    });

    it('answers the result, then ends every session with <not-authorized/>; the account is gone', async () => {
      const { raw } = await rawLogin(ts.port, 'carol', 'carol-secret', { resource: 'desk' });
      const other = await rawLogin(ts.port, 'carol', 'carol-secret', { resource: 'phone' });
      try {
        raw.send(`<iq type='set' id='unreg1'><query xmlns='${REGISTER}'><remove/></query></iq>`);
        const stream = await expectStreamError(raw, 'not-authorized');
        const result = stream.elements.at(-2)!;
        expect(result.name).to.equal('iq');
        expect(result.children).to.deep.equal([]);
        expect({ ...result.attrs }).to.deep.equal({
          type: 'result',
          id: 'unreg1',
          from: 'carol@localhost',
          to: 'carol@localhost/desk',
          xmlns: 'jabber:client',
        });
        await expectStreamError(other.raw, 'not-authorized');
      } finally {
        raw.close();
        other.raw.close();
      }
      expect(await ts.server.accounts.exists(jid('carol', 'localhost'))).to.equal(false);
      expect(await loginFails(ts, 'carol', 'carol-secret')).to.equal(true);
    });

    it("cancels the removed account's subscriptions both ways, and its requests either way (§3.2)", async () => {
      // erin and frank see each other; gina waits for erin's answer; erin waits for hugo's.
      const erin = await imLogin(ts, 'erin', 'e');
      const frank = await imLogin(ts, 'frank', 'f');
      const gina = await imLogin(ts, 'gina', 'g');
      const hugo = await imLogin(ts, 'hugo', 'h');
      const clients = [erin, frank, gina, hugo];
      try {
        for (const c of clients) {
          await imRequest(c, 'get', rosterQuery());
          await c.send(xml('presence'));
        }
        await befriend(erin, frank);
        const asked = upcoming(erin)(presenceFrom('gina@localhost', 'subscribe'));
        await gina.send(xml('presence', { to: 'erin@localhost', type: 'subscribe' }));
        await asked;
        const asking = upcoming(hugo)(presenceFrom('erin@localhost', 'subscribe'));
        await erin.send(xml('presence', { to: 'hugo@localhost', type: 'subscribe' }));
        await asking;

        const atFrank = upcoming(frank);
        const gone = atFrank(presenceFrom('erin@localhost/e', 'unavailable'));
        const unsubscribe = atFrank(presenceFrom('erin@localhost', 'unsubscribe'));
        const unsubscribed = atFrank(presenceFrom('erin@localhost', 'unsubscribed'));
        const frankNone = atFrank(pushAbout('erin@localhost', 'none'));
        const denied = upcoming(gina)(presenceFrom('erin@localhost', 'unsubscribed'));
        const ginaNone = upcoming(gina)(pushAbout('erin@localhost', 'none'));
        const withdrawn = upcoming(hugo)(presenceFrom('erin@localhost', 'unsubscribe'));
        const removed = upcoming(erin)((el) => el.name === 'iq' && el.attrs.id === 'unreg-erin');
        await erin.send(
          xml('iq', { type: 'set', id: 'unreg-erin' }, xml('query', { xmlns: REGISTER }, xml('remove'))),
        );
        expect((await removed).attrs.type).to.equal('result');

        await Promise.all([gone, unsubscribe, unsubscribed, frankNone, denied, ginaNone, withdrawn]);
        // §3.2.2: frank sees erin leave before the subscription ends.
        expect(frank.received.indexOf(await gone)).to.be.lessThan(frank.received.indexOf(await unsubscribed));
        expect(await rosterOf(frank)).to.deep.equal({ 'erin@localhost': 'none' });
        expect(await rosterOf(gina)).to.deep.equal({ 'erin@localhost': 'none' });
        expect(await rosterOf(hugo)).to.deep.equal({});
        // Nothing of erin's is left to deliver at hugo's next login.
        await hugo.stop();
        const back = await imLogin(ts, 'hugo', 'h2');
        clients.push(back);
        const mark = back.received.length;
        await back.send(xml('presence'));
        await imSettle(back);
        expect(since(back, mark).filter(presenceFrom('erin@localhost', 'subscribe'))).to.deep.equal([]);
      } finally {
        await Promise.all(clients.map((c) => c.stop().catch(() => {})));
      }
      expect(await ts.server.accounts.exists(jid('erin', 'localhost'))).to.equal(false);
    });
  });
});

describe('XEP-0077 with registration on', () => {
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer({
      extraToml: '[register]\nallow_registration = true\nmin_password_length = 10',
    });
    await ts.addUser('alice', 'alice-secret');
  });
  after(async () => {
    await ts?.stop();
  });

  it('offers the stream feature on the encrypted stream only (§8)', async () => {
    const raw = await RawClient.connect(ts.port);
    try {
      const plain = await openStream(raw);
      expect(plain.elements.map(qname)).to.not.include(`${FEATURE} register`);
      raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await raw.expect(/<proceed [^>]*\/>/);
      await raw.startTls();
      const secure = await openStream(raw);
      const register = secure.elements.find((el) => qname(el) === `${FEATURE} register`);
      expect(register?.toString()).to.equal(`<register xmlns="${FEATURE}"/>`);
    } finally {
      raw.close();
    }
  });

  it('acts on nothing before STARTTLS', async () => {
    const raw = await RawClient.connect(ts.port);
    try {
      await openStream(raw);
      raw.send(registerSet(credentials('eve', 'eve-long-secret')));
      await expectStreamError(raw, 'not-authorized');
    } finally {
      raw.close();
    }
    expect(await ts.server.accounts.exists(jid('eve', 'localhost'))).to.equal(false);
  });

  it('gives the registration fields (§3.1)', async () => {
    const { raw } = await rawSecure(ts);
    try {
      const reply = await rawIq(raw, `<iq type='get' id='form-1'><query xmlns='${REGISTER}'/></iq>`);
      expect(reply.toString()).to.equal(
        `<iq type="result" id="form-1" xmlns="jabber:client"><query xmlns="${REGISTER}">` +
          '<instructions>Choose a username and a password for your account on localhost.</instructions>' +
          '<username/><password/></query></iq>',
      );
    } finally {
      raw.close();
    }
  });

  it('registers an account that then logs in, on the same stream and with a client library', async () => {
    const { raw } = await rawSecure(ts, '127.0.0.2');
    try {
      const reply = await rawIq(raw, registerSet(credentials('Dave', 'dave-long-secret'), 'reg-dave'));
      expect(reply.toString()).to.equal('<iq type="result" id="reg-dave" xmlns="jabber:client"/>');
      // §3.1.1: the entity then authenticates with the identity it registered, on the same stream.
      const since = raw.received.length;
      raw.send(
        `<auth xmlns='${SASL}' mechanism='PLAIN'>${plainCredentials('dave', 'dave-long-secret')}</auth>`,
      );
      await expectAfter(raw, since, /<success[ />]/);
      expect(await rawBind(raw, 'raw')).to.equal('dave@localhost/raw');
    } finally {
      raw.close();
    }
    const dave = await login(ts, 'dave', 'dave-long-secret');
    expect(dave.jid!.bare().toString()).to.equal('dave@localhost');
    await dave.stop().catch(() => {});
  });

  it('refuses bad requests, echoing no password (§3.1)', async () => {
    const { raw } = await rawSecure(ts, '127.0.0.3');
    try {
      const cases: Array<[string, string, string]> = [
        ['an existing username', credentials('alice', 'another-long-one'), 'conflict'],
        ['a username in another case', credentials('ALICE', 'another-long-one'), 'conflict'],
        ['no password', '<username>frank</username>', 'not-acceptable'],
        ['an empty password', '<username>frank</username><password/>', 'not-acceptable'],
        ['no username', '<password>frank-long-secret</password>', 'not-acceptable'],
        ['an invalid username', credentials('frank smith', 'frank-long-secret'), 'not-acceptable'],
        ['a short password', credentials('frank', 'too-short'), 'not-acceptable'],
        ['<remove/> before logging in', '<remove/>', 'unexpected-request'],
        [
          '<remove/> with other fields',
          `<remove/>${credentials('frank', 'frank-long-secret')}`,
          'bad-request',
        ],
      ];
      for (const [what, inner, condition] of cases) {
        const error = rawError(await rawIq(raw, registerSet(inner)));
        expect(error.condition, what).to.equal(condition);
        if (inner.includes('password')) expect(error.others, what).to.deep.equal([]);
      }
      expect(rawError(await rawIq(raw, registerSet(credentials('alice', 'another-long-one'))))).to.deep.equal(
        {
          type: 'cancel',
          code: '409',
          condition: 'conflict',
          others: [],
        },
      );
      expect(await ts.server.accounts.exists(jid('frank', 'localhost'))).to.equal(false);
      // None of that counted against the address.
      const ok = await rawIq(raw, registerSet(credentials('frank', 'frank-long-secret')));
      expect(ok.attrs.type).to.equal('result');
    } finally {
      raw.close();
    }
  });

  it('registers at most one account per address per interval (§3.1.1)', async () => {
    const first = await rawSecure(ts, '127.0.0.4');
    try {
      const ok = await rawIq(first.raw, registerSet(credentials('grace', 'grace-long-secret')));
      expect(ok.attrs.type).to.equal('result');
      const again = await rawIq(first.raw, registerSet(credentials('heidi', 'heidi-long-secret')));
      expect(rawError(again)).to.deep.equal({
        type: 'wait',
        code: '500',
        condition: 'resource-constraint',
        others: [],
      });
    } finally {
      first.raw.close();
    }
    // A new connection from the same address is no way around it; another address is.
    const second = await rawSecure(ts, '127.0.0.4');
    const third = await rawSecure(ts, '127.0.0.5');
    try {
      const refused = await rawIq(second.raw, registerSet(credentials('heidi', 'heidi-long-secret')));
      expect(rawError(refused).condition).to.equal('resource-constraint');
      const ok = await rawIq(third.raw, registerSet(credentials('heidi', 'heidi-long-secret')));
      expect(ok.attrs.type).to.equal('result');
    } finally {
      second.raw.close();
      third.raw.close();
    }
  });
});
