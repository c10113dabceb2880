// Small builders for the stanzas the assistant answers with. Errors follow RFC 6120 §8.3: the
// stanza's addresses swapped, its id kept, type 'error', and an <error/> with a type and one
// defined condition (plus optional text). An error is never answered with an error.

import { type Element, x } from '../xml/element.js';
import { NS } from './ns.js';

export type ErrorType = 'cancel' | 'modify' | 'auth' | 'wait';

/** The error reply to `stanza`, or undefined when the stanza is itself an error (which gets none). */
export function errorReply(
  stanza: Element,
  type: ErrorType,
  condition: string,
  text?: string,
): Element | undefined {
  if (stanza.attrs.type === 'error') return undefined;
  const error = x('error', { type }, x(condition, { xmlns: NS.STANZAS_ERROR }));
  if (text !== undefined) error.append(x('text', { xmlns: NS.STANZAS_ERROR, 'xml:lang': 'en' }, text));
  return x(
    stanza.name,
    { from: stanza.attrs.to, to: stanza.attrs.from, id: stanza.attrs.id, type: 'error' },
    error,
  );
}

/** An IQ result for `iq`, with an optional payload. */
export function iqResult(iq: Element, payload?: Element): Element {
  return x('iq', { from: iq.attrs.to, to: iq.attrs.from, id: iq.attrs.id, type: 'result' }, payload);
}
