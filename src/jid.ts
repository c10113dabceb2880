// XMPP addresses. RFC 7622 (XMPP: Address Format):
//   §3.1 splitting an address into its parts, §3.2 domainpart, §3.3 localpart,
//   §3.4 resourcepart; the §3.5 examples are the tables of test/unit/jid.test.ts.
// String preparation (PRECIS) lives in precis.ts; domain names go through Node's IDNA
// (UTS #46, non-transitional, which is what IDNA2008 lookups use in practice).
//
// Every stanza's `to` and `from` is parsed, so parsing keeps a bounded cache of input strings,
// and plain ASCII input skips normalization altogether. A JID is immutable and safe to share.

import { domainToASCII, domainToUnicode } from 'node:url';
import { PrecisError, prepareOpaqueString, prepareUsernameCaseMapped } from './precis.js';

export class JidError extends Error {
  /** Why the address was refused, naming the part, e.g. 'localpart: disallowed character U+0020'. */
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.name = 'JidError';
    this.reason = reason;
  }
}

/** Only this module holds it, so only this module can make a JID: every JID has prepared parts. */
const PREPARED: unique symbol = Symbol('prepared JID parts');

export class JID {
  /** '' when absent. */
  readonly local: string;
  readonly domain: string;
  /** '' when absent. */
  readonly resource: string;
  /** 'local@domain', or 'domain'. */
  readonly bare: string;
  /** The bare JID with '/resource' when there is one. */
  readonly full: string;

  /** JIDs come from parseJID(), tryParseJID() and jid(), which prepare the parts. */
  constructor(token: typeof PREPARED, local: string, domain: string, resource: string) {
    if (token !== PREPARED) throw new TypeError('a JID is made by parseJID(), tryParseJID() or jid()');
    this.local = local;
    this.domain = domain;
    this.resource = resource;
    this.bare = local === '' ? domain : local + '@' + domain;
    this.full = resource === '' ? this.bare : this.bare + '/' + resource;
    // Cached JIDs are shared by every module; freezing (about 25 ns a construction, nothing on
    // reads) turns a stray assignment into a TypeError instead of a corrupted address.
    Object.freeze(this);
  }

  toString(): string {
    return this.full;
  }

  /** Log lines and JSON payloads show the address, not the object. */
  toJSON(): string {
    return this.full;
  }

  isBare(): boolean {
    return this.resource === '';
  }

  bareJID(): JID {
    if (this.resource === '') return this;
    // The bare form is itself a canonical input, so the parse cache can hand out one shared object.
    let bare = cached(this.bare);
    if (bare === undefined) {
      bare = new JID(PREPARED, this.local, this.domain, '');
      remember(this.bare, bare);
    }
    return bare;
  }

  withResource(resource: string): JID {
    return new JID(PREPARED, this.local, this.domain, prepareResourcepart(resource));
  }

