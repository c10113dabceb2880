// Answering <db:verify/> as the authoritative server (XEP-0220 §2.3, keys per XEP-0185): on
// whichever stream a peer asks, since the answer needs only the secret and the request.

import { StanzaError, StreamError } from '../core/errors.js';
import { type Element, x } from '../xml/element.js';
import { isValidDialbackKey } from './dialback-key.js';
import { domainOf } from './header.js';

/**
 * The answer to a verification request: valid or invalid, an item-not-found dialback error
 * for a domain not ours (§2.4), or the stream error a malformed request earns.
 */
export function answerVerify(
  request: Element,
  secret: string,
  isOurs: (domain: string) => boolean,
): { answer: Element; valid: boolean | undefined } | StreamError {
  const receiving = domainOf(request.attrs.from);
  const originating = domainOf(request.attrs.to);
  const id = request.attrs.id;
  if (receiving === undefined || originating === undefined || id === undefined)
    return new StreamError('improper-addressing', '<db:verify/> needs "from", "to" and "id"');
  // §2.3: from and to swapped, the id copied.
  const attrs = { from: originating, to: receiving, id };
  if (!isOurs(originating))
    return {
      answer: x('db:verify', { ...attrs, type: 'error' }, new StanzaError('item-not-found').toElement()),
      valid: undefined,
    };
  const valid = isValidDialbackKey(secret, request.text, receiving, originating, id);
  return { answer: x('db:verify', { ...attrs, type: valid ? 'valid' : 'invalid' }), valid };
}
