// XEP-0313 message archive end to end: a real server on loopback, @xmpp/client over STARTTLS,
// alice on two resources (phone, laptop) with bob as her contact, and more accounts for the
// paging, preference and retention cases; a restart of the server on the same directory.
//
// §3.5 / XEP-0359: both sides archive, the recipient's copy carries a stanza-id by its
// account, forged ones are removed. §4 queries: everything, 'with', 'start'/'end',
// 'after-id'/'before-id'/'ids', RSM paging both ways with first/last/count/complete, flipped
// pages, item-not-found, the server's page limit, the form (§4.1.5); §5 metadata; §6 disco;
// §7.1.1 what is archived (chat states, XEP-0334 hints, headlines); §8.1 only the owner;
// XEP-0441 preferences (always, never, roster); retention; deletion with the account.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { SqliteMamStore } from '../../xeps/0313-mam/store.js';
import { connect, type TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const SID = 'urn:xmpp:sid:0';
const FORWARD = 'urn:xmpp:forward:0';
const DELAY = 'urn:xmpp:delay';
const HINTS = 'urn:xmpp:hints';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const DATA = 'jabber:x:data';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** Small, so that the server's limit is quick to reach. */
const PAGE_LIMIT = 10;
const RETENTION_DAYS = 30;
const DAY = 86_400_000;

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

interface Rsm {
  max?: number;
  after?: string;
  /** '' asks for the last page. */
  before?: string;
  index?: number;
}

interface QueryOptions {
  fields?: Record<string, string | string[]>;
  rsm?: Rsm;
  flip?: boolean;
  to?: string;
}

interface QueryAnswer {
  iq: XmlElement;
  /** The <result/> messages of this query, in the order they came. */
  results: XmlElement[];
}

/** The ids and body texts of a query's results. */
const bodies = (answer: QueryAnswer) => answer.results.map((m) => forwardedOf(m).getChildText('body'));
const resultIds = (answer: QueryAnswer) => answer.results.map((m) => m.getChild('result', MAM)!.attrs.id!);

function forwardedOf(result: XmlElement): XmlElement {
  return result.getChild('result', MAM)!.getChild('forwarded', FORWARD)!.getChild('message')!;
}

/** What <fin/> says: complete, and the RSM answer (first with its index, last, count). */
function finOf(answer: QueryAnswer) {
  expect(answer.iq.attrs.type, answer.iq.toString()).to.equal('result');
  const fin = answer.iq.getChild('fin', MAM)!;
  const set = fin.getChild('set', RSM)!;
  const first = set.getChild('first');
  return {
    complete: fin.attrs.complete,
    first: first?.getText(),
    index: first?.attrs.index,
    last: set.getChildText('last') ?? undefined,
    count: set.getChildText('count') ?? undefined,
  };
}

function conditionOf(stanza: XmlElement): string {
  expect(stanza.attrs.type, stanza.toString()).to.equal('error');
  const error = stanza.getChild('error')!;
  const condition = error.children.find(
    (c) => typeof c !== 'string' && (c as XmlElement).attrs.xmlns === STANZAS,
  ) as XmlElement;
  return `${error.attrs.type} ${condition.name}`;
}

async function iq(client: TestClient, type: 'get' | 'set', payload: XmlElement, to?: string) {
  const id = nextId('iq');
  await client.send(xml('iq', { type, id, to }, payload));
  return client.waitFor(
    (el) =>
      el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'),
  );
}

/** Sends an archive query and collects its results (they all come before the iq answer). */
async function archive(client: TestClient, options: QueryOptions = {}): Promise<QueryAnswer> {
  const queryid = nextId('q');
  const children: XmlElement[] = [];
  if (options.fields) {
    children.push(
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM)),
        ...Object.entries(options.fields).map(([name, value]) =>
          xml(
            'field',
            { var: name },
            ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v)),
          ),
        ),
      ),
    );
  }
  const rsm = options.rsm;
  if (rsm) {
    const items: XmlElement[] = [];
    if (rsm.max !== undefined) items.push(xml('max', {}, String(rsm.max)));
    if (rsm.after !== undefined) items.push(xml('after', {}, rsm.after));
    if (rsm.before !== undefined) items.push(xml('before', {}, rsm.before));
    if (rsm.index !== undefined) items.push(xml('index', {}, String(rsm.index)));
    children.push(xml('set', { xmlns: RSM }, ...items));
  }
  if (options.flip) children.push(xml('flip-page', { xmlns: MAM }));
  const answer = await iq(client, 'set', xml('query', { xmlns: MAM, queryid }, ...children), options.to);
  const results = client.received.filter(
    (el) => el.name === 'message' && el.getChild('result', MAM)?.attrs.queryid === queryid,
  );
  return { iq: answer, results };
}

