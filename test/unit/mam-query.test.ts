// Reading archive queries: XEP-0082 DateTime, XEP-0059 <set/> requests, the XEP-0313 §4.1
// filter form (and what is refused with which error), §4.3.4 flipped pages; the §4.1.5 form.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { parseStored } from '../../src/xml/fragment.js';
import { parseDateTime, parseQuery, queryForm } from '../../xeps/0313-mam/query.js';
import { parseRsm, type RsmRequest, rsmSet } from '../../xeps/0313-mam/rsm.js';

const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';

describe('XEP-0082 DateTime', () => {
  const table: Array<[string, number | undefined]> = [
    ['2010-07-10T23:08:25Z', Date.UTC(2010, 6, 10, 23, 8, 25)],
    ['2010-07-10T23:08:25.123Z', Date.UTC(2010, 6, 10, 23, 8, 25, 123)],
    ['2010-07-10T23:08:25.1Z', Date.UTC(2010, 6, 10, 23, 8, 25, 100)],
    ['2010-07-10T23:08:25.123456Z', Date.UTC(2010, 6, 10, 23, 8, 25, 123)],
    ['2010-07-10T23:08:25+02:00', Date.UTC(2010, 6, 10, 21, 8, 25)],
    ['2010-07-10T23:08:25-05:30', Date.UTC(2010, 6, 11, 4, 38, 25)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2023-02-29T00:00:00Z', undefined],
    ['2010-13-01T00:00:00Z', undefined],
    ['2010-07-10T24:00:00Z', undefined],
    ['2010-07-10T23:60:00Z', undefined],
    ['2010-07-10T23:08:25', undefined],
    ['2010-07-10', undefined],
    ['2010-07-10 23:08:25Z', undefined],
    ['yesterday', undefined],
    ['', undefined],
  ];
  for (const [text, ms] of table) {
    it(`${JSON.stringify(text)} → ${ms === undefined ? 'refused' : new Date(ms).toISOString()}`, () => {
      expect(parseDateTime(text)).to.equal(ms);
    });
  }
});

describe('XEP-0059 requests and answers', () => {
  const table: Array<[string, string | undefined, RsmRequest]> = [
    ['no <set/>', undefined, { max: undefined, page: { from: 'start' } }],
    ['max', `<set xmlns='${RSM}'><max>10</max></set>`, { max: 10, page: { from: 'start' } }],
    [
      'max 0 (the count alone)',
      `<set xmlns='${RSM}'><max>0</max></set>`,
      { max: 0, page: { from: 'start' } },
    ],
    [
      'after',
      `<set xmlns='${RSM}'><max>5</max><after>x</after></set>`,
      { max: 5, page: { from: 'start', after: 'x' } },
    ],
    [
      'before',
      `<set xmlns='${RSM}'><before>x</before></set>`,
      { max: undefined, page: { from: 'end', before: 'x', after: undefined } },
    ],
    [
      'an empty before (the last page)',
      `<set xmlns='${RSM}'><max>5</max><before/></set>`,
      { max: 5, page: { from: 'end', after: undefined } },
    ],
    [
      'before and after',
      `<set xmlns='${RSM}'><after>a</after><before>b</before></set>`,
      { max: undefined, page: { from: 'end', before: 'b', after: 'a' } },
    ],
    [
      'index',
      `<set xmlns='${RSM}'><max>5</max><index>20</index></set>`,
      { max: 5, page: { from: 'index', index: 20 } },
    ],
    [
      'index with after: after wins',
      `<set xmlns='${RSM}'><index>20</index><after>a</after></set>`,
      { max: undefined, page: { from: 'start', after: 'a' } },
    ],
  ];
  for (const [what, xml, expected] of table) {
    it(`reads ${what}`, () => {
      expect(parseRsm(xml === undefined ? undefined : parseStored(xml))).to.deep.equal(expected);
    });
  }

  for (const bad of [
    '<max>-1</max>',
    '<max>ten</max>',
    '<max>99999999999</max>',
    '<index>1.5</index>',
    '<after/>',
  ]) {
    it(`refuses ${bad} with bad-request`, () => {
      expect(() => parseRsm(parseStored(`<set xmlns='${RSM}'>${bad}</set>`)))
        .to.throw(StanzaError)
        .with.property('condition', 'bad-request');
    });
  }

  it('answers with first (and its index), last and count; an empty page with the count alone', () => {
    expect(rsmSet({ first: { id: 'a', index: 3 }, last: 'b', count: 10 }).toString()).to.equal(
      `<set xmlns="${RSM}"><first index="3">a</first><last>b</last><count>10</count></set>`,
    );
    expect(rsmSet({ count: 0 }).toString()).to.equal(`<set xmlns="${RSM}"><count>0</count></set>`);
  });
});

describe('XEP-0313 §4.1 the query form', () => {
  const query = (fields: string, extra = '', attrs = "queryid='q1'") =>
    parseStored(
      `<query xmlns='${MAM}' ${attrs}><x xmlns='jabber:x:data' type='submit'>` +
        `<field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${fields}</x>${extra}</query>`,
    );
  const field = (name: string, ...values: string[]) =>
    `<field var='${name}'>${values.map((v) => `<value>${v}</value>`).join('')}</field>`;

  it('reads every field, RSM and flip-page', () => {
    const q = parseQuery(
      query(
        field('with', 'Juliet@Capulet.lit/balcony') +
          field('start', '2010-06-07T00:00:00Z') +
          field('end', '2010-07-07T13:23:54Z') +
          field('after-id', 'a1') +
          field('before-id', 'b2') +
          field('ids', 'i1', 'i2') +
          field('include-groupchat', 'false'),
        `<set xmlns='${RSM}'><max>10</max><before/></set><flip-page/>`,
      ),
      { maxIds: 5 },
    );
    expect({ ...q, filter: { ...q.filter, with: q.filter.with?.full } }).to.deep.equal({
      queryId: 'q1',
      filter: {
        with: 'juliet@capulet.lit/balcony',
        start: Date.UTC(2010, 5, 7),
        end: Date.UTC(2010, 6, 7, 13, 23, 54),
        afterId: 'a1',
        beforeId: 'b2',
        ids: ['i1', 'i2'],
      },
      rsm: { max: 10, page: { from: 'end', after: undefined } },
      flip: true,
    });
  });

  it('reads a query without a form, queryid or RSM as "everything, first page"', () => {
    expect(parseQuery(parseStored(`<query xmlns='${MAM}'/>`), { maxIds: 5 })).to.deep.equal({
      queryId: undefined,
      filter: {},
      rsm: { max: undefined, page: { from: 'start' } },
      flip: false,
    });
  });

  it('takes empty fields as not given', () => {
    expect(parseQuery(query(field('with', '') + "<field var='start'/>"), { maxIds: 5 }).filter).to.deep.equal(
      {},
    );
  });

  const refusals: Array<[string, string, string, string?]> = [
    ['an unknown field', field('{urn:example}full-text', 'x'), 'feature-not-implemented'],
    ['another FORM_TYPE', "<field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field>", 'bad-request'],
    ['a bad JID', field('with', 'a@b@c'), 'jid-malformed'],
    ['a bad start', field('start', '2010-06-07'), 'bad-request'],
    ['a bad end', field('end', 'now'), 'bad-request'],
    ['two values for with', field('with', 'a@b', 'c@d'), 'bad-request'],
    ['too many ids', field('ids', '1', '2', '3', '4', '5', '6'), 'policy-violation'],
    ['a bad include-groupchat', field('include-groupchat', 'maybe'), 'bad-request'],
    ['a pubsub node', '', 'feature-not-implemented', "node='urn:xmpp:mucsub:nodes:messages'"],
  ];
  for (const [what, fields, condition, attrs] of refusals) {
    it(`refuses ${what} with ${condition}`, () => {
      expect(() => parseQuery(query(fields, '', attrs), { maxIds: 5 }))
        .to.throw(StanzaError)
        .with.property('condition', condition);
    });
  }

  it('describes its fields (§4.1.5), none marked required', () => {
    expect(queryForm().toString()).to.equal(
      `<query xmlns="${MAM}"><x xmlns="jabber:x:data" type="form">` +
        `<field type="hidden" var="FORM_TYPE"><value>${MAM}</value></field>` +
        '<field type="jid-single" var="with"/>' +
        '<field type="text-single" var="start"/>' +
        '<field type="text-single" var="end"/>' +
        '<field type="text-single" var="before-id"/>' +
        '<field type="text-single" var="after-id"/>' +
        '<field type="list-multi" var="ids"><validate xmlns="http://jabber.org/protocol/xdata-validate" datatype="xs:string"><open/></validate></field>' +
        '<field type="boolean" var="include-groupchat"/>' +
        '</x></query>',
    );
  });
});
