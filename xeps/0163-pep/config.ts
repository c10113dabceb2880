// XEP-0060: Publish-Subscribe — https://xmpp.org/extensions/xep-0060.html
// The node configuration of a PEP service: the pubsub#node_config fields it supports (§16.4.4),
// the defaults XEP-0163 §8 asks of a PEP service (access model "presence", notifications with
// payloads, the last item sent on presence), the configuration form (§8.2), its submission
// (§8.2.4, XEP-0004 rules for incomplete forms: fields left out keep their value), and the
// preconditions of publish-options (§7.1.5). Pure: the caller turns problems into errors.

import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { buildForm, type FieldSpec, type SubmittedForm } from './forms.js';

export const ACCESS_MODELS = ['open', 'presence', 'roster', 'whitelist'] as const;
export type AccessModel = (typeof ACCESS_MODELS)[number];
export const SEND_LAST_OPTIONS = ['never', 'on_sub', 'on_sub_and_presence'] as const;
export type SendLast = (typeof SEND_LAST_OPTIONS)[number];
export const NOTIFICATION_TYPES = ['headline', 'normal'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
/** In PEP the account owner is the only publisher (XEP-0163 §3: one publisher per node). */
export const PUBLISH_MODELS = ['publishers'] as const;
export type PublishModel = (typeof PUBLISH_MODELS)[number];

export interface NodeConfig {
  readonly title: string;
  readonly description: string;
  /** pubsub#type: the payload's namespace, when the owner says. */
  readonly type: string;
  readonly accessModel: AccessModel;
  readonly rosterGroupsAllowed: readonly string[];
  /** A number as the owner set it ('max': the server's limit; see effectiveMaxItems). */
  readonly maxItems: number | 'max';
  readonly persistItems: boolean;
  readonly deliverNotifications: boolean;
  readonly deliverPayloads: boolean;
  readonly notifyRetract: boolean;
  readonly notifyDelete: boolean;
  readonly sendLastPublishedItem: SendLast;
  readonly notificationType: NotificationType;
  readonly publishModel: PublishModel;
}

/** XEP-0163 §8 "smart defaults": one item, presence access, notify with payloads, last item on presence. */
export const DEFAULT_CONFIG: NodeConfig = Object.freeze({
  title: '',
  description: '',
  type: '',
  accessModel: 'presence',
  rosterGroupsAllowed: Object.freeze([]),
  maxItems: 1,
  persistItems: true,
  deliverNotifications: true,
  deliverPayloads: true,
  notifyRetract: true,
  notifyDelete: true,
  sendLastPublishedItem: 'on_sub_and_presence',
  notificationType: 'headline',
  publishModel: 'publishers',
});

/** How many items a node keeps: what the owner set, within the server's limit; one when not persisted. */
export function effectiveMaxItems(config: NodeConfig, serverMax: number): number {
  if (!config.persistItems) return 1;
  return config.maxItems === 'max' ? serverMax : Math.min(config.maxItems, serverMax);
}

/** What is wrong with a submitted field. */
export class ConfigProblem extends Error {
  override name = 'ConfigProblem';
  constructor(
    readonly field: string,
    readonly reason: 'unknown-field' | 'bad-value' | 'unsupported-access-model',
  ) {
    super(
      reason === 'unknown-field'
        ? `${field} is not a configuration option of this service`
        : reason === 'unsupported-access-model'
          ? 'this service offers the access models open, presence, roster and whitelist'
          : `${field} has a value this service cannot take`,
    );
  }
}

type Values = readonly string[];

const POSITIVE_INTEGER = /^[1-9][0-9]{0,15}$/;

interface Option<K extends keyof NodeConfig> {
  readonly key: K;
  readonly type: FieldSpec['type'];
  readonly label: string;
  readonly choices?: readonly string[];
  /** The value the submitted strings stand for; undefined when they are not valid. */
  parse(values: Values): NodeConfig[K] | undefined;
  format(value: NodeConfig[K]): Values;
  same?(a: NodeConfig[K], b: NodeConfig[K]): boolean;
}

function single(values: Values): string | undefined {
  return values.length === 1 ? values[0] : values.length === 0 ? '' : undefined;
}

const text = (key: 'title' | 'description' | 'type', label: string): Option<typeof key> => ({
  key,
  type: 'text-single',
  label,
  parse: single,
  format: (v) => (v === '' ? [] : [v]),
});

/** XEP-0004 §3.3: boolean values are "0"/"false" and "1"/"true". */
export function parseBoolean(value: string | undefined): boolean | undefined {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

type BooleanKey = {
  [K in keyof NodeConfig]: NodeConfig[K] extends boolean ? K : never;
}[keyof NodeConfig];

const boolean = (key: BooleanKey, label: string): Option<BooleanKey> => ({
  key,
  type: 'boolean',
  label,
  parse: (values) => parseBoolean(single(values)),
  format: (v) => [v ? '1' : '0'],
});

function choice<K extends keyof NodeConfig>(key: K, label: string, choices: readonly string[]): Option<K> {
  return {
    key,
    type: 'list-single',
    label,
    choices,
    parse: (values) => {
      const value = single(values);
      return value !== undefined && choices.includes(value) ? (value as NodeConfig[K]) : undefined;
    },
    format: (v) => [String(v)],
  };
}

/** The pubsub#node_config fields this service supports, by var. */
const OPTIONS: ReadonlyMap<string, Option<keyof NodeConfig>> = new Map<string, Option<keyof NodeConfig>>([
  ['pubsub#title', text('title', 'A friendly name for the node')],
  ['pubsub#description', text('description', 'A description of the node')],
  ['pubsub#type', text('type', 'The semantic type of the payload data')],
  ['pubsub#deliver_notifications', boolean('deliverNotifications', 'Deliver event notifications')],
  ['pubsub#deliver_payloads', boolean('deliverPayloads', 'Deliver payloads with event notifications')],
  ['pubsub#notify_delete', boolean('notifyDelete', 'Notify subscribers when the node is deleted')],
  ['pubsub#notify_retract', boolean('notifyRetract', 'Notify subscribers when items are removed')],
  ['pubsub#persist_items', boolean('persistItems', 'Persist items to storage')],
  [
    'pubsub#max_items',
    {
      key: 'maxItems',
      type: 'text-single',
      label: 'Max # of items to persist. `max` for no specific limit other than a server imposed maximum.',
      parse: (values) => {
        const value = single(values);
        if (value === 'max') return 'max';
        if (value === undefined || !POSITIVE_INTEGER.test(value)) return undefined;
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : undefined;
      },
      format: (v) => [String(v)],
    } satisfies Option<'maxItems'>,
  ],
  ['pubsub#access_model', choice('accessModel', 'Specify the subscriber model', ACCESS_MODELS)],
  [
    'pubsub#roster_groups_allowed',
    {
      key: 'rosterGroupsAllowed',
      type: 'list-multi',
      label: 'Roster groups allowed to subscribe',
      parse: (values) => [...new Set(values)],
      format: (v) => v,
      same: (a, b) => a.length === b.length && a.every((g) => b.includes(g)),
    } satisfies Option<'rosterGroupsAllowed'>,
  ],
  ['pubsub#publish_model', choice('publishModel', 'Specify the publisher model', PUBLISH_MODELS)],
  [
    'pubsub#send_last_published_item',
    choice('sendLastPublishedItem', 'When to send the last published item', SEND_LAST_OPTIONS),
  ],
  [
    'pubsub#notification_type',
    choice('notificationType', 'Specify the delivery style for notifications', NOTIFICATION_TYPES),
  ],
]);

function optionFor(name: string): Option<keyof NodeConfig> {
  const option = OPTIONS.get(name);
  if (option === undefined) throw new ConfigProblem(name, 'unknown-field');
  return option;
}

function parseField(name: string, values: Values): [keyof NodeConfig, unknown] {
  const option = optionFor(name);
  const value = option.parse(values);
  if (value === undefined) {
    throw new ConfigProblem(name, name === 'pubsub#access_model' ? 'unsupported-access-model' : 'bad-value');
  }
  return [option.key, value];
}

/**
 * §8.2.4: the configuration after a submitted form. Fields the form leaves out keep their
 * value (XEP-0004 §3.4); an unknown field or a bad value is a ConfigProblem.
 */
export function applyForm(base: NodeConfig, form: SubmittedForm): NodeConfig {
  const next: Record<string, unknown> = { ...base };
  for (const [name, values] of form.fields) {
    const [key, value] = parseField(name, values);
    next[key] = value;
  }
  return Object.freeze(next) as unknown as NodeConfig;
}

/**
 * §7.1.5: the first publish-option the node's configuration does not meet, or undefined when
 * it meets them all. An unknown field or a bad value is a ConfigProblem.
 */
export function unmetPrecondition(config: NodeConfig, form: SubmittedForm): string | undefined {
  for (const [name, values] of form.fields) {
    const [key, value] = parseField(name, values);
    const option = optionFor(name);
    const same = option.same ?? ((a: unknown, b: unknown) => a === b);
    if (!same(config[key] as never, value as never)) return name;
  }
  return undefined;
}

/** §8.2.2: the configuration as a form; `groups` are the owner's roster groups to choose from. */
export function configForm(
  config: NodeConfig,
  type: 'form' | 'result',
  groups: readonly string[] = [],
): Element {
  const fields: FieldSpec[] = [];
  for (const [name, option] of OPTIONS) {
    const value = config[option.key] as never;
    let choices = option.choices;
    if (option.key === 'rosterGroupsAllowed')
      choices = [...new Set([...groups, ...config.rosterGroupsAllowed])];
    fields.push({
      var: name,
      type: option.type,
      label: type === 'form' ? option.label : undefined,
      values: option.format(value),
      options: type === 'form' ? choices : undefined,
    });
  }
  return buildForm(type, NS.PUBSUB_NODE_CONFIG, fields);
}

/** Stored as JSON; a row written by an older version gets today's defaults for what it lacks. */
export function serializeConfig(config: NodeConfig): string {
  return JSON.stringify(config);
}

export function deserializeConfig(json: string): NodeConfig {
  return Object.freeze({ ...DEFAULT_CONFIG, ...(JSON.parse(json) as Partial<NodeConfig>) });
}
