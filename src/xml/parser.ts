// The streaming XML parser for XMPP streams: strict, bounded, and fed straight from the socket.
//
// References:
// - RFC 6120 §11 (XML usage): §11.1 restrictions (no comments, PIs other than the XML declaration,
//   DTDs or entity references other than the predefined ones), §11.2 namespaces, §11.3
//   well-formedness, §11.5 the XML declaration, §11.6 UTF-8 only; §4.9.3 the stream error
//   conditions reported here (not-well-formed, restricted-xml, unsupported-encoding, policy-violation).
// - XML 1.0 (Fifth Edition): §2.2 Char, §2.3 Name, §2.4 character data (no literal ']]>'),
//   §2.7 CDATA sections, §2.8 XMLDecl, §2.11 end-of-line handling, §3.1 unique attributes,
//   §3.3.3 attribute-value normalization, §4.1 character references, §4.6 predefined entities.
// - Namespaces in XML 1.0 (Third Edition): §3 declaring (reserved prefixes xml and xmlns), §4 QNames,
//   §5 using (every prefix bound), §6.3 unique expanded attribute names.
//
// One state machine over decoded text. State persists across chunks, so each character is looked
// at once by the machine (and once more by the byte counter, unless the chunk is all ASCII); runs
// of text and attribute values are found with tight loops and taken with one slice, not built a
// character at a time.
//
// The byte budget works in windows: from the first uncharged character, a window holds at most as
// many characters as there are bytes left (a character is at least one byte). At the end of each
// window, at each element end and at each error, the characters read are charged in UTF-8 bytes,
// so an oversized stanza is caught before more than the budget is held, and the outcome is the
// same however the input is split into chunks.

import { isUtf8 } from 'node:buffer';
import type { StreamErrorCondition } from '../core/errors.js';
import type { Attrs } from './element.js';
import { Element } from './element.js';
import { NS } from './ns.js';

export interface StreamParserLimits {
  /** Byte budget for one top-level element (a stanza or nonza) and for the stream header, in UTF-8 bytes. Default 262144. */
  maxStanzaBytes: number;
  /** Maximum element nesting depth, counting the stream element as depth 1. Default 32. */
  maxDepth: number;
}

export interface StreamParserHandler {
  /** The stream header (the depth-0 element's open tag). name as written, e.g. 'stream:stream'. */
  streamStart(name: string, attrs: Attrs): void;
  /**
   * A complete top-level child of the stream. ns is its resolved namespace: its own xmlns /
   * xmlns:prefix, else the stream header's declarations (default namespace or the prefix's).
   * An empty default namespace (xmlns='') means no namespace, given as undefined.
   */
  stanza(el: Element, ns: string | undefined): void;
  /** The closing tag of the stream element. */
  streamEnd(): void;
  /** Fatal: the parser stops; the caller sends the stream error and closes. */
  error(condition: StreamErrorCondition, text: string): void;
}

export const DEFAULT_PARSER_LIMITS: Readonly<StreamParserLimits> = Object.freeze({
  maxStanzaBytes: 262144,
  maxDepth: 32,
});

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

// What the machine is in the middle of.
const PROLOG = 0; // before the stream header: whitespace, one XML declaration first of all
const STREAM = 1; // between top-level elements: whitespace only
const CLOSED = 2; // after the stream's end tag: whitespace only
const TAG_OPEN = 3; // just after '<'
const START_NAME = 4; // an element name
const IN_TAG = 5; // inside a start tag, after whitespace
const AFTER_VALUE = 6; // just after an attribute value's closing quote
const ATTR_NAME = 7;
const AFTER_ATTR_NAME = 8; // whitespace before '='
const BEFORE_VALUE = 9; // after '=', before the opening quote
const ATTR_VALUE = 10;
const EMPTY_TAG = 11; // after the '/' of '/>'
const TEXT = 12; // character data inside a stanza
const END_NAME = 13; // the name of an end tag, matched against the open element's
const AFTER_END_NAME = 14;
const MARKUP_DECL = 15; // after '<!'
const CDATA = 16;
const XML_DECL = 17; // after '<?' at the very start
const REFERENCE = 18; // after '&', in text or an attribute value
const DONE = 19; // failed or stopped: all input is ignored

type State =
  | typeof PROLOG
  | typeof STREAM
  | typeof CLOSED
  | typeof TAG_OPEN
  | typeof START_NAME
  | typeof IN_TAG
  | typeof AFTER_VALUE
  | typeof ATTR_NAME
  | typeof AFTER_ATTR_NAME
  | typeof BEFORE_VALUE
  | typeof ATTR_VALUE
  | typeof EMPTY_TAG
  | typeof TEXT
  | typeof END_NAME
  | typeof AFTER_END_NAME
  | typeof MARKUP_DECL
  | typeof CDATA
  | typeof XML_DECL
  | typeof REFERENCE
  | typeof DONE;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const BANG = 0x21;
const QUOT = 0x22;
const HASH = 0x23;
const AMP = 0x26;
const APOS = 0x27;
const HYPHEN = 0x2d;
const SLASH = 0x2f;
const COLON = 0x3a;
const SEMI = 0x3b;
const LT = 0x3c;
const EQ = 0x3d;
const GT = 0x3e;
const QUEST = 0x3f;
const UPPER_D = 0x44;
const LSQB = 0x5b;
const RSQB = 0x5d;

