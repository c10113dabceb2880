// XEP-0059: Result Set Management — https://xmpp.org/extensions/xep-0059.html
// The <set/> of a request (§2.1 max, §2.2 after, §2.3 before, §2.5 an empty <before/> for the
// last page, §2.6 index) and of an answer (§2.1 first with its index, last, count). Nothing
// here knows what the items are; the archive query uses it, and a room archive or pubsub can.

import { StanzaError } from '../../src/core/errors.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/**
 * Which page of a result set is wanted. `after` and `before` are UIDs; RSM leaves both
 * together undefined (XEP-0313 §4.3.2), and we read them as both bounds, paging from `before`.
 */
export type PageRequest =
  | { from: 'start'; after?: string; before?: undefined }
  | { from: 'end'; before?: string; after?: string }
  | { from: 'index'; index: number };

export interface RsmRequest {
  /** Undefined when the requester set no limit. */
  max: number | undefined;
  page: PageRequest;
}

/** The largest number accepted in <max/> or <index/>; beyond, the request is refused. */
const MAX_NUMBER = 2 ** 31 - 1;
const DIGITS = /^\d{1,10}$/;

function nonNegative(el: Element, what: string): number {
  const text = el.text.trim();
  if (!DIGITS.test(text) || Number(text) > MAX_NUMBER)
    throw new StanzaError('bad-request', `RSM <${what}/> must be a non-negative integer`);
  return Number(text);
}

/** Reads an RSM <set/> (undefined: the request has none: the first page, no limit). */
export function parseRsm(set: Element | undefined): RsmRequest {
  if (!set) return { max: undefined, page: { from: 'start' } };
  let max: number | undefined;
  let after: string | undefined;
  let before: string | undefined;
  let index: number | undefined;
  for (const child of set.children) {
    if (typeof child === 'string' || child.getNS() !== NS.RSM) continue;
    switch (child.localName) {
      case 'max':
        max = nonNegative(child, 'max');
        break;
      case 'index':
        index = nonNegative(child, 'index');
        break;
      case 'after':
        after = child.text.trim();
        // §2.2: after names an item; there is nothing to page after when it names none.
        if (after === '') throw new StanzaError('bad-request', 'RSM <after/> must name an item');
        break;
      case 'before':
        before = child.text.trim();
        break;
    }
  }
  if (before !== undefined) {
    return { max, page: before === '' ? { from: 'end', after } : { from: 'end', before, after } };
  }
  if (after !== undefined) return { max, page: { from: 'start', after } };
  if (index !== undefined) return { max, page: { from: 'index', index } };
  return { max, page: { from: 'start' } };
}

/** What an answer says of its page. `first`/`last` are absent for an empty page (§2.1). */
export interface RsmAnswer {
  first?: { id: string; index: number | undefined };
  last?: string;
  count: number | undefined;
}

export function rsmSet(answer: RsmAnswer): Element {
  return x(
    'set',
    { xmlns: NS.RSM },
    answer.first && x('first', { index: answer.first.index }, answer.first.id),
    answer.last !== undefined && x('last', null, answer.last),
    answer.count !== undefined && x('count', null, String(answer.count)),
  );
}
