// XEP-0060 requests read at the edge: what each <pubsub/> payload becomes, and the errors the
// sections give for malformed ones (§6.1.3, §6.5, §7.1.3, §7.2.3, §8.1, §8.2).

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import { readOwner, readPubsub } from './requests.js';

const pubsub = (inner: string) => parseStored(`<pubsub xmlns="${NS.PUBSUB}">${inner}</pubsub>`);
const ownerPayload = (inner: string) => parseStored(`<pubsub xmlns="${NS.PUBSUB_OWNER}">${inner}</pubsub>`);

/** The error a reader throws: condition and pubsub#errors condition. */
function refusal(read: () => unknown): [string, string | undefined] {
  try {
    read();
  } catch (err) {
    if (!(err instanceof StanzaError)) throw err;
    return [err.condition, err.appCondition?.localName];
  }
  throw new Error('expected a StanzaError');
}

describe('XEP-0060 requests', () => {
  it('reads a publication with its item and publish-options (§7.1.1, §7.1.5)', () => {
    const request = readPubsub(
      pubsub(
        `<publish node="n"><item id="i1"><p xmlns="urn:p">x</p></item></publish>` +
          `<publish-options><x xmlns="${NS.DATA_FORMS}" type="submit">` +
          `<field var="FORM_TYPE" type="hidden"><value>${NS.PUBSUB_PUBLISH_OPTIONS}</value></field>` +
          '<field var="pubsub#access_model"><value>open</value></field></x></publish-options>',
      ),
      'set',
    );
    expect(request.kind).to.equal('publish');
    if (request.kind !== 'publish') return;
    expect(request.node).to.equal('n');
    expect(request.item.id).to.equal('i1');
    expect(request.item.payload.toString()).to.equal('<p xmlns="urn:p">x</p>');
    expect([...request.options!.fields]).to.deep.equal([['pubsub#access_model', ['open']]]);
  });

  it('leaves the id of an item without one to the service (§7.1.1)', () => {
    const request = readPubsub(pubsub('<publish node="n"><item><p xmlns="urn:p"/></item></publish>'), 'set');
    expect(request.kind === 'publish' && request.item.id).to.equal(undefined);
  });

  it('reads retractions, with notify as a boolean (§7.2.1)', () => {
    expect(
      readPubsub(pubsub('<retract node="n" notify="1"><item id="a"/><item id="b"/></retract>'), 'set'),
    ).to.deep.equal({
      kind: 'retract',
      node: 'n',
      ids: ['a', 'b'],
      notify: true,
    });
    expect(readPubsub(pubsub('<retract node="n"><item id="a"/></retract>'), 'set')).to.deep.include({
      notify: undefined,
    });
  });

  it('reads item requests: all, by id, the most recent (§6.5)', () => {
    expect(readPubsub(pubsub('<items node="n"/>'), 'get')).to.deep.equal({
      kind: 'items',
      node: 'n',
      ids: undefined,
      max: undefined,
    });
    expect(readPubsub(pubsub('<items node="n" max_items="2"/>'), 'get')).to.deep.include({ max: 2 });
    expect(readPubsub(pubsub('<items node="n"><item id="x"/><item id="y"/></items>'), 'get')).to.deep.include(
      {
        ids: ['x', 'y'],
      },
    );
  });

  it('reads owner requests (§8)', () => {
    expect(readOwner(ownerPayload('<configure node="n"/>'), 'get')).to.deep.equal({
      kind: 'configure',
      node: 'n',
      form: undefined,
    });
    expect(readOwner(ownerPayload('<default/>'), 'get')).to.deep.equal({ kind: 'default' });
    expect(readOwner(ownerPayload('<delete node="n"/>'), 'set')).to.deep.equal({ kind: 'delete', node: 'n' });
    expect(readOwner(ownerPayload('<purge node="n"/>'), 'set')).to.deep.equal({ kind: 'purge', node: 'n' });
    expect(readOwner(ownerPayload('<affiliations node="n"/>'), 'get')).to.deep.equal({
      kind: 'affiliations',
      node: 'n',
      changes: undefined,
    });
    expect(readOwner(ownerPayload('<affiliations node="n"/>'), 'set')).to.deep.include({ changes: [] });
    const affiliations = readOwner(
      ownerPayload('<affiliations node="n"><affiliation jid="b@x" affiliation="member"/></affiliations>'),
      'set',
    );
    expect(
      affiliations.kind === 'affiliations' && affiliations.changes?.map((c) => [c.jid.full, c.affiliation]),
    ).to.deep.equal([['b@x', 'member']]);
  });

  const malformed: Array<[string, () => unknown, [string, string | undefined]]> = [
    [
      'publish without node',
      () => readPubsub(pubsub('<publish><item><p xmlns="urn:p"/></item></publish>'), 'set'),
      ['bad-request', 'nodeid-required'],
    ],
    [
      'publish without item',
      () => readPubsub(pubsub('<publish node="n"/>'), 'set'),
      ['bad-request', 'item-required'],
    ],
    [
      'publish without payload',
      () => readPubsub(pubsub('<publish node="n"><item/></publish>'), 'set'),
      ['bad-request', 'payload-required'],
    ],
    [
      'publish with two payloads',
      () =>
        readPubsub(pubsub('<publish node="n"><item><a xmlns="u"/><b xmlns="u"/></item></publish>'), 'set'),
      ['bad-request', 'invalid-payload'],
    ],
    [
      'publish of two items',
      () =>
        readPubsub(
          pubsub('<publish node="n"><item><a xmlns="u"/></item><item><a xmlns="u"/></item></publish>'),
          'set',
        ),
      ['bad-request', 'invalid-payload'],
    ],
    [
      'publish-options of another form type',
      () =>
        readPubsub(
          pubsub(
            `<publish node="n"><item><a xmlns="u"/></item></publish><publish-options><x xmlns="${NS.DATA_FORMS}" type="submit"/></publish-options>`,
          ),
          'set',
        ),
      ['bad-request', undefined],
    ],
    [
      'retract without item',
      () => readPubsub(pubsub('<retract node="n"/>'), 'set'),
      ['bad-request', 'item-required'],
    ],
    [
      'retract of an item without id',
      () => readPubsub(pubsub('<retract node="n"><item/></retract>'), 'set'),
      ['bad-request', 'item-required'],
    ],
    [
      'items with a bad max_items',
      () => readPubsub(pubsub('<items node="n" max_items="many"/>'), 'get'),
      ['bad-request', undefined],
    ],
    [
      'subscribe without jid',
      () => readPubsub(pubsub('<subscribe node="n"/>'), 'set'),
      ['bad-request', 'invalid-jid'],
    ],
    [
      'create without node',
      () => readPubsub(pubsub('<create/>'), 'set'),
      ['not-acceptable', 'nodeid-required'],
    ],
    [
      'subscription options',
      () => readPubsub(pubsub('<options node="n" jid="a@b"/>'), 'get'),
      ['feature-not-implemented', 'unsupported'],
    ],
    [
      'publish as a get',
      () => readPubsub(pubsub('<publish node="n"/>'), 'get'),
      ['feature-not-implemented', undefined],
    ],
    ['an empty pubsub', () => readPubsub(pubsub(''), 'get'), ['bad-request', undefined]],
    [
      'configure set without form',
      () => readOwner(ownerPayload('<configure node="n"/>'), 'set'),
      ['bad-request', undefined],
    ],
    [
      'managing subscriptions',
      () => readOwner(ownerPayload('<subscriptions node="n"/>'), 'get'),
      ['feature-not-implemented', 'unsupported'],
    ],
    [
      'defaults of a collection',
      () => readOwner(ownerPayload('<default type="collection"/>'), 'get'),
      ['feature-not-implemented', 'unsupported'],
    ],
  ];
  for (const [what, read, expected] of malformed) {
    it(`refuses ${what}`, () => {
      expect(refusal(read)).to.deep.equal(expected);
    });
  }

  it('keeps the payload element as sent', () => {
    const payload: Element = pubsub(
      '<publish node="n"><item id="a"><p xmlns="urn:p" k="v"><q/></p></item></publish>',
    );
    const request = readPubsub(payload, 'set');
    expect(request.kind === 'publish' && request.item.payload.parent?.localName).to.equal('item');
  });
});
