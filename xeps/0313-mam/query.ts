// XEP-0313 §4: reading an archive query, and the form that describes it.
// §4.1 the filter form (FORM_TYPE urn:xmpp:mam:2): 'with' (§4.1.1), 'start' and 'end' in
// XEP-0082 DateTime (§4.1.2), 'before-id', 'after-id' and 'ids' (§4.1.3, #extended),
// 'include-groupchat' (§4.1.4); a field we do not know is feature-not-implemented (§4.1.5).
// §4.3 RSM paging and §4.3.4 <flip-page/>. The form a client can ask for is §4.1.5's.

import { StanzaError } from '../../src/core/errors.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { parseRsm, type RsmRequest } from './rsm.js';

/** The set of messages a query selects, before paging. */
export interface ArchiveFilter {
  /** §4.1.1: a bare JID matches every resource of it; a full JID only itself. */
  with?: JID;
  /** Inclusive bounds on the archive time, in milliseconds since the epoch. */
  start?: number;
  end?: number;
  /** Exclusive bounds by archive id. */
  afterId?: string;
  beforeId?: string;
  /** Only these messages. */
  ids?: readonly string[];
}

export interface ArchiveQuery {
  queryId: string | undefined;
  filter: ArchiveFilter;
  rsm: RsmRequest;
  /** §4.3.4: send the page newest first (it selects the same messages). */
  flip: boolean;
}

const FORM_FIELDS = new Set([
  'FORM_TYPE',
  'with',
  'start',
  'end',
  'before-id',
  'after-id',
  'ids',
  'include-groupchat',
]);

/** XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch for a XEP-0082 DateTime, or undefined when it is not one. */
export function parseDateTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const back = new Date(utc);
  // Date.UTC rolls 31 February over into March; a real date comes back unchanged.
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined;
  if (m[8] === undefined) return utc;
  const offsetHours = Number(m[9]);
  const offsetMinutes = Number(m[10]);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return m[8] === '+' ? utc - offset : utc + offset;
}

function values(field: Element): string[] {
  const out: string[] = [];
  for (const child of field.children) {
    if (typeof child !== 'string' && child.localName === 'value') out.push(child.text);
  }
  return out;
}

/** The single value of a field; an absent or empty one counts as not given. */
function single(field: Element, name: string): string | undefined {
  const all = values(field);
  if (all.length > 1) throw new StanzaError('bad-request', `the '${name}' field takes one value`);
  const value = all[0]?.trim();
  return value === '' ? undefined : value;
}

function dateField(field: Element, name: string): number | undefined {
  const text = single(field, name);
  if (text === undefined) return undefined;
  const ms = parseDateTime(text);
  if (ms === undefined)
    throw new StanzaError('bad-request', `the '${name}' field is not a XEP-0082 DateTime: ${text}`);
  return ms;
}

function parseFilter(form: Element | undefined, maxIds: number): ArchiveFilter {
  const filter: ArchiveFilter = {};
  if (!form) return filter;
  for (const field of form.getChildren('field', NS.DATA_FORMS)) {
    const name = field.attrs.var ?? '';
    if (!FORM_FIELDS.has(name)) {
      throw new StanzaError('feature-not-implemented', `unknown query field '${name}'`);
    }
    switch (name) {
      case 'FORM_TYPE': {
        const type = single(field, name);
        if (type !== undefined && type !== NS.MAM)
          throw new StanzaError('bad-request', `FORM_TYPE must be ${NS.MAM}`);
        break;
      }
      case 'with': {
        const text = single(field, name);
        if (text === undefined) break;
        const jid = tryParseJID(text);
        if (!jid) throw new StanzaError('jid-malformed', `the 'with' field is not a JID: ${text}`);
        filter.with = jid;
        break;
      }
      case 'start':
      case 'end': {
        const ms = dateField(field, name);
        if (ms !== undefined) filter[name] = ms;
        break;
      }
      case 'after-id':
      case 'before-id': {
        const id = single(field, name);
        if (id !== undefined) filter[name === 'after-id' ? 'afterId' : 'beforeId'] = id;
        break;
      }
      case 'ids': {
        const ids = values(field)
          .map((v) => v.trim())
          .filter((v) => v !== '');
        if (ids.length > maxIds)
          throw new StanzaError('policy-violation', `at most ${maxIds} ids in one query`);
        filter.ids = ids;
        break;
      }
      case 'include-groupchat': {
        // Understood (we advertise #groupchat-field) and satisfied either way: user archives
        // here hold no groupchat messages.
        const value = single(field, name);
        if (value !== undefined && !['true', 'false', '1', '0'].includes(value))
          throw new StanzaError('bad-request', "the 'include-groupchat' field is a boolean");
        break;
      }
    }
  }
  return filter;
}

/** Reads a <query xmlns='urn:xmpp:mam:2'/>; throws the StanzaError to answer with. */
export function parseQuery(query: Element, limits: { maxIds: number }): ArchiveQuery {
  // XEP-0442 pubsub archives use 'node'; there are none here.
  if (query.attrs.node !== undefined)
    throw new StanzaError('feature-not-implemented', 'pubsub archives are not offered');
  const form = query.getChild('x', NS.DATA_FORMS);
  return {
    queryId: query.attrs.queryid,
    filter: parseFilter(form, limits.maxIds),
    rsm: parseRsm(query.getChild('set', NS.RSM)),
    flip: query.getChild('flip-page', NS.MAM) !== undefined,
  };
}

/** §4.1.5: the fields a query may use, for an iq get. */
export function queryForm(): Element {
  return x(
    'query',
    { xmlns: NS.MAM },
    x(
      'x',
      { xmlns: NS.DATA_FORMS, type: 'form' },
      x('field', { type: 'hidden', var: 'FORM_TYPE' }, x('value', null, NS.MAM)),
      x('field', { type: 'jid-single', var: 'with' }),
      x('field', { type: 'text-single', var: 'start' }),
      x('field', { type: 'text-single', var: 'end' }),
      x('field', { type: 'text-single', var: 'before-id' }),
      x('field', { type: 'text-single', var: 'after-id' }),
      x(
        'field',
        { type: 'list-multi', var: 'ids' },
        x('validate', { xmlns: NS.DATA_VALIDATE, datatype: 'xs:string' }, x('open')),
      ),
      x('field', { type: 'boolean', var: 'include-groupchat' }),
    ),
  );
}
