// When a room message is meant for the assistant, and what its question is.
//
// Addressed means one of: the body starts with the assistant's nickname followed by ':' or ','
// (or '@nick'), the message mentions it with a XEP-0372 reference (type 'mention', its occupant
// JID or its own JID as an xmpp: URI), or it is a XEP-0461 reply to one of its messages (the
// reply's 'to' is its occupant JID). The question is the body without the address and without
// the XEP-0428 fallback quote of the message replied to.

import type { Element } from '../xml/element.js';
import { BOT_NS } from './ns.js';

export interface Addressee {
  /** The assistant's nickname in the room. */
  readonly nick: string;
  /** The room's bare JID. */
  readonly room: string;
  /** The assistant's own bare JID. */
  readonly jid: string;
}

/** The question, when the message addresses the assistant; undefined otherwise. */
export function addressedQuestion(message: Element, body: string, me: Addressee): string | undefined {
  const occupant = `${me.room}/${me.nick}`;
  let addressed = false;
  let text = body;
  const reply = message.getChild('reply', BOT_NS.REPLY);
  if (reply !== undefined && reply.attr('to') === occupant) {
    addressed = true;
    text = withoutFallback(message, body, BOT_NS.REPLY);
  }
  const prefixed = withoutNickPrefix(text, me.nick);
  if (prefixed !== undefined) return prefixed;
  if (!addressed) {
    for (const ref of message.getChildren('reference', BOT_NS.REFERENCE)) {
      if (ref.attr('type') !== 'mention') continue;
      const target = mentionTarget(ref.attr('uri'));
      if (target === occupant || target === me.jid) {
        addressed = true;
        break;
      }
    }
  }
  return addressed ? text.trim() : undefined;
}

/** "nick: text", "nick, text" or "@nick text" (case-insensitive) → "text"; otherwise undefined. */
export function withoutNickPrefix(body: string, nick: string): string | undefined {
  let start = 0;
  while (start < body.length && isSpace(body.charCodeAt(start))) start++;
  const at = body.charCodeAt(start) === 0x40;
  if (at) start++;
  const candidate = body.slice(start, start + nick.length);
  if (candidate.toLowerCase() !== nick.toLowerCase()) return undefined;
  const next = body.charCodeAt(start + nick.length);
  const punctuated = next === 0x3a || next === 0x2c;
  if (!punctuated && !(at && (Number.isNaN(next) || isSpace(next)))) return undefined;
  return body.slice(start + nick.length + (punctuated ? 1 : 0)).trim();
}

/**
 * The body without the parts a XEP-0428 fallback for `forNs` marks (positions in code points);
 * a fallback without positions covers the whole body.
 */
export function withoutFallback(message: Element, body: string, forNs: string): string {
  const ranges: Array<[number, number]> = [];
  for (const fallback of message.getChildren('fallback', BOT_NS.FALLBACK)) {
    if (fallback.attr('for') !== forNs) continue;
    const parts = fallback.getChildren('body');
    if (parts.length === 0) return '';
    for (const part of parts) {
      const start = Number(part.attr('start'));
      const end = Number(part.attr('end'));
      if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start)
        ranges.push([start, end]);
    }
  }
  if (ranges.length === 0) return body;
  const chars = Array.from(body);
  const keep = chars.map(() => true);
  for (const [start, end] of ranges)
    for (let i = start; i < Math.min(end, chars.length); i++) keep[i] = false;
  return chars.filter((_, i) => keep[i]).join('');
}

/** The JID an xmpp: URI points at (RFC 5122), or undefined. */
function mentionTarget(uri: string | undefined): string | undefined {
  if (uri === undefined || !uri.startsWith('xmpp:')) return undefined;
  const end = uri.indexOf('?');
  const raw = uri.slice(5, end < 0 ? undefined : end);
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}
