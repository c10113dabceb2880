// The edge checks for a stanza another server sends us, on whichever stream carries it
// (RFC 6120 §8.1.1 addressing between servers, §4.9.3 the stream errors for breaking it):
// both addresses present and valid, `from` in a domain the stream proved, `to` one of ours.

import { StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/hooks.js';
import type { Session } from '../core/session.js';
import { tryParseJID } from '../jid.js';
import type { Attrs, Element } from '../xml/element.js';

export interface StanzaRules {
  /** The prefix declarations of the peer's header, which the parser copied onto the stanza. */
  headerPrefixes: Attrs;
  isLocalDomain(domain: string): boolean;
  /** Whether the stream proved `from` (a remote domain) for `to` (one of ours). */
  carries(from: string, to: string): 'yes' | 'not-from' | 'not-to';
}

/** The routing event for a stanza the stream may carry, or the stream error it earns. */
export function checkRemoteStanza(
  stanza: Element,
  origin: Session,
  rules: StanzaRules,
): StanzaEvent | StreamError {
  const attrs = stanza.attrs;
  if (attrs.xmlns !== undefined) delete attrs.xmlns; // implied by the stream
  // Delivered to a client, the header's declarations (xmlns:db) would be noise.
  for (const key in rules.headerPrefixes) if (attrs[key] === rules.headerPrefixes[key]) delete attrs[key];
  if (attrs.from === undefined || attrs.to === undefined)
    return new StreamError('improper-addressing', 'stanzas between servers need "from" and "to"');
  const from = tryParseJID(attrs.from);
  // §4.9.3.8: an address that breaks the JID rules is improper-addressing; invalid-from is
  // for a valid one the stream has not proved.
  if (!from) return new StreamError('improper-addressing', `${attrs.from} is not a valid JID`);
  const to = tryParseJID(attrs.to);
  if (!to) return new StreamError('improper-addressing', `${attrs.to} is not a valid JID`);
  if (!rules.isLocalDomain(to.domain))
    return new StreamError('host-unknown', `${to.domain} is not served here`);
  switch (rules.carries(from.domain, to.domain)) {
    case 'not-from':
      // §4.9.3.9: a `from` this stream has not proved.
      return new StreamError('invalid-from', `${from.domain} is not a domain this stream authenticated`);
    case 'not-to':
      // §8.1.1.1: each pair of domains is proved on its own (dialback per pair).
      return new StreamError(
        'improper-addressing',
        `${from.domain} has not authenticated for ${to.domain}: send <db:result/> for that pair first`,
      );
  }
  attrs.from = from.full;
  attrs.to = to.full;
  return { stanza, origin, from, to };
}
