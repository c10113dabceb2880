// Errors with XMPP meaning. A StanzaError becomes an error reply to the stanza that caused
// it; a StreamError closes the stream it happened on. Both are values: handlers throw them,
// the core turns them into XML. Anything else thrown by a handler is a bug, and becomes
// internal-server-error plus a logged stack.
//
// RFC 6120 §8.3 (stanza errors), §4.9 (stream errors); XEP-0086 (legacy error codes).

import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** RFC 6120 §8.3.3, with the error type §8.3.3 recommends for each condition. */
export const STANZA_CONDITIONS = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
} as const satisfies Record<string, StanzaErrorType>;

export type StanzaErrorCondition = keyof typeof STANZA_CONDITIONS;

/**
 * XEP-0086 legacy codes. Some clients still in use read only the numeric code (for example
 * Profanity's OMEMO support), so every stanza error carries one.
 */
const LEGACY_CODES: Record<StanzaErrorCondition, string> = {
  'bad-request': '400',
  conflict: '409',
  'feature-not-implemented': '501',
  forbidden: '403',
  gone: '302',
  'internal-server-error': '500',
  'item-not-found': '404',
  'jid-malformed': '400',
  'not-acceptable': '406',
  'not-allowed': '405',
  'not-authorized': '401',
  'policy-violation': '406',
  'recipient-unavailable': '404',
  redirect: '302',
  'registration-required': '407',
  'remote-server-not-found': '404',
  'remote-server-timeout': '504',
  'resource-constraint': '500',
  'service-unavailable': '503',
  'subscription-required': '407',
  'undefined-condition': '500',
  'unexpected-request': '400',
};

export class StanzaError extends Error {
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  /** Application-specific condition element, e.g. <unsupported xmlns='...pubsub#errors'/>. */
  readonly appCondition: Element | undefined;
  /** For `gone` and `redirect`: the new address (RFC 6120 §8.3.3.5, §8.3.3.14). */
  readonly by: string | undefined;
  readonly target: string | undefined;

  constructor(
    condition: StanzaErrorCondition,
    text?: string,
    options: { type?: StanzaErrorType; appCondition?: Element; target?: string; by?: string } = {},
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = options.type ?? STANZA_CONDITIONS[condition];
    this.text = text;
    this.appCondition = options.appCondition;
    this.target = options.target;
    this.by = options.by;
  }

  /** The <error/> child for an error stanza. */
  toElement(): Element {
    const condition = x(this.condition, { xmlns: NS.STANZAS_ERROR });
    if (this.target !== undefined) condition.t(this.target);
    return x(
      'error',
      { type: this.type, code: LEGACY_CODES[this.condition], by: this.by },
      condition,
      this.text !== undefined && x('text', { xmlns: NS.STANZAS_ERROR, 'xml:lang': 'en' }, this.text),
      this.appCondition,
    );
  }
}

/** RFC 6120 §4.9.3. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  readonly text: string | undefined;
  /** Application-specific condition, e.g. XEP-0198 <handled-count-too-high/>. */
  readonly appCondition: Element | undefined;

  constructor(condition: StreamErrorCondition, text?: string, options: { appCondition?: Element } = {}) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
    this.condition = condition;
    this.text = text;
    this.appCondition = options.appCondition;
  }

  toElement(): Element {
    return x(
      'stream:error',
      null,
      x(this.condition, { xmlns: NS.STREAMS_ERROR }),
      this.text !== undefined && x('text', { xmlns: NS.STREAMS_ERROR, 'xml:lang': 'en' }, this.text),
      // RFC 6120 §4.9.2: the application-specific condition comes last.
      this.appCondition,
    );
  }
}

/**
 * The error reply to a stanza (RFC 6120 §8.2): the same kind of stanza, addressed back to
 * the sender, with the original payload kept so the sender can tell which request failed.
 * Returns undefined for a stanza that must never be answered with an error (an error, or an
 * iq result), so that every caller gets the "never answer an error with an error" rule for free.
 */
export function errorReply(stanza: Element, error: StanzaError): Element | undefined {
  const type = stanza.attrs.type;
  if (type === 'error') return undefined;
  if (stanza.name === 'iq' && type === 'result') return undefined;
  const attrs: Record<string, string> = { type: 'error' };
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  const reply = new Element(stanza.name, attrs);
  // The original payload goes back with the error so that the sender can tell which
  // request failed (RFC 6120 §8.3.1 allows it; clients match on it).
  for (const child of stanza.children) {
    if (typeof child === 'string') continue;
    if (child.localName === 'error') continue;
    reply.append(child.clone());
  }
  reply.append(error.toElement());
  return reply;
}