  equals(other: JID): boolean {
    return this === other || this.full === other.full;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing, with the cache.

// Two generations rather than one map with evictions: deleting the oldest entry of a Map
// leaves holes at the front that make finding the next oldest ever slower. Lookups try the
// young generation, then the old one, promoting what they find; when the young one fills up
// it becomes the old one, and what nobody asked for since is dropped with it.
const MAX_CACHED = 10_000;
/** Longer inputs (rare, legitimate ones included) are parsed each time, bounding the cache's memory. */
const MAX_CACHED_INPUT_LENGTH = 256;
let youngCache = new Map<string, JID>();
let oldCache = new Map<string, JID>();

function cached(input: string): JID | undefined {
  const found = youngCache.get(input);
  if (found !== undefined) return found;
  const promoted = oldCache.get(input);
  if (promoted !== undefined) remember(input, promoted);
  return promoted;
}

function remember(input: string, parsed: JID): void {
  if (input.length > MAX_CACHED_INPUT_LENGTH) return;
  if (youngCache.size >= MAX_CACHED / 2) {
    oldCache = youngCache;
    youngCache = new Map();
  }
  youngCache.set(input, parsed);
}

/** RFC 7622 §3.1. Throws JidError. */
export function parseJID(s: string): JID {
  const known = cached(s);
  if (known !== undefined) return known;
  const parsed = parseUncached(s);
  remember(s, parsed);
  return parsed;
}

export function tryParseJID(s: string): JID | undefined {
  try {
    return parseJID(s);
  } catch (err) {
    if (err instanceof JidError) return undefined;
    throw err;
  }
}

function parseUncached(s: string): JID {
  // §3.1: the first '/' ends the domainpart (a resourcepart may contain '/' and '@'), and the
  // first '@' before it ends the localpart. A separator with nothing on one side is an error.
  const slash = s.indexOf('/');
  const head = slash < 0 ? s : s.slice(0, slash);
  const at = head.indexOf('@');
  const local = at < 0 ? '' : prepareLocalpart(head.slice(0, at));
  const domain = prepareDomainpart(at < 0 ? head : head.slice(at + 1));
  const resource = slash < 0 ? '' : prepareResourcepart(s.slice(slash + 1));
  return new JID(PREPARED, local, domain, resource);
}

/** A JID from its parts, each prepared. An empty localpart or resourcepart means none. */
export function jid(local: string, domain: string, resource?: string): JID {
  return new JID(
    PREPARED,
    local === '' ? '' : prepareLocalpart(local),
    prepareDomainpart(domain),
    resource === undefined || resource === '' ? '' : prepareResourcepart(resource),
  );
}

// ---------------------------------------------------------------------------------------------
// The parts.

/** §3.2, §3.3, §3.4: every part is 1 to 1023 octets of UTF-8, once prepared. */
const MAX_PART_BYTES = 1023;
/**
 * A bound on the work spent on a part before its length is known. Preparation never shrinks
 * text more than fourfold (NFC composes at most four code units into one), so a longer input
 * could never fit once prepared. Domains are the exception in theory: UTS #46 drops soft
 * hyphens and the like, and a domain padded with thousands of them is refused here.
 */
const MAX_RAW_LENGTH = 4 * MAX_PART_BYTES;

function checkLength(part: string, prepared: string): void {
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so short strings need no counting.
  if (prepared.length * 3 <= MAX_PART_BYTES) return;
  if (Buffer.byteLength(prepared, 'utf8') > MAX_PART_BYTES) {
    throw new JidError(`${part}: longer than ${MAX_PART_BYTES} bytes`);
  }
}

function checkRawLength(part: string, s: string): void {
  if (s.length === 0) throw new JidError(`${part}: empty`);
  if (s.length > MAX_RAW_LENGTH) throw new JidError(`${part}: longer than ${MAX_PART_BYTES} bytes`);
}

function precisFailure(part: string, err: unknown): unknown {
  return err instanceof PrecisError ? new JidError(`${part}: ${err.reason}`) : err;
}

function codePointName(ch: string): string {
  return 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
}

/** §3.3.1: characters the UsernameCaseMapped profile allows but a localpart does not. */
const LOCALPART_EXCLUDED = /["&'/:<>@]/;

/** Printable ASCII without space and without the characters above: nothing to do but lower-case. */
const ASCII_LOCALPART = /^[!#-%(-.0-9;=?A-~]+$/;
const ASCII_UPPER = /[A-Z]/;

/** RFC 7622 §3.3: the UsernameCaseMapped profile (RFC 8265 §3.3), minus " & ' / : < > @. */
export function prepareLocalpart(s: string): string {
  if (s.length <= MAX_PART_BYTES && ASCII_LOCALPART.test(s)) {
    return ASCII_UPPER.test(s) ? s.toLowerCase() : s;
  }
  checkRawLength('localpart', s);
  let prepared: string;
  try {
    prepared = prepareUsernameCaseMapped(s);
  } catch (err) {
    throw precisFailure('localpart', err);
  }
  const excluded = LOCALPART_EXCLUDED.exec(prepared);
  if (excluded !== null) throw new JidError(`localpart: disallowed character ${codePointName(excluded[0])}`);
  checkLength('localpart', prepared);
  return prepared;
}

/** RFC 7622 §3.4: the OpaqueString profile (RFC 8265 §4.2). */
export function prepareResourcepart(s: string): string {
  checkRawLength('resourcepart', s);
  let prepared: string;
  try {
    prepared = prepareOpaqueString(s);
  } catch (err) {
    throw precisFailure('resourcepart', err);
  }
  checkLength('resourcepart', prepared);
  return prepared;
}

/**
 * A host name of letters, digits and hyphens, labels of 1 to 63 characters that neither start
 * nor end with a hyphen. COMPAT: '_' is allowed too: it is not LDH, but stringprep-era servers
 * (ejabberd, Prosody) accept it and deployments use it in the names of internal components.
 */
const ASCII_HOST = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;
/** RFC 3986 IPv4address: four dec-octets, no leading zeros. */
const IPV4_LITERAL = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/**
 * The URL host parser behind domainToASCII reads a name whose last label is a number as an
 * IPv4 address in its lenient forms ('1.2.3' is 1.2.0.3, '0x7f.1' is 127.0.0.1). No top-level
 * domain is numeric, so a name ending in one is refused unless it is a plain IPv4 literal.
 */
const NUMERIC_LAST_LABEL = /(?:^|[.\u3002\uFF0E\uFF61])(?:\d+|0x[0-9a-f]*)$/i;

/**
 * ASCII that is not part of a host name. The URL host parser would not refuse all of it: it
 * percent-decodes, drops tabs and newlines, and stops at '/', '?', '#' or '\'.
 */
const NON_HOST_ASCII = /[^A-Za-z0-9._\-\u0080-\u{10FFFF}]/u;
/** Whether s ends in a full stop that UTS #46 maps to '.'. */
function endsInDot(s: string): boolean {
  const last = s.charCodeAt(s.length - 1);
  return last === 0x2e || last === 0x3002 || last === 0xff0e || last === 0xff61;
}

/**
 * RFC 7622 §3.2. Returns the comparison form: lower-case, with U-labels (an A-label input and
 * its Unicode form prepare to the same string), without a final dot; an IPv4 address as
 * given; an IPv6 address in brackets, in its canonical (RFC 5952) form.
 */
export function prepareDomainpart(s: string): string {
  checkRawLength('domainpart', s);
  // §3.2: a final label separator is stripped before the address is used or compared.
  const name = endsInDot(s) ? s.slice(0, -1) : s;
  if (name.length === 0) throw new JidError('domainpart: empty');
  if (name.charCodeAt(0) === 0x5b /* '[' */) return prepareIPv6Literal(name);
  if (IPV4_LITERAL.test(name)) return name;
  if (ASCII_HOST.test(name)) {
    const lower = name.toLowerCase();
    if (!lower.includes('xn--')) {
      if (NUMERIC_LAST_LABEL.test(lower))
        throw new JidError('domainpart: neither a domain name nor an IP address');
      checkLength('domainpart', lower);
      return lower;
    }
  }
  const nonHost = NON_HOST_ASCII.exec(name);
  if (nonHost !== null) throw new JidError(`domainpart: disallowed character ${codePointName(nonHost[0])}`);
  if (NUMERIC_LAST_LABEL.test(name))
    throw new JidError('domainpart: neither a domain name nor an IP address');
  const ascii = domainToASCII(name);
  if (ascii === '') throw new JidError('domainpart: not a valid internationalized domain name');
  checkLabels(ascii);
  const unicode = domainToUnicode(ascii);
  checkLength('domainpart', unicode);
  return unicode;
}

function checkLabels(ascii: string): void {
  let start = 0;
  while (start <= ascii.length) {
    let end = ascii.indexOf('.', start);
    if (end < 0) end = ascii.length;
    const label = ascii.slice(start, end);
    if (label.length === 0) throw new JidError('domainpart: empty label');
    if (label.length > 63) throw new JidError('domainpart: label longer than 63 bytes');
    if (!ASCII_HOST.test(label)) throw new JidError(`domainpart: bad label '${label}'`);
    start = end + 1;
  }
  // Fullwidth digits map to ASCII ones, and the URL parser then reads an IPv4 address.
  if (NUMERIC_LAST_LABEL.test(ascii))
    throw new JidError('domainpart: neither a domain name nor an IP address');
}

function prepareIPv6Literal(literal: string): string {
  // domainToASCII parses a bracketed IPv6 address and prints it canonically (lower case,
  // longest zero run compressed), so that equal addresses compare equal. It refuses zone IDs,
  // which RFC 3986 IP-literals do not have either.
  const canonical = literal.endsWith(']') ? domainToASCII(literal) : '';
  if (!canonical.startsWith('[')) throw new JidError('domainpart: not a valid IPv6 address');
  return canonical;
}