const CDATA_OPEN = '[CDATA[';
/** Longest XML declaration accepted; a real one is under 60 characters. */
const MAX_DECL_CHARS = 256;
/** Longest entity or character reference body accepted (leading zeros are legal, but not endless). */
const MAX_REFERENCE_CHARS = 32;
/**
 * Most attributes accepted on one element. XMPP elements carry a handful; without a bound, one
 * stanza within the byte budget could hold tens of thousands, and the bookkeeping of so many
 * (duplicate and namespace checks) takes the event loop for most of a second.
 */
const MAX_ATTRIBUTES = 256;
/** Longest name quoted back in an error text. */
const MAX_QUOTED_NAME = 64;

const XML_DECL_SYNTAX =
  /^xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(?:yes|no)\4)?[ \t\r\n]*$/;
const DECIMAL_REF = /^#[0-9]+$/;
const HEX_REF = /^#x[0-9a-fA-F]+$/;

function asciiTable(member: (c: number) => boolean): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = member(c) ? 1 : 0;
  return table;
}

/** Control characters XML 1.0 §2.2 forbids: all below U+0020 except tab, LF and CR. */
const isIllegalControl = (c: number): boolean => c < SPACE && c !== TAB && c !== LF && c !== CR;
/** ASCII characters that end a plain run of character data. */
const TEXT_STOP = asciiTable((c) => isIllegalControl(c) || c === CR || c === LT || c === AMP || c === GT);
/** ASCII characters that end a plain run of an attribute value. */
const ATTR_STOP = asciiTable((c) => c < SPACE || c === LT || c === AMP || c === QUOT || c === APOS);
const NAME_START = asciiTable(
  (c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === COLON,
);
const NAME_CHAR = asciiTable(
  (c) => NAME_START[c] === 1 || (c >= 0x30 && c <= 0x39) || c === HYPHEN || c === 0x2e,
);

const isSpace = (c: number): boolean => c === SPACE || c === LF || c === TAB || c === CR;

/** XML 1.0 §2.3 NameStartChar beyond ASCII. Supplementary characters arrive as a high surrogate. */
function isNameStartBeyondAscii(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    // high surrogates of U+10000–U+EFFFF
    (c >= 0xd800 && c <= 0xdb7f)
  );
}

/** XML 1.0 §2.3 NameChar beyond ASCII. The decoder only yields paired surrogates, so a low one
 * inside a name always follows an accepted high one. */
function isNameCharBeyondAscii(c: number): boolean {
  return (
    isNameStartBeyondAscii(c) ||
    c === 0xb7 ||
    (c >= 0x300 && c <= 0x36f) ||
    c === 0x203f ||
    c === 0x2040 ||
    (c >= 0xdc00 && c <= 0xdfff)
  );
}

const isNameStart = (c: number): boolean => (c < 0x80 ? NAME_START[c] === 1 : isNameStartBeyondAscii(c));
const isNameChar = (c: number): boolean => (c < 0x80 ? NAME_CHAR[c] === 1 : isNameCharBeyondAscii(c));

function isName(s: string): boolean {
  if (s.length === 0 || !isNameStart(s.charCodeAt(0))) return false;
  for (let k = 1; k < s.length; k++) if (!isNameChar(s.charCodeAt(k))) return false;
  return true;
}

/** Namespaces in XML §4: at most one colon, with a non-empty prefix and local part. The Name
 * characters themselves were checked while reading. */
function isQName(name: string): boolean {
  const colon = name.indexOf(':');
  if (colon < 0) return true;
  if (colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) >= 0) return false;
  return isNameStart(name.charCodeAt(colon + 1));
}

