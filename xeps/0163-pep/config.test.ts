// XEP-0060 node configuration as a PEP service keeps it: the XEP-0163 §8 defaults, the
// submitted forms of §8.2.4 (fields left out keep their value; bad values and unknown fields
// refused), the preconditions of §7.1.5, and the number of items a node keeps.

import { expect } from 'chai';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import {
  applyForm,
  ConfigProblem,
  configForm,
  DEFAULT_CONFIG,
  deserializeConfig,
  effectiveMaxItems,
  type NodeConfig,
  serializeConfig,
  unmetPrecondition,
} from './config.js';
import { readForm, type SubmittedForm } from './forms.js';

function submitted(fields: Record<string, string | string[]>): SubmittedForm {
  return {
    type: 'submit',
    formType: NS.PUBSUB_PUBLISH_OPTIONS,
    fields: new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  };
}

describe('XEP-0060 node configuration', () => {
  it('defaults as XEP-0163 §8 asks of a PEP service', () => {
    expect(DEFAULT_CONFIG).to.deep.include({
      accessModel: 'presence',
      deliverNotifications: true,
      deliverPayloads: true,
      sendLastPublishedItem: 'on_sub_and_presence',
      persistItems: true,
      maxItems: 1,
      notificationType: 'headline',
    });
  });

  describe('a submitted form (§8.2.4)', () => {
    const cases: Array<[string, Record<string, string | string[]>, Partial<NodeConfig>]> = [
      ['access model', { 'pubsub#access_model': 'open' }, { accessModel: 'open' }],
      ['boolean 0', { 'pubsub#persist_items': '0' }, { persistItems: false }],
      ['boolean false', { 'pubsub#deliver_payloads': 'false' }, { deliverPayloads: false }],
      ['boolean 1', { 'pubsub#notify_retract': '1' }, { notifyRetract: true }],
      ['boolean true', { 'pubsub#notify_delete': 'true' }, { notifyDelete: true }],
      ['max_items number', { 'pubsub#max_items': '25' }, { maxItems: 25 }],
      ['max_items max', { 'pubsub#max_items': 'max' }, { maxItems: 'max' }],
      [
        'roster groups',
        { 'pubsub#roster_groups_allowed': ['A', 'B', 'A'] },
        { rosterGroupsAllowed: ['A', 'B'] },
      ],
      ['no groups', { 'pubsub#roster_groups_allowed': [] }, { rosterGroupsAllowed: [] }],
      ['send last', { 'pubsub#send_last_published_item': 'never' }, { sendLastPublishedItem: 'never' }],
      ['notification type', { 'pubsub#notification_type': 'normal' }, { notificationType: 'normal' }],
      ['title', { 'pubsub#title': 'Tunes' }, { title: 'Tunes' }],
      ['empty title', { 'pubsub#title': [] }, { title: '' }],
      ['publish model', { 'pubsub#publish_model': 'publishers' }, { publishModel: 'publishers' }],
    ];
    for (const [what, fields, expected] of cases) {
      it(`takes ${what}, keeping the rest`, () => {
        const config = applyForm(DEFAULT_CONFIG, submitted(fields));
        expect(config).to.deep.equal({ ...DEFAULT_CONFIG, ...expected });
      });
    }

    const refused: Array<[string, Record<string, string | string[]>, ConfigProblem['reason']]> = [
      ['an unknown field', { 'pubsub#colour': 'blue' }, 'unknown-field'],
      ['a boolean that is none', { 'pubsub#persist_items': 'yes' }, 'bad-value'],
      ['two values for one', { 'pubsub#persist_items': ['1', '0'] }, 'bad-value'],
      ['max_items 0', { 'pubsub#max_items': '0' }, 'bad-value'],
      ['max_items -1', { 'pubsub#max_items': '-1' }, 'bad-value'],
      ['max_items words', { 'pubsub#max_items': 'lots' }, 'bad-value'],
      ['max_items too big', { 'pubsub#max_items': '99999999999999999' }, 'bad-value'],
      ['the authorize model', { 'pubsub#access_model': 'authorize' }, 'unsupported-access-model'],
      ['another publish model', { 'pubsub#publish_model': 'open' }, 'bad-value'],
      ['an unknown send-last', { 'pubsub#send_last_published_item': 'always' }, 'bad-value'],
    ];
    for (const [what, fields, reason] of refused) {
      it(`refuses ${what}`, () => {
        expect(() => applyForm(DEFAULT_CONFIG, submitted(fields)))
          .to.throw(ConfigProblem)
          .with.property('reason', reason);
      });
    }
  });

  describe('publish-options preconditions (§7.1.5)', () => {
    const node: NodeConfig = {
      ...DEFAULT_CONFIG,
      accessModel: 'open',
      maxItems: 'max',
      rosterGroupsAllowed: ['A', 'B'],
    };
    const cases: Array<[Record<string, string | string[]>, string | undefined]> = [
      [{}, undefined],
      [{ 'pubsub#access_model': 'open' }, undefined],
      [{ 'pubsub#access_model': 'presence' }, 'pubsub#access_model'],
      [{ 'pubsub#max_items': 'max' }, undefined],
      [{ 'pubsub#max_items': '1000' }, 'pubsub#max_items'],
      [{ 'pubsub#persist_items': 'true' }, undefined],
      [{ 'pubsub#persist_items': '1' }, undefined],
      [{ 'pubsub#persist_items': 'false' }, 'pubsub#persist_items'],
      [{ 'pubsub#roster_groups_allowed': ['B', 'A'] }, undefined],
      [{ 'pubsub#roster_groups_allowed': ['A'] }, 'pubsub#roster_groups_allowed'],
      [
        { 'pubsub#access_model': 'open', 'pubsub#send_last_published_item': 'never' },
        'pubsub#send_last_published_item',
      ],
    ];
    for (const [fields, unmet] of cases) {
      it(`${JSON.stringify(fields)} → ${unmet ?? 'met'}`, () => {
        expect(unmetPrecondition(node, submitted(fields))).to.equal(unmet);
      });
    }

    it('refuses an unknown field', () => {
      expect(() => unmetPrecondition(node, submitted({ 'pubsub#whatever': '1' }))).to.throw(ConfigProblem);
    });
  });

  describe('how many items a node keeps', () => {
    const cases: Array<[Partial<NodeConfig>, number]> = [
      [{ maxItems: 1 }, 1],
      [{ maxItems: 50 }, 50],
      [{ maxItems: 5000 }, 1000],
      [{ maxItems: 'max' }, 1000],
      [{ maxItems: 'max', persistItems: false }, 1],
    ];
    for (const [config, expected] of cases) {
      it(`${JSON.stringify(config)} → ${expected}`, () => {
        expect(effectiveMaxItems({ ...DEFAULT_CONFIG, ...config }, 1000)).to.equal(expected);
      });
    }
  });

  it('writes the form with the values and, to fill in, the options (§8.2.2)', () => {
    const form = configForm({ ...DEFAULT_CONFIG, rosterGroupsAllowed: ['Friends'] }, 'form', [
      'Family',
      'Friends',
    ]);
    expect(form.attrs).to.deep.equal({ xmlns: NS.DATA_FORMS, type: 'form' });
    const fields = form.getChildren('field');
    expect(fields[0]!.toString()).to.equal(
      `<field var="FORM_TYPE" type="hidden"><value>${NS.PUBSUB_NODE_CONFIG}</value></field>`,
    );
    const byVar = new Map(fields.map((f) => [f.attrs.var, f]));
    expect(
      byVar
        .get('pubsub#max_items')!
        .getChildren('value')
        .map((v) => v.text),
    ).to.deep.equal(['1']);
    expect(
      byVar
        .get('pubsub#persist_items')!
        .getChildren('value')
        .map((v) => v.text),
    ).to.deep.equal(['1']);
    const groups = byVar.get('pubsub#roster_groups_allowed')!;
    expect(groups.attrs.type).to.equal('list-multi');
    expect(groups.getChildren('option').map((o) => o.getChildText('value'))).to.deep.equal([
      'Family',
      'Friends',
    ]);
    expect(groups.getChildren('value').map((v) => v.text)).to.deep.equal(['Friends']);
    // A result form carries values only.
    const result = configForm(DEFAULT_CONFIG, 'result');
    expect(result.getChildren('field').some((f) => f.getChild('option') !== undefined)).to.equal(false);
    expect(result.getChildren('field').some((f) => f.attrs.label !== undefined)).to.equal(false);
  });

  it('reads a stored configuration back, defaulting what an older row lacks', () => {
    const config: NodeConfig = { ...DEFAULT_CONFIG, accessModel: 'whitelist', maxItems: 'max' };
    expect(deserializeConfig(serializeConfig(config))).to.deep.equal(config);
    expect(deserializeConfig('{"accessModel":"open"}')).to.deep.equal({
      ...DEFAULT_CONFIG,
      accessModel: 'open',
    });
  });

  it('reads a submitted form (XEP-0004 §3.2), and only a jabber:x:data one', () => {
    const form = x(
      'x',
      { xmlns: NS.DATA_FORMS, type: 'submit' },
      x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, NS.PUBSUB_PUBLISH_OPTIONS)),
      x('field', { var: 'pubsub#access_model' }, x('value', null, 'open')),
      x('field', { var: 'pubsub#roster_groups_allowed' }, x('value', null, 'A'), x('value', null, 'B')),
      x('field', { var: 'pubsub#title' }),
      x('field', null, x('value', null, 'no var: skipped')),
    );
    expect(readForm(form)).to.deep.equal({
      type: 'submit',
      formType: NS.PUBSUB_PUBLISH_OPTIONS,
      fields: new Map([
        ['pubsub#access_model', ['open']],
        ['pubsub#roster_groups_allowed', ['A', 'B']],
        ['pubsub#title', []],
      ]),
    });
    expect(readForm(x('x', { xmlns: 'urn:other' }))).to.equal(undefined);
    expect(readForm(undefined)).to.equal(undefined);
  });
});