/** A ping round trip: what the client sent before has had its fate (archived, delivered, stored). */
async function settle(client: TestClient): Promise<void> {
  const reply = await iq(client, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), 'localhost');
  expect(reply.attrs.type).to.equal('result');
}

const chat = (to: string, id: string, body: string, ...payload: XmlElement[]) =>
  xml('message', { to, type: 'chat', id }, xml('body', {}, body), ...payload);

/** The stanza-ids of a received message, as "by id". */
const stanzaIds = (message: XmlElement) =>
  message.getChildren('stanza-id', SID).map((s) => `${s.attrs.by} ${s.attrs.id}`);

describe('XEP-0313 message archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-mam-'));
  let ts: TestServer;
  const clients: TestClient[] = [];
  const start = () =>
    startTestServer({
      dir,
      extraToml: `[mam]\nmax_page_size = ${PAGE_LIMIT}\nretention_days = ${RETENTION_DAYS}`,
    });
  const store = () => new SqliteMamStore(ts.server.db);

  before(async () => {
    ts = await start();
    for (const user of [
      'alice',
      'bob',
      'dave',
      'erin',
      'frank',
      'gina',
      'hana',
      'ivan',
      'judy',
      'kim',
      'lena',
      'mona',
    ])
      await ts.addUser(user, `${user}-secret`);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
  });
  after(async () => {
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Logs in and sends available presence, so that messages to the bare JID reach it. */
  async function login(username: string, resource: string, available = true): Promise<TestClient> {
    // PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM.
    const c = await connect({
      port: ts.port,
      domain: 'localhost',
      username,
      password: `${username}-secret`,
      resource,
      mechanism: 'PLAIN',
    });
    clients.push(c);
    if (available) {
      await c.send(xml('presence'));
      await settle(c);
    }
    return c;
  }

  it('advertises the archive on the account (§6), with #extended and stanza ids', async () => {
    const alice = await login('alice', 'phone', false);
    for (const to of ['alice@localhost', 'bob@localhost']) {
      const reply = await iq(
        alice,
        'get',
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
        to,
      );
      const features = reply
        .getChild('query')!
        .getChildren('feature')
        .map((f) => f.attrs.var);
      expect(features).to.include.members([MAM, `${MAM}#extended`, `${MAM}#groupchat-field`, SID]);
    }
    const server = await iq(
      alice,
      'get',
      xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      'localhost',
    );
    const serverFeatures = server
      .getChild('query')!
      .getChildren('feature')
      .map((f) => f.attrs.var);
    expect(serverFeatures).not.to.include(MAM);
  });

  it('archives a conversation on both sides, marking what each recipient gets with its own stanza-id', async () => {
    const phone = await login('alice', 'phone');
    const laptop = await login('alice', 'laptop');
    const bob = await login('bob', 'desk');

    // Forged ids: the one by alice's account goes before routing, the one by bob's on delivery.
    await phone.send(
      chat(
        'bob@localhost',
        'c1',
        'Wherefore art thou?',
        xml('stanza-id', { xmlns: SID, by: 'bob@localhost', id: 'forged-for-bob' }),
        xml('stanza-id', { xmlns: SID, by: 'alice@localhost', id: 'forged-for-alice' }),
        xml('origin-id', { xmlns: SID, id: 'origin-1' }),
      ),
    );
    const atBob = await bob.waitFor((el) => el.attrs.id === 'c1');
    expect(stanzaIds(atBob)).to.have.length(1);
    const bobsId = atBob.getChild('stanza-id', SID)!.attrs.id!;
    expect(atBob.toString()).to.equal(
      '<message to="bob@localhost" type="chat" id="c1" from="alice@localhost/phone">' +
        '<body>Wherefore art thou?</body><origin-id xmlns="urn:xmpp:sid:0" id="origin-1"/>' +
        `<stanza-id xmlns="urn:xmpp:sid:0" by="bob@localhost" id="${bobsId}"/></message>`,
    );

    await bob.send(chat('alice@localhost/phone', 'c2', 'Here, by the orchard wall.'));
    const atPhone = await phone.waitFor((el) => el.attrs.id === 'c2');
    const alicesId = atPhone.getChild('stanza-id', SID)!.attrs.id!;
    expect(stanzaIds(atPhone)).to.deep.equal([`alice@localhost ${alicesId}`]);
    await settle(bob);

    // Alice's archive, read from her other resource: her message as she sent it, bob's as she got it.
    const answer = await archive(laptop, { fields: { with: 'bob@localhost' } });
    expect(answer.results).to.have.length(2);
    const [mine, his] = answer.results as [XmlElement, XmlElement];
    const queryid = mine.getChild('result', MAM)!.attrs.queryid!;
    const stampOf = (m: XmlElement) => {
      const stamp = m.getChild('result', MAM)!.getChild('forwarded', FORWARD)!.getChild('delay', DELAY)!.attrs
        .stamp!;
      expect(stamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.now() - Date.parse(stamp)).to.be.within(0, 60_000);
      return stamp;
    };
    const result = (id: string, stamp: string, original: string) =>
      `<message to="alice@localhost/laptop" from="alice@localhost">` +
      `<result xmlns="${MAM}" queryid="${queryid}" id="${id}"><forwarded xmlns="${FORWARD}">` +
      `<delay xmlns="${DELAY}" stamp="${stamp}"/>${original}</forwarded></result></message>`;
    const myId = resultIds(answer)[0]!;
    expect(mine.toString()).to.equal(
      result(
        myId,
        stampOf(mine),
        '<message xmlns="jabber:client" to="bob@localhost" type="chat" id="c1" from="alice@localhost/phone">' +
          '<body>Wherefore art thou?</body>' +
          '<stanza-id xmlns="urn:xmpp:sid:0" by="bob@localhost" id="forged-for-bob"/>' +
          '<origin-id xmlns="urn:xmpp:sid:0" id="origin-1"/></message>',
      ),
    );
    expect(his.toString()).to.equal(
      result(
        alicesId,
        stampOf(his),
        '<message xmlns="jabber:client" to="alice@localhost/phone" type="chat" id="c2" from="bob@localhost/desk">' +
          '<body>Here, by the orchard wall.</body></message>',
      ),
    );
    expect(myId).not.to.equal(bobsId);
    expect(finOf(answer)).to.deep.equal({
      complete: 'true',
      first: myId,
      index: '0',
      last: alicesId,
      count: '2',
    });

    // Bob's archive: the id he was given names alice's message there.
    const his2 = await archive(bob, { fields: { ids: bobsId } });
    expect(bodies(his2)).to.deep.equal(['Wherefore art thou?']);
    expect(forwardedOf(his2.results[0]!).getChildren('stanza-id', SID)).to.deep.equal([]);
    expect(finOf(his2)).to.deep.equal({
      complete: 'true',
      first: bobsId,
      index: '0',
      last: bobsId,
      count: '1',
    });
  });

  describe('queries and paging', () => {
    let dave: TestClient;
    /** The ids of the first ten of dave's messages d1…d15 (12 to erin; d4, d8, d12 to frank). */
    let ids: string[];
    const number = (n: number) => `d${n}`;
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => number(from + i));

    before(async () => {
      dave = await login('dave', 'pc', false);
      // Kept for the whole group, not stopped after each test.
      clients.splice(clients.indexOf(dave), 1);
      for (let n = 1; n <= 15; n++) {
        const to = n % 4 === 0 ? 'frank@localhost' : 'erin@localhost';
        await dave.send(chat(to, `dm${n}`, number(n)));
      }
      await settle(dave);
      const all = await archive(dave, { rsm: { max: 15 } });
      ids = resultIds(all);
      // Clamped to the server's limit.
      expect(bodies(all)).to.deep.equal(range(1, PAGE_LIMIT));
    });
    after(async () => {
      await dave.stop().catch(() => {});
    });

    it('pages forward with after, first index, count and complete', async () => {
      const first = await archive(dave, { rsm: { max: 6 } });
      expect(bodies(first)).to.deep.equal(range(1, 6));
      expect(finOf(first)).to.deep.include({ complete: undefined, index: '0', count: '15' });
      const second = await archive(dave, { rsm: { max: 6, after: finOf(first).last! } });
      expect(bodies(second)).to.deep.equal(range(7, 12));
      expect(finOf(second)).to.deep.include({ complete: undefined, index: '6', count: '15' });
      const third = await archive(dave, { rsm: { max: 6, after: finOf(second).last! } });
      expect(bodies(third)).to.deep.equal(range(13, 15));
      const fin = finOf(third);
      expect(fin).to.deep.equal({
        complete: 'true',
        first: resultIds(third)[0],
        index: '12',
        last: resultIds(third)[2],
        count: '15',
      });
    });

    it('pages backward from the end with before', async () => {
      const last = await archive(dave, { rsm: { max: 6, before: '' } });
      expect(bodies(last)).to.deep.equal(range(10, 15));
      expect(finOf(last)).to.deep.include({ complete: undefined, index: '9', count: '15' });
      const previous = await archive(dave, { rsm: { max: 6, before: finOf(last).first! } });
      expect(bodies(previous)).to.deep.equal(range(4, 9));
      expect(finOf(previous)).to.deep.include({ complete: undefined, index: '3' });
      const oldest = await archive(dave, { rsm: { max: 6, before: finOf(previous).first! } });
      expect(bodies(oldest)).to.deep.equal(range(1, 3));
      expect(finOf(oldest)).to.deep.include({ complete: 'true', index: '0', count: '15' });
    });

    it('flips a page: the same results, newest first (§4.3.4)', async () => {
      const plain = await archive(dave, { rsm: { max: 4, before: '' } });
      const flipped = await archive(dave, { rsm: { max: 4, before: '' }, flip: true });
      expect(bodies(flipped)).to.deep.equal(range(12, 15).reverse());
      expect(finOf(flipped)).to.deep.equal(finOf(plain));
    });

    it('pages by index, and answers the count alone for max 0', async () => {
      const page = await archive(dave, { rsm: { max: 3, index: 5 } });
      expect(bodies(page)).to.deep.equal(range(6, 8));
      expect(finOf(page)).to.deep.include({ index: '5', count: '15' });
      const count = await archive(dave, { rsm: { max: 0 } });
      expect(count.results).to.deep.equal([]);
      expect(finOf(count)).to.deep.equal({
        complete: undefined,
        first: undefined,
        index: undefined,
        last: undefined,
        count: '15',
      });
    });

    it('filters by with: a bare JID matches every resource; a full JID only itself', async () => {
      const frank = await archive(dave, { fields: { with: 'frank@localhost' } });
      expect(bodies(frank)).to.deep.equal(['d4', 'd8', 'd12']);
      expect(finOf(frank)).to.deep.include({ complete: 'true', index: '0', count: '3' });
      const erin = await archive(dave, { fields: { with: 'erin@localhost' }, rsm: { max: 5, before: '' } });
      expect(bodies(erin)).to.deep.equal(['d10', 'd11', 'd13', 'd14', 'd15']);
      expect(finOf(erin)).to.deep.include({ complete: undefined, index: '7', count: '12' });
      const resource = await archive(dave, { fields: { with: 'erin@localhost/phone' } });
      expect(resource.results).to.deep.equal([]);
      expect(finOf(resource)).to.deep.equal({
        complete: 'true',
        first: undefined,
        index: undefined,
        last: undefined,
        count: '0',
      });
    });

    it('filters by time, start and end inclusive', async () => {
      const all = [
        ...(await archive(dave, { rsm: { max: 10 } })).results,
        ...(await archive(dave, { rsm: { max: 10, after: ids[9]! } })).results,
      ];
      const stamps = all.map(
        (m) =>
          m.getChild('result', MAM)!.getChild('forwarded', FORWARD)!.getChild('delay', DELAY)!.attrs.stamp!,
      );
      const start = stamps[4]!;
      const end = stamps[9]!;
      const expected = all
        .filter((_, i) => stamps[i]! >= start && stamps[i]! <= end)
        .map((m) => forwardedOf(m).getChildText('body'));
      expect(expected).to.include.members(range(5, 10));
      // Messages sent within one millisecond share a stamp: the range may hold more than 5…10.
      const answer = await archive(dave, { fields: { start, end } });
      expect(bodies(answer)).to.deep.equal(expected.slice(0, PAGE_LIMIT));
      expect(finOf(answer)).to.deep.include({
        complete: expected.length <= PAGE_LIMIT ? 'true' : undefined,
        index: '0',
        count: String(expected.length),
      });
      const future = await archive(dave, { fields: { start: new Date(Date.now() + DAY).toISOString() } });
      expect(finOf(future)).to.deep.include({ complete: 'true', count: '0' });
    });

    it('limits by after-id, before-id and ids (§4.1.3)', async () => {
      const between = await archive(dave, { fields: { 'after-id': ids[2]!, 'before-id': ids[7]! } });
      expect(bodies(between)).to.deep.equal(range(4, 7));
      expect(finOf(between)).to.deep.include({ complete: 'true', index: '0', count: '4' });
      const some = await archive(dave, { fields: { ids: [ids[6]!, ids[0]!] } });
      expect(bodies(some)).to.deep.equal(['d1', 'd7']);
    });

    it('answers item-not-found for an id that is not in the archive', async () => {
      const alice = await login('alice', 'phone', false);
      const foreign = resultIds(await archive(alice, { rsm: { max: 1 } }))[0]!;
      for (const unknown of ['no-such-id', foreign]) {
        const cases: QueryOptions[] = [
          { rsm: { after: unknown } },
          { rsm: { before: unknown } },
          { fields: { 'after-id': unknown } },
          { fields: { 'before-id': unknown } },
          { fields: { ids: [ids[0]!, unknown] } },
        ];
        for (const options of cases) {
          const answer = await archive(dave, options);
          expect(conditionOf(answer.iq), JSON.stringify(options)).to.equal('cancel item-not-found');
          expect(answer.results).to.deep.equal([]);
        }
      }
    });

    it('refuses unknown fields with feature-not-implemented and bad values with bad-request', async () => {
      expect(conditionOf((await archive(dave, { fields: { '{urn:example}text': 'x' } })).iq)).to.equal(
        'cancel feature-not-implemented',
      );
      expect(conditionOf((await archive(dave, { fields: { start: 'yesterday' } })).iq)).to.equal(
        'modify bad-request',
      );
    });

    it('describes its query form (§4.1.5) and the ends of the archive (§5)', async () => {
      const form = await iq(dave, 'get', xml('query', { xmlns: MAM }));
      const fields = form
        .getChild('query', MAM)!
        .getChild('x', DATA)!
        .getChildren('field')
        .map((f) => `${f.attrs.var} ${f.attrs.type}`);
      expect(fields).to.deep.equal([
        'FORM_TYPE hidden',
        'with jid-single',
        'start text-single',
        'end text-single',
        'before-id text-single',
        'after-id text-single',
        'ids list-multi',
        'include-groupchat boolean',
      ]);
      const metadata = (await iq(dave, 'get', xml('metadata', { xmlns: MAM }))).getChild('metadata', MAM)!;
      expect(metadata.getChild('start')!.attrs.id).to.equal(ids[0]);
      const newest = await archive(dave, { rsm: { max: 1, before: '' } });
      expect(metadata.getChild('end')!.attrs.id).to.equal(resultIds(newest)[0]);
      const empty = await login('mona', 'x', false);
      expect(
        (await iq(empty, 'get', xml('metadata', { xmlns: MAM }))).getChild('metadata', MAM)!.toString(),
      ).to.equal(`<metadata xmlns="${MAM}"/>`);
    });
  });

  it('keeps chat states, headlines, groupchat and no-store messages out, and archives <store/> (§7.1.1, XEP-0334)', async () => {
    const gina = await login('gina', 'a');
    const hana = await login('hana', 'b');
    const hint = (name: string) => xml(name, { xmlns: HINTS });
    await gina.send(
      xml(
        'message',
        { to: 'hana@localhost', type: 'chat', id: 'n1' },
        xml('composing', { xmlns: CHATSTATES }),
      ),
    );
    await gina.send(chat('hana@localhost', 'n2', 'not for the record', hint('no-store')));
    await gina.send(chat('hana@localhost', 'n3', 'not for ever', hint('no-permanent-store')));
    await gina.send(
      xml('message', { to: 'hana@localhost', type: 'headline', id: 'n4' }, xml('body', {}, 'news')),
    );
    await gina.send(
      xml(
        'message',
        { to: 'hana@localhost', type: 'chat', id: 'n5' },
        xml('active', { xmlns: CHATSTATES }),
        hint('store'),
      ),
    );
    await gina.send(chat('hana@localhost', 'n6', 'for the record', xml('active', { xmlns: CHATSTATES })));
    const last = await hana.waitFor((el) => el.attrs.id === 'n6');
    for (const id of ['n1', 'n2', 'n3', 'n4']) {
      const got = hana.received.find((el) => el.attrs.id === id);
      expect(got, id).not.to.equal(undefined);
      expect(stanzaIds(got!), id).to.deep.equal([]);
    }
    expect(stanzaIds(hana.received.find((el) => el.attrs.id === 'n5')!)).to.have.length(1);
    expect(stanzaIds(last)).to.have.length(1);
    for (const client of [gina, hana]) {
      const answer = await archive(client);
      expect(answer.results.map((m) => forwardedOf(m).attrs.id)).to.deep.equal(['n5', 'n6']);
    }
  });

  it('archives a message to oneself once, and marks it', async () => {
    const phone = await login('ivan', 'phone');
    const laptop = await login('ivan', 'laptop');
    await phone.send(chat('ivan@localhost/laptop', 'self-1', 'note to self'));
    const got = await laptop.waitFor((el) => el.attrs.id === 'self-1');
    const answer = await archive(phone, { fields: { with: 'ivan@localhost' } });
    expect(bodies(answer)).to.deep.equal(['note to self']);
    expect(stanzaIds(got)).to.deep.equal([`ivan@localhost ${resultIds(answer)[0]}`]);
  });

  it('marks a message stored for an offline recipient with the id it has in the archive', async () => {
    const judy = await login('judy', 'a');
    await judy.send(chat('kim@localhost', 'off-1', 'read me later'));
    await settle(judy);
    const kim = await login('kim', 'b');
    const got = await kim.waitFor((el) => el.attrs.id === 'off-1');
    const answer = await archive(kim);
    expect(bodies(answer)).to.deep.equal(['read me later']);
    expect(stanzaIds(got)).to.deep.equal([`kim@localhost ${resultIds(answer)[0]}`]);
  });

  it('lets only the owner read the archive and its preferences (§8.1)', async () => {
    const bob = await login('bob', 'desk', false);
    expect(conditionOf((await archive(bob, { to: 'alice@localhost' })).iq)).to.equal('auth forbidden');
    expect(conditionOf(await iq(bob, 'get', xml('prefs', { xmlns: MAM }), 'alice@localhost'))).to.equal(
      'auth forbidden',
    );
    expect(conditionOf(await iq(bob, 'get', xml('metadata', { xmlns: MAM }), 'alice@localhost'))).to.equal(
      'auth forbidden',
    );
    // Addressed to the account explicitly, by its owner, it answers.
    expect((await archive(bob, { to: 'bob@localhost', rsm: { max: 0 } })).iq.attrs.type).to.equal('result');
  });

  describe('preferences (XEP-0441)', () => {
    const prefs = (mode: string | undefined, always: string[], never: string[]) =>
      xml(
        'prefs',
        { xmlns: MAM, default: mode },
        xml('always', {}, ...always.map((j) => xml('jid', {}, j))),
        xml('never', {}, ...never.map((j) => xml('jid', {}, j))),
      );

    /** From each sender, a message to `to`; which of them landed in `to`'s archive. */
    async function archivedFrom(to: TestClient, senders: TestClient[]): Promise<string[]> {
      const sent: string[] = [];
      for (const sender of senders) {
        const id = nextId('p');
        await sender.send(chat(to.jid!.bare().toString(), id, `from ${sender.jid!.local}`));
        await to.waitFor((el) => el.attrs.id === id);
        sent.push(id);
      }
      const answer = await archive(to, { rsm: { max: PAGE_LIMIT, before: '' } });
      return answer.results
        .map((m) => forwardedOf(m).attrs.id!)
        .filter((id) => sent.includes(id))
        .map((id) => `from ${senders[sent.indexOf(id)]!.jid!.local}`);
    }

    it('start from the server default with empty lists, and are answered as applied', async () => {
      const erin = await login('erin', 'a', false);
      const initial = await iq(erin, 'get', xml('prefs', { xmlns: MAM }));
      expect(initial.getChild('prefs', MAM)!.toString()).to.equal(
        `<prefs xmlns="${MAM}" default="always"><always/><never/></prefs>`,
      );
      const set = await iq(
        erin,
        'set',
        prefs('roster', ['Dave@Localhost', 'frank@localhost'], ['frank@localhost']),
      );
      expect(set.getChild('prefs', MAM)!.toString()).to.equal(
        `<prefs xmlns="${MAM}" default="roster"><always><jid>dave@localhost</jid></always>` +
          '<never><jid>frank@localhost</jid></never></prefs>',
      );
      const again = await iq(erin, 'get', xml('prefs', { xmlns: MAM }));
      expect(again.getChild('prefs', MAM)!.toString()).to.equal(set.getChild('prefs', MAM)!.toString());
      expect(conditionOf(await iq(erin, 'set', prefs('sometimes', [], [])))).to.equal('modify bad-request');
      await iq(erin, 'set', prefs('always', [], []));
    });

    it('never, with an always list', async () => {
      const frank = await login('frank', 'a');
      const gina = await login('gina', 'a');
      const hana = await login('hana', 'a');
      await iq(frank, 'set', prefs('never', ['gina@localhost'], []));
      expect(await archivedFrom(frank, [gina, hana])).to.deep.equal(['from gina']);
      // The sender's own archive follows the sender's preferences, not the recipient's.
      const hanas = await archive(hana, { fields: { with: 'frank@localhost' } });
      expect(bodies(hanas)).to.include('from hana');
      await iq(frank, 'set', prefs('always', [], []));
    });

    it('always, with a never list naming a full JID', async () => {
      const frank = await login('frank', 'a');
      const gina = await login('gina', 'laptop');
      const hana = await login('hana', 'a');
      await iq(frank, 'set', prefs('always', [], ['gina@localhost/laptop']));
      expect(await archivedFrom(frank, [gina, hana])).to.deep.equal(['from hana']);
      await iq(frank, 'set', prefs('always', [], []));
    });

    it('roster: only contacts in the roster', async () => {
      const frank = await login('frank', 'a');
      const gina = await login('gina', 'a');
      const hana = await login('hana', 'a');
      const roster = await iq(
        frank,
        'set',
        xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'hana@localhost' })),
      );
      expect(roster.attrs.type).to.equal('result');
      await iq(frank, 'set', prefs('roster', [], []));
      expect(await archivedFrom(frank, [gina, hana])).to.deep.equal(['from hana']);
      await iq(frank, 'set', prefs('always', [], []));
    });
  });

  // Last: these restart the server and delete an account.
  describe('durability', () => {
    it('keeps the archive across a restart: same messages, same ids', async () => {
      const alice = await login('alice', 'phone', false);
      const before = await archive(alice, { rsm: { max: PAGE_LIMIT } });
      expect(before.results.length).to.be.greaterThan(0);
      await Promise.all(clients.splice(0).map((c) => c.stop()));
      await ts.stop();

      ts = await start();
      const again = await login('alice', 'laptop', false);
      const after = await archive(again, { rsm: { max: PAGE_LIMIT } });
      expect(resultIds(after)).to.deep.equal(resultIds(before));
      expect(bodies(after)).to.deep.equal(bodies(before));
      expect(finOf(after).count).to.equal(finOf(before).count);
    });

    it('expires messages older than the retention period, oldest first', async () => {
      const lena = jid('lena', 'localhost');
      const old = Date.now() - (RETENTION_DAYS + 10) * DAY;
      await store().appendMany(
        lena,
        [1, 2, 3].map((n) => ({
          with: jid('someone', 'example.com'),
          outgoing: false,
          stanza: `<message xmlns="jabber:client" type="chat"><body>old ${n}</body></message>`,
          at: old + n * 1000,
        })),
      );
      const judy = await login('judy', 'a');
      const client = await login('lena', 'a');
      await judy.send(chat('lena@localhost', 'fresh-1', 'fresh'));
      await client.waitFor((el) => el.attrs.id === 'fresh-1');
      const before = await archive(client);
      expect(bodies(before)).to.deep.equal(['old 1', 'old 2', 'old 3', 'fresh']);
      const judysCount = await store().count(jid('judy', 'localhost'));

      expect(await ts.server.services.get('archive')!.expireNow()).to.equal(3);
      const after = await archive(client);
      expect(bodies(after)).to.deep.equal(['fresh']);
      expect(finOf(after)).to.deep.include({ index: '0', count: '1', complete: 'true' });
      // An expired id names nothing any more (§4.1.3).
      const expired = await archive(client, { fields: { ids: resultIds(before)[0]! } });
      expect(conditionOf(expired.iq)).to.equal('cancel item-not-found');
      expect(await store().count(jid('judy', 'localhost'))).to.equal(judysCount);
    });

    it('deletes the archive with the account', async () => {
      const account = jid('ivan', 'localhost');
      expect(await store().count(account)).to.be.greaterThan(0);
      await ts.server.accounts.delete(account);
      expect(await store().count(account)).to.equal(0);
      const rows = ts.server.db
        .prepare("SELECT COUNT(*) AS n FROM mam_archives WHERE host = 'localhost' AND username = 'ivan'")
        .get() as { n: number };
      expect(rows.n).to.equal(0);
    });
  });
});