/** XML 1.0 §2.2 Char, for a code point. */
function isXmlChar(cp: number): boolean {
  return (
    cp === TAB ||
    cp === LF ||
    cp === CR ||
    (cp >= SPACE && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function quoted(name: string): string {
  return name.length > MAX_QUOTED_NAME ? `'${name.slice(0, MAX_QUOTED_NAME)}…'` : `'${name}'`;
}

function illegalCharText(c: number): string {
  return `illegal character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Whether the '>' at i, in a text run that began at runStart, closes a literal ']]'. `carried`
 * counts the literal ']' that ended the text before runStart (0–2). */
function endsWithTwoBrackets(s: string, runStart: number, i: number, carried: number): boolean {
  const n = i - runStart;
  if (n >= 2) return s.charCodeAt(i - 1) === RSQB && s.charCodeAt(i - 2) === RSQB;
  if (n === 1) return s.charCodeAt(i - 1) === RSQB && carried >= 1;
  return carried >= 2;
}

/** The literal ']' ending s[runStart, i), up to two, continuing `carried` when the run is all ']'. */
function trailingBrackets(s: string, runStart: number, i: number, carried: number): number {
  let n = 0;
  let k = i - 1;
  while (k >= runStart && n < 2 && s.charCodeAt(k) === RSQB) {
    n++;
    k--;
  }
  return k < runStart ? Math.min(2, n + carried) : n;
}

const NO_BYTES = new Uint8Array(0);
const BOM = 0xfeff;
/** A character cut short by the end of the input: a valid prefix, waiting for the rest. */
const INCOMPLETE = -2;
/** Bytes that no continuation can make a character of. */
const INVALID = -1;

/**
 * Where the UTF-8 character starting at bytes[i] ends, by the rules of the WHATWG decoder (no
 * overlongs, no surrogates, nothing above U+10FFFF); or INCOMPLETE, or INVALID.
 */
function characterEnd(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  if (b < 0x80) return i + 1;
  let more: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) more = 1;
  else if (b >= 0xe0 && b <= 0xef) {
    more = 2;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    more = 3;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return INVALID;
  for (let k = 1; k <= more; k++) {
    if (i + k >= bytes.length) return INCOMPLETE;
    const next = bytes[i + k];
    if (next < lo || next > hi) return INVALID;
    lo = 0x80;
    hi = 0xbf;
  }
  return i + more + 1;
}

/**
 * The length of the valid UTF-8 prefix of `bytes`. Only used once decoding has failed, to parse
 * what came before the bad bytes exactly as if the input had arrived in smaller chunks.
 */
function validUtf8Length(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const next = characterEnd(bytes, i);
    if (next < 0) return i;
    i = next;
  }
  return i;
}

/**
 * How much of `bytes` to decode now: all of it, or all but a character the next chunk will
 * complete (what a streaming decoder holds back); INVALID when the last bytes can begin no
 * character. Whether the rest is valid is for isUtf8 to say.
 */
function decodableLength(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = n - 1; k >= 0 && k >= n - 3; k--) {
    const b = bytes[k];
    if (b < 0x80) return n;
    if (b >= 0xc0) {
      const end = characterEnd(bytes, k);
      return end === INCOMPLETE ? k : end === INVALID ? INVALID : n;
    }
  }
  return n;
}

export class StreamParser {
  private readonly handler: StreamParserHandler;
  private readonly maxBytes: number;
  private readonly maxDepth: number;

  /**
   * The start of a character split across chunks, held back until the rest arrives. The parser
   * decodes with isUtf8 and Buffer.toString rather than a TextDecoder of its own: a streaming
   * decoder costs about 1 KiB of native memory per connection, and is slower.
   */
  private heldBytes: Uint8Array = NO_BYTES;
  /** Whether any text has been decoded yet: only a byte order mark at the very start is dropped. */
  private decodedText = false;

  private state: State = PROLOG;
  /** Whether an XML declaration may still come: nothing but a BOM read since the stream (re)started. */
  private declAllowed = true;

  /** Whether characters now count against the byte budget: in the stream header or a top-level element. */
  private budgeted = true;
  /** Bytes left for the current top-level element or stream header. */
  private budget: number;
  /** Index in the current chunk's text up to which characters have been charged. */
  private chargedTo = 0;
  /** The current chunk is all ASCII, so characters and bytes are the same count. */
  private asciiChunk = false;

  /** The stream header's namespace declarations (xmlns, xmlns:prefix), once read. */
  private header: Attrs | null = null;
  private streamName = '';
  /** The header's prefix declarations other than the stream element's own, as key, value, key, value... */
  private inheritedDecls: string[] = [];

  /** The open elements of the current top-level element, outermost first. */
  private stack: Element[] = [];
  /** Character data read since the last child was added, merged across references and CDATA. */
  private text = '';
  /** A CR ended the last window: a LF starting the next one belongs to the same line end. */
  private pendingCR = false;
  /** Literal ']' ending the text so far (0–2), or in CDATA the run of ']' so far. */
  private brackets = 0;

  /** A name being read, when it spans windows. */
  private partialName = '';
  private tagName = '';
  private attrs: Attrs = {};
  private attrCount = 0;
  private hasPrefixedAttr = false;
  private attrName = '';
  private value = '';
  private quote = 0;

  /** The name an end tag must match, and how much of it has been matched. */
  private expectedName = '';
  private matched = 0;

  /** An XML declaration or a reference body, when it spans windows. */
  private token = '';
  private afterQuestionMark = false;
  private referenceIn: typeof TEXT | typeof ATTR_VALUE = TEXT;
  private cdataOpenMatched = 0;

  constructor(handler: StreamParserHandler, limits?: Partial<StreamParserLimits>) {
    this.handler = handler;
    this.maxBytes = limits?.maxStanzaBytes ?? DEFAULT_PARSER_LIMITS.maxStanzaBytes;
    this.maxDepth = limits?.maxDepth ?? DEFAULT_PARSER_LIMITS.maxDepth;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1)
      throw new RangeError(`maxStanzaBytes must be a positive integer, not ${this.maxBytes}`);
    if (!Number.isSafeInteger(this.maxDepth) || this.maxDepth < 1)
      throw new RangeError(`maxDepth must be a positive integer, not ${this.maxDepth}`);
    this.budget = this.maxBytes;
  }

  /** Failed or stopped: all further input is ignored. */
  private get done(): boolean {
    return this.state === DONE;
  }

  write(chunk: Buffer): void {
    if (this.done) return;
    const bytes = this.heldBytes.length === 0 ? chunk : Buffer.concat([this.heldBytes, chunk]);
    const end = bytes.length > 0 && bytes[bytes.length - 1] >= 0x80 ? decodableLength(bytes) : bytes.length;
    if (end !== INVALID && isUtf8(end === bytes.length ? bytes : bytes.subarray(0, end))) {
      this.heldBytes = end === bytes.length ? NO_BYTES : new Uint8Array(bytes.subarray(end));
      const text = this.decode(bytes, end);
      // As many UTF-16 units as bytes: every character is ASCII.
      this.asciiChunk = text.length === end;
      if (text.length > 0) this.parse(text);
      return;
    }
    // Parse what came before the bad bytes, so that the outcome does not depend on where the
    // chunks were cut; then fail.
    const text = this.decode(bytes, validUtf8Length(bytes));
    this.asciiChunk = false;
    if (text.length > 0) this.parse(text);
    if (!this.done) this.fail(null, 0, 'unsupported-encoding', 'the stream is not valid UTF-8');
  }

  /** bytes[0, end), known to be valid UTF-8, as text; a byte order mark first of all is dropped. */
  private decode(bytes: Buffer, end: number): string {
    if (end === 0) return '';
    const text = bytes.toString('utf8', 0, end);
    if (this.decodedText) return text;
    this.decodedText = true;
    return text.charCodeAt(0) === BOM ? text.slice(1) : text;
  }

  /** Start over: expect a new stream header (XML declaration allowed again). Used after SASL success. Safe to call from inside a handler callback: the rest of the current chunk is then parsed as the start of the new stream. */
  reset(): void {
    if (this.done) return;
    this.state = PROLOG;
    this.declAllowed = true;
    this.budgeted = true;
    this.budget = this.maxBytes;
    this.header = null;
    this.streamName = '';
    this.inheritedDecls = [];
    this.clearElementState();
  }

  /** Stop parsing for good (e.g. STARTTLS: the rest of the plaintext chunk must be ignored). Safe to call from inside a callback: the rest of the current chunk is discarded. */
  stop(): void {
    this.state = DONE;
    this.header = null;
    this.inheritedDecls = [];
    this.clearElementState();
  }

  private clearElementState(): void {
    this.stack = [];
    this.text = '';
    this.pendingCR = false;
    this.brackets = 0;
    this.partialName = '';
    this.attrs = {};
    this.value = '';
    this.token = '';
  }

  private parse(s: string): void {
    const len = s.length;
    this.chargedTo = 0;
    let i = 0;
    while (i < len && !this.done) {
      if (!this.budgeted) {
        i = this.run(s, i, len);
        continue;
      }
      const end = Math.min(len, this.chargedTo + this.budget);
      if (end <= i) {
        // Not a byte left, and more is coming.
        this.fail(s, i, 'policy-violation', this.budgetText());
        return;
      }
      i = this.run(s, i, end);
      if (i === end && this.budgeted && !this.done && !this.charge(s, end)) {
        this.fail(null, 0, 'policy-violation', this.budgetText());
        return;
      }
    }
    // A top-level element's '<' can be the last character of the chunk, read while unbudgeted.
    if (this.budgeted && !this.done && this.chargedTo < len && !this.charge(s, len))
      this.fail(null, 0, 'policy-violation', this.budgetText());
  }

  /** Charges s[chargedTo, to) against the budget, in UTF-8 bytes. False when over budget. */
  private charge(s: string, to: number): boolean {
    const from = this.chargedTo;
    if (to <= from) return this.budget >= 0;
    let bytes = to - from;
    if (!this.asciiChunk)
      for (let k = from; k < to; k++) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) bytes += c < 0x800 || (c & 0xf800) === 0xd800 ? 1 : 2;
      }
    this.chargedTo = to;
    this.budget -= bytes;
    return this.budget >= 0;
  }

  private budgetText(): string {
    return this.header === null
      ? `stream header exceeds ${this.maxBytes} bytes`
      : `stanza exceeds ${this.maxBytes} bytes`;
  }

  /**
   * Reports a fatal error once and stops. `at` is the offending character in s: the characters up
   * to it are charged first, so that going over budget before it wins, as it would have if the
   * input had come in smaller pieces. Returns -1 for run() to hand back.
   */
  private fail(s: string | null, at: number, condition: StreamErrorCondition, text: string): number {
    if (this.done) return -1;
    if (s !== null && this.budgeted && !this.charge(s, Math.min(at + 1, s.length))) {
      condition = 'policy-violation';
      text = this.budgetText();
    }
    this.stop();
    this.handler.error(condition, text);
    return -1;
  }

  /** A CR was just read at i - 1 in text, CDATA or an attribute value: swallow a LF right after it. */
  private skipLF(s: string, i: number, end: number): number {
    if (i === end) {
      this.pendingCR = true;
      return i;
    }
    return s.charCodeAt(i) === LF ? i + 1 : i;
  }

  /**
   * Runs the machine over s[i, end). Returns where it got to: end, or earlier right after an
   * event that changes the budget or hands control to the handler (which may reset or stop us).
   */
  private run(s: string, i: number, end: number): number {
    if (this.pendingCR) {
      this.pendingCR = false;
      if (s.charCodeAt(i) === LF) i++;
    }
    machine: while (i < end) {
      switch (this.state) {
        case TEXT: {
          const runStart = i;
          let c = 0;
          for (;;) {
            while (i < end) {
              c = s.charCodeAt(i);
              if (c < 0x80 ? TEXT_STOP[c] === 1 : c >= 0xfffe) break;
              i++;
            }
            if (i === end) {
              this.brackets = trailingBrackets(s, runStart, i, this.brackets);
              if (i > runStart) this.text += s.slice(runStart, i);
              return i;
            }
            if (c !== GT) break;
            if (endsWithTwoBrackets(s, runStart, i, this.brackets))
              return this.fail(s, i, 'not-well-formed', "']]>' is not allowed in character data");
            i++;
          }
          if (i > runStart) this.text += s.slice(runStart, i);
          this.brackets = 0;
          if (c === LT) {
            this.state = TAG_OPEN;
            i++;
          } else if (c === AMP) {
            this.startReference(TEXT);
            i++;
          } else if (c === CR) {
            this.text += '\n';
            i = this.skipLF(s, i + 1, end);
          } else return this.fail(s, i, 'not-well-formed', illegalCharText(c));
          continue;
        }

        case TAG_OPEN: {
          const c = s.charCodeAt(i);
          if (c === SLASH) {
            if (this.header === null)
              return this.fail(s, i, 'not-well-formed', 'end tag before the stream header');
            const depth = this.stack.length;
            if (depth > 0) {
              this.flushText();
              this.expectedName = this.stack[depth - 1].name;
            } else this.expectedName = this.streamName;
            this.matched = 0;
            this.state = END_NAME;
            i++;
            continue;
          }
          if (c === BANG) {
            this.cdataOpenMatched = 0;
            this.state = MARKUP_DECL;
            i++;
            continue;
          }
          if (c === QUEST) {
            if (!this.declAllowed)
              return this.fail(s, i, 'restricted-xml', 'processing instructions are not allowed');
            this.token = '';
            this.afterQuestionMark = false;
            this.state = XML_DECL;
            i++;
            continue;
          }
          if (!isNameStart(c)) return this.fail(s, i, 'not-well-formed', "invalid character after '<'");
          const depth = (this.header === null ? 0 : 1) + this.stack.length + 1;
          if (depth > this.maxDepth)
            return this.fail(s, i, 'policy-violation', `elements nested more than ${this.maxDepth} deep`);
          if (this.stack.length > 0) this.flushText();
          this.declAllowed = false;
          this.partialName = '';
          this.attrs = {};
          this.attrCount = 0;
          this.hasPrefixedAttr = false;
          this.state = START_NAME;
          continue;
        }

        case START_NAME: {
          const start = i;
          let c = 0;
          while (i < end) {
            c = s.charCodeAt(i);
            if (c < 0x80 ? NAME_CHAR[c] === 0 : !isNameCharBeyondAscii(c)) break;
            i++;
          }
          if (i === end) {
            this.partialName += s.slice(start, i);
            return i;
          }
          const name = this.partialName === '' ? s.slice(start, i) : this.partialName + s.slice(start, i);
          this.partialName = '';
          if (!isQName(name))
            return this.fail(s, i, 'not-well-formed', `invalid element name ${quoted(name)}`);
          this.tagName = name;
          if (c === GT) {
            i++;
            if (this.endStartTag(s, i, false)) return i;
          } else if (isSpace(c)) {
            this.state = IN_TAG;
            i++;
          } else if (c === SLASH) {
            this.state = EMPTY_TAG;
            i++;
          } else
            return this.fail(s, i, 'not-well-formed', `invalid character in element name ${quoted(name)}`);
          continue;
        }

        case IN_TAG: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            continue;
          }
          if (c === GT) {
            i++;
            if (this.endStartTag(s, i, false)) return i;
            continue;
          }
          if (c === SLASH) {
            this.state = EMPTY_TAG;
            i++;
            continue;
          }
          if (!isNameStart(c)) return this.fail(s, i, 'not-well-formed', 'invalid character in a start tag');
          this.partialName = '';
          this.state = ATTR_NAME;
          continue;
        }

        case AFTER_VALUE: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            this.state = IN_TAG;
            i++;
            continue;
          }
          if (c === GT) {
            i++;
            if (this.endStartTag(s, i, false)) return i;
            continue;
          }
          if (c === SLASH) {
            this.state = EMPTY_TAG;
            i++;
            continue;
          }
          return this.fail(s, i, 'not-well-formed', 'attributes must be separated by whitespace');
        }

        case ATTR_NAME: {
          const start = i;
          let c = 0;
          while (i < end) {
            c = s.charCodeAt(i);
            if (c < 0x80 ? NAME_CHAR[c] === 0 : !isNameCharBeyondAscii(c)) break;
            i++;
          }
          if (i === end) {
            this.partialName += s.slice(start, i);
            return i;
          }
          const name = this.partialName === '' ? s.slice(start, i) : this.partialName + s.slice(start, i);
          this.partialName = '';
          if (!isQName(name))
            return this.fail(s, i, 'not-well-formed', `invalid attribute name ${quoted(name)}`);
          if (Object.hasOwn(this.attrs, name))
            return this.fail(s, i, 'not-well-formed', `duplicate attribute ${quoted(name)}`);
          if (++this.attrCount > MAX_ATTRIBUTES)
            return this.fail(
              s,
              i,
              'policy-violation',
              `more than ${MAX_ATTRIBUTES} attributes on one element`,
            );
          if (name.indexOf(':') >= 0) this.hasPrefixedAttr = true;
          this.attrName = name;
          if (c === EQ) this.state = BEFORE_VALUE;
          else if (isSpace(c)) this.state = AFTER_ATTR_NAME;
          else
            return this.fail(s, i, 'not-well-formed', `invalid character in attribute name ${quoted(name)}`);
          i++;
          continue;
        }

        case AFTER_ATTR_NAME: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            continue;
          }
          if (c !== EQ)
            return this.fail(s, i, 'not-well-formed', `attribute ${quoted(this.attrName)} has no value`);
          this.state = BEFORE_VALUE;
          i++;
          continue;
        }

        case BEFORE_VALUE: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            continue;
          }
          if (c !== QUOT && c !== APOS)
            return this.fail(
              s,
              i,
              'not-well-formed',
              `value of attribute ${quoted(this.attrName)} is not quoted`,
            );
          this.quote = c;
          this.value = '';
          this.state = ATTR_VALUE;
          i++;
          continue;
        }

        case ATTR_VALUE: {
          const quote = this.quote;
          let runStart = i;
          let c = 0;
          for (;;) {
            while (i < end) {
              c = s.charCodeAt(i);
              if (c < 0x80 ? ATTR_STOP[c] === 1 : c >= 0xfffe) break;
              i++;
            }
            if (i === end) {
              if (i > runStart) this.value += s.slice(runStart, i);
              return i;
            }
            if (c === quote) break;
            if (c === QUOT || c === APOS) {
              i++;
              continue;
            }
            // XML 1.0 §3.3.3: each literal whitespace character becomes a space, after line-end
            // normalization has made CR LF a single LF.
            if (c === TAB || c === LF || c === CR) {
              this.value += i > runStart ? s.slice(runStart, i) + ' ' : ' ';
              i = c === CR ? this.skipLF(s, i + 1, end) : i + 1;
              runStart = i;
              continue;
            }
            break;
          }
          const piece = i > runStart ? s.slice(runStart, i) : '';
          if (c === quote) {
            const value = this.value === '' ? piece : this.value + piece;
            this.value = '';
            if (!this.setAttr(s, i, value)) return -1;
            this.state = AFTER_VALUE;
            i++;
            continue;
          }
          this.value += piece;
          if (c === AMP) {
            this.startReference(ATTR_VALUE);
            i++;
            continue;
          }
          if (c === LT) return this.fail(s, i, 'not-well-formed', "'<' is not allowed in an attribute value");
          return this.fail(s, i, 'not-well-formed', illegalCharText(c));
        }

        case EMPTY_TAG: {
          if (s.charCodeAt(i) !== GT) return this.fail(s, i, 'not-well-formed', "expected '>' after '/'");
          i++;
          if (this.endStartTag(s, i, true)) return i;
          continue;
        }

        case END_NAME: {
          const expected = this.expectedName;
          while (i < end) {
            const c = s.charCodeAt(i);
            if (this.matched < expected.length) {
              if (c !== expected.charCodeAt(this.matched)) break;
              this.matched++;
              i++;
              continue;
            }
            if (c === GT) {
              i++;
              if (this.endEndTag(s, i)) return i;
              continue machine;
            }
            if (!isSpace(c)) break;
            this.state = AFTER_END_NAME;
            i++;
            continue machine;
          }
          if (i === end) return i;
          return this.fail(
            s,
            i,
            'not-well-formed',
            `end tag does not match the start tag ${quoted(expected)}`,
          );
        }

        case AFTER_END_NAME: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            continue;
          }
          if (c !== GT) return this.fail(s, i, 'not-well-formed', 'invalid character in an end tag');
          i++;
          if (this.endEndTag(s, i)) return i;
          continue;
        }

        case STREAM: {
          let c = 0;
          while (i < end) {
            c = s.charCodeAt(i);
            if (!isSpace(c)) break;
            i++;
          }
          if (i === end) return i;
          if (c !== LT) return this.fail(s, i, 'not-well-formed', 'character data outside a stanza');
          // A top-level element starts: its budget runs from its '<'.
          this.chargedTo = i;
          this.budget = this.maxBytes;
          this.budgeted = true;
          this.state = TAG_OPEN;
          return i + 1;
        }

        case PROLOG: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            this.declAllowed = false;
            i++;
            continue;
          }
          if (c !== LT) return this.fail(s, i, 'not-well-formed', 'character data before the stream header');
          this.state = TAG_OPEN;
          i++;
          continue;
        }

        case CLOSED: {
          const c = s.charCodeAt(i);
          if (!isSpace(c)) return this.fail(s, i, 'not-well-formed', 'data after the end of the stream');
          i++;
          continue;
        }

        case MARKUP_DECL: {
          const c = s.charCodeAt(i);
          if (this.cdataOpenMatched === 0) {
            if (c === HYPHEN) return this.fail(s, i, 'restricted-xml', 'comments are not allowed');
            if (c === UPPER_D)
              return this.fail(s, i, 'restricted-xml', 'document type declarations are not allowed');
            if (c !== LSQB) return this.fail(s, i, 'restricted-xml', 'markup declarations are not allowed');
            if (this.stack.length === 0)
              return this.fail(s, i, 'not-well-formed', 'CDATA section outside a stanza');
          } else if (c !== CDATA_OPEN.charCodeAt(this.cdataOpenMatched))
            return this.fail(s, i, 'not-well-formed', 'malformed CDATA section');
          i++;
          if (++this.cdataOpenMatched === CDATA_OPEN.length) {
            this.brackets = 0;
            this.state = CDATA;
          }
          continue;
        }

        case CDATA: {
          let runStart = i;
          let brackets = this.brackets;
          while (i < end) {
            const c = s.charCodeAt(i);
            if (c === RSQB) {
              brackets++;
              i++;
              continue;
            }
            if (c === GT && brackets >= 2) {
              // The section ends; its last two ']' are the marker's, wherever they were read.
              if (i - runStart >= 2) this.text += s.slice(runStart, i - 2);
              else {
                const text = this.text + s.slice(runStart, i);
                this.text = text.slice(0, text.length - 2);
              }
              this.brackets = 0;
              this.state = TEXT;
              i++;
              continue machine;
            }
            brackets = 0;
            if (c < SPACE ? c !== TAB && c !== LF : c >= 0xfffe) {
              if (c !== CR) return this.fail(s, i, 'not-well-formed', illegalCharText(c));
              this.text += i > runStart ? s.slice(runStart, i) + '\n' : '\n';
              i = this.skipLF(s, i + 1, end);
              runStart = i;
              continue;
            }
            i++;
          }
          if (i > runStart) this.text += s.slice(runStart, i);
          this.brackets = brackets;
          return i;
        }

        case XML_DECL: {
          const start = i;
          while (i < end) {
            const c = s.charCodeAt(i);
            if (c === GT && this.afterQuestionMark) {
              // The '?' is the last character read, in this window or at the end of the token.
              const body = i > start ? this.token + s.slice(start, i - 1) : this.token.slice(0, -1);
              this.token = '';
              if (!this.checkXmlDecl(s, i, body)) return -1;
              this.declAllowed = false;
              this.state = PROLOG;
              i++;
              continue machine;
            }
            this.afterQuestionMark = c === QUEST;
            i++;
            if (this.token.length + (i - start) > MAX_DECL_CHARS) {
              const body = this.token + s.slice(start, i);
              return isXmlDeclTarget(body)
                ? this.fail(s, i - 1, 'not-well-formed', 'XML declaration too long')
                : this.fail(s, i - 1, 'restricted-xml', 'processing instructions are not allowed');
            }
          }
          this.token += s.slice(start, i);
          return i;
        }

        case REFERENCE: {
          const start = i;
          while (i < end) {
            const c = s.charCodeAt(i);
            if (c === SEMI) {
              const body = this.token === '' ? s.slice(start, i) : this.token + s.slice(start, i);
              this.token = '';
              const decoded = this.decodeReference(s, i, body);
              if (decoded === null) return -1;
              if (this.referenceIn === TEXT) this.text += decoded;
              else this.value += decoded;
              this.state = this.referenceIn;
              i++;
              continue machine;
            }
            if (!(c === HASH || isNameChar(c)))
              return this.fail(s, i, 'not-well-formed', "'&' must start an entity or character reference");
            i++;
            if (this.token.length + (i - start) > MAX_REFERENCE_CHARS)
              return this.fail(s, i - 1, 'not-well-formed', 'entity or character reference too long');
          }
          this.token += s.slice(start, i);
          return i;
        }

        case DONE:
          return end;
      }
    }
    return i;
  }

  private startReference(context: typeof TEXT | typeof ATTR_VALUE): void {
    this.referenceIn = context;
    this.token = '';
    this.state = REFERENCE;
  }

  private flushText(): void {
    if (this.text === '') return;
    this.stack[this.stack.length - 1].children.push(this.text);
    this.text = '';
  }

  /** XML 1.0 §4.1, §4.6; RFC 6120 §11.1 forbids every other entity. `at` is the ';'. */
  private decodeReference(s: string, at: number, body: string): string | null {
    switch (body) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
    }
    if (body.charCodeAt(0) === HASH) {
      let cp = -1;
      if (HEX_REF.test(body)) cp = Number.parseInt(body.slice(2), 16);
      else if (DECIMAL_REF.test(body)) cp = Number.parseInt(body.slice(1), 10);
      if (cp < 0) {
        this.fail(s, at, 'not-well-formed', `malformed character reference '&${body};'`);
        return null;
      }
      if (!isXmlChar(cp)) {
        this.fail(s, at, 'not-well-formed', `character reference '&${body};' is not a legal XML character`);
        return null;
      }
      return String.fromCodePoint(cp);
    }
    if (isName(body)) this.fail(s, at, 'restricted-xml', `entity reference '&${body};' is not allowed`);
    else this.fail(s, at, 'not-well-formed', `malformed entity reference '&${body};'`);
    return null;
  }

  /** XML 1.0 §2.8, RFC 6120 §11.5 and §11.6. `at` is the closing '>'. */
  private checkXmlDecl(s: string, at: number, body: string): boolean {
    if (!isXmlDeclTarget(body)) {
      this.fail(s, at, 'restricted-xml', 'processing instructions are not allowed');
      return false;
    }
    const match = XML_DECL_SYNTAX.exec(body);
    if (match === null) {
      this.fail(s, at, 'not-well-formed', 'malformed XML declaration');
      return false;
    }
    const encoding = match[3];
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      this.fail(s, at, 'unsupported-encoding', `encoding ${quoted(encoding)} is not supported; use UTF-8`);
      return false;
    }
    return true;
  }

  /** Stores an attribute of the tag being read, checking namespace declarations (Namespaces in
   * XML §3). `at` is the closing quote. */
  private setAttr(s: string, at: number, value: string): boolean {
    const name = this.attrName;
    if (name.startsWith('xmlns')) {
      if (name.length === 5) {
        if (value === XML_NS || value === XMLNS_NS) {
          this.fail(s, at, 'not-well-formed', `${value} cannot be the default namespace`);
          return false;
        }
      } else if (name.charCodeAt(5) === COLON) {
        const prefix = name.slice(6);
        let problem: string | undefined;
        if (prefix === 'xmlns') problem = "the prefix 'xmlns' cannot be declared";
        else if (prefix === 'xml') {
          if (value !== XML_NS) problem = "the prefix 'xml' cannot be bound to another namespace";
        } else if (value === '') problem = `namespace prefix ${quoted(prefix)} cannot be undeclared`;
        else if (value === XML_NS || value === XMLNS_NS) problem = `${value} cannot be bound to a prefix`;
        if (problem !== undefined) {
          this.fail(s, at, 'not-well-formed', problem);
          return false;
        }
      }
    }
    if (name === '__proto__')
      Object.defineProperty(this.attrs, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else this.attrs[name] = value;
    return true;
  }

  /** The namespace bound to a prefix at the tag being read: its own declarations, its ancestors', the header's. */
  private lookupPrefix(prefix: string, own: Attrs): string | undefined {
    const key = 'xmlns:' + prefix;
    const mine = own[key];
    if (mine !== undefined) return mine;
    const stack = this.stack;
    for (let k = stack.length - 1; k >= 0; k--) {
      const ns = stack[k].attrs[key];
      if (ns !== undefined) return ns;
    }
    return this.header?.[key];
  }

  /** Namespaces in XML §5 and §6.3 for a complete start tag. `at` is its '>'. */
  private checkNamespaces(s: string, at: number, name: string, attrs: Attrs): boolean {
    const colon = name.indexOf(':');
    if (colon > 0) {
      const prefix = name.slice(0, colon);
      if (prefix === 'xmlns') {
        this.fail(s, at, 'not-well-formed', "element names cannot use the prefix 'xmlns'");
        return false;
      }
      if (prefix !== 'xml' && this.lookupPrefix(prefix, attrs) === undefined) {
        this.fail(s, at, 'not-well-formed', `namespace prefix ${quoted(prefix)} is not declared`);
        return false;
      }
    }
    if (!this.hasPrefixedAttr) return true;
    let expandedNames: string[] | undefined;
    for (const key in attrs) {
      const c = key.indexOf(':');
      if (c < 0) continue;
      const prefix = key.slice(0, c);
      if (prefix === 'xmlns') continue;
      const ns = prefix === 'xml' ? XML_NS : this.lookupPrefix(prefix, attrs);
      if (ns === undefined) {
        this.fail(s, at, 'not-well-formed', `namespace prefix ${quoted(prefix)} is not declared`);
        return false;
      }
      const expanded = ns + ' ' + key.slice(c + 1);
      if (expandedNames === undefined) expandedNames = [expanded];
      else if (expandedNames.includes(expanded)) {
        this.fail(s, at, 'not-well-formed', `duplicate attribute ${quoted(key)} (same namespace and name)`);
        return false;
      } else expandedNames.push(expanded);
    }
    return true;
  }

  /** A start tag is complete; i is just past its '>'. True when run() must hand back control. */
  private endStartTag(s: string, i: number, selfClosing: boolean): boolean {
    const name = this.tagName;
    const attrs = this.attrs;
    if (!this.checkNamespaces(s, i - 1, name, attrs)) return true;
    if (this.header === null) return this.openStream(s, i, name, attrs, selfClosing);
    const el = new Element(name, attrs);
    const stack = this.stack;
    if (stack.length === 0) {
      const decls = this.inheritedDecls;
      for (let k = 0; k < decls.length; k += 2)
        if (attrs[decls[k]] === undefined) attrs[decls[k]] = decls[k + 1];
      if (selfClosing) return this.emit(s, i, el);
    } else {
      stack[stack.length - 1].append(el);
      if (selfClosing) {
        this.state = TEXT;
        return false;
      }
    }
    stack.push(el);
    this.state = TEXT;
    return false;
  }

  /** An end tag is complete; i is just past its '>'. True when run() must hand back control. */
  private endEndTag(s: string, i: number): boolean {
    const stack = this.stack;
    if (stack.length > 0) {
      const el = stack.pop()!;
      if (stack.length === 0) return this.emit(s, i, el);
      this.state = TEXT;
      return false;
    }
    if (!this.charge(s, i)) {
      this.fail(null, 0, 'policy-violation', this.budgetText());
      return true;
    }
    this.budgeted = false;
    this.state = CLOSED;
    this.handler.streamEnd();
    return true;
  }

  private openStream(s: string, i: number, name: string, attrs: Attrs, selfClosing: boolean): boolean {
    if (!this.charge(s, i)) {
      this.fail(null, 0, 'policy-violation', this.budgetText());
      return true;
    }
    const colon = name.indexOf(':');
    const ownDecl = colon < 0 ? '' : 'xmlns:' + name.slice(0, colon);
    const inherited: string[] = [];
    const declarations: Attrs = {};
    for (const key in attrs) {
      if (key !== 'xmlns' && !key.startsWith('xmlns:')) continue;
      const ns = ownCopy(attrs[key]!);
      declarations[key] = ns;
      if (key !== 'xmlns' && key !== ownDecl) inherited.push(key, ns);
    }
    this.header = declarations;
    this.streamName = ownCopy(name);
    this.inheritedDecls = inherited;
    this.budgeted = false;
    this.state = selfClosing ? CLOSED : STREAM;
    this.handler.streamStart(name, attrs);
    // The handler may have reset or stopped us.
    if (selfClosing && this.state === CLOSED) this.handler.streamEnd();
    return true;
  }

  /** A top-level element is complete; i is just past its end. */
  private emit(s: string, i: number, el: Element): boolean {
    if (!this.charge(s, i)) {
      this.fail(null, 0, 'policy-violation', this.budgetText());
      return true;
    }
    this.budgeted = false;
    this.state = STREAM;
    this.handler.stanza(el, this.topLevelNamespace(el));
    return true;
  }

  private topLevelNamespace(el: Element): string | undefined {
    const name = el.name;
    const colon = name.indexOf(':');
    const key = colon < 0 ? 'xmlns' : 'xmlns:' + name.slice(0, colon);
    const ns = Object.hasOwn(el.attrs, key) ? el.attrs[key] : this.header?.[key];
    return ns === '' ? undefined : ns;
  }
}

/** What stream headers usually hold (the element's name, the namespaces), kept as these constants. */
const HEADER_CONSTANTS = new Map<string, string>(
  ['stream:stream', NS.CLIENT, NS.SERVER, NS.COMPONENT, NS.STREAM, NS.DIALBACK].map((ns) => [ns, ns]),
);

/**
 * A string the parser keeps for a stream's life, detached from the input it was read from:
 * V8 slices substrings of 13 characters or more, so a kept slice would keep the whole chunk
 * of input it came from (a few hundred bytes per idle connection for the header).
 */
function ownCopy(value: string): string {
  return HEADER_CONSTANTS.get(value) ?? (value.length < 13 ? value : Buffer.from(value).toString());
}

function isXmlDeclTarget(body: string): boolean {
  return body.startsWith('xml') && (body.length === 3 || isSpace(body.charCodeAt(3)));
}
