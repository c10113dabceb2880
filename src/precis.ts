// String preparation for addresses and passwords.
//
// RFC 8264 (PRECIS framework): §8 derived property values, §9 code point categories,
//   the IdentifierClass (§4.2) and FreeformClass (§4.3).
// RFC 8265 (usernames and passwords): §3.3 UsernameCaseMapped profile, §4.2 OpaqueString profile.
// RFC 5892 Appendix A (the contextual rules PRECIS borrows from IDNA2008); RFC 5893 §2 (Bidi Rule).
// RFC 4013 (SASLprep) on RFC 3454 (stringprep), still what SCRAM (RFC 5802) and PLAIN use.
//
// Unicode data comes from the engine: regular-expression property escapes and
// String.prototype.normalize. JavaScript exposes no Bidi_Class, Canonical_Combining_Class,
// Joining_Type or Hangul_Syllable_Type, and no Unicode 3.2 tables for stringprep; where this
// module stands in for one of those, the comment at that place says how.

export class PrecisError extends Error {
  /** Why the string was refused, e.g. 'disallowed character U+0020' or 'empty'. */
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.name = 'PrecisError';
    this.reason = reason;
  }
}

function codePointName(cp: number): string {
  return 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------
// RFC 8264 §9: the categories. Each tests one code point, given as a one-code-point string.

/** §9.1 LetterDigits (A). */
const LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
/** §9.6 Exceptions (F): the table of RFC 5892 §2.6. */
const EXCEPTIONS = new Map<number, DerivedProperty>([
  ...[0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007].map((cp) => [cp, 'PVALID'] as const),
  ...[0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb].map((cp) => [cp, 'CONTEXTO'] as const),
  ...range(0x0660, 0x0669).map((cp) => [cp, 'CONTEXTO'] as const),
  ...range(0x06f0, 0x06f9).map((cp) => [cp, 'CONTEXTO'] as const),
  ...[0x0640, 0x07fa, 0x302e, 0x302f, 0x303b].map((cp) => [cp, 'DISALLOWED'] as const),
  ...range(0x3031, 0x3035).map((cp) => [cp, 'DISALLOWED'] as const),
]);
// §9.7 BackwardCompatible (G) is empty: no Unicode version has changed a derived value yet.
/** §9.8 JoinControl (H). */
const JOIN_CONTROL = /^\p{Join_Control}$/u;
/** §9.9 OldHangulJamo (I): Hangul_Syllable_Type L, V or T, written out as its ranges. */
const OLD_HANGUL_JAMO = /^[\u1100-\u11FF\uA960-\uA97C\uD7B0-\uD7C6\uD7CB-\uD7FB]$/u;
/** §9.10 Unassigned (J). */
const UNASSIGNED = /^(?!\p{Noncharacter_Code_Point})\p{Cn}$/u;
/** §9.11 ASCII7 (K). */
const ASCII7 = /^[\x21-\x7E]$/;
/** §9.12 Controls (L). */
const CONTROLS = /^\p{Cc}$/u;
/** §9.13 PrecisIgnorableProperties (M). */
const PRECIS_IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
/** §9.14 Spaces (N). */
const SPACES = /^\p{Zs}$/u;
/** §9.15 Symbols (O). */
const SYMBOLS = /^[\p{Sm}\p{Sc}\p{Sk}\p{So}]$/u;
/** §9.16 Punctuation (P). */
const PUNCTUATION = /^[\p{Pc}\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}]$/u;
/** §9.17 HasCompat (Q). */
const hasCompat = (ch: string): boolean => ch.normalize('NFKC') !== ch;
/** §9.18 OtherLetterDigits (R). */
const OTHER_LETTER_DIGITS = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;

function range(first: number, last: number): number[] {
  const out: number[] = [];
  for (let cp = first; cp <= last; cp++) out.push(cp);
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 8264 §8: the derived property value of a code point.

/**
 * FREE_PVAL stands for the pair the RFC writes "ID_DIS or FREE_PVAL": disallowed in the
 * IdentifierClass, valid in the FreeformClass.
 */
type DerivedProperty = 'PVALID' | 'FREE_PVAL' | 'CONTEXTJ' | 'CONTEXTO' | 'DISALLOWED' | 'UNASSIGNED';

function deriveProperty(ch: string, cp: number): DerivedProperty {
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  if (UNASSIGNED.test(ch)) return 'UNASSIGNED';
  if (ASCII7.test(ch)) return 'PVALID';
  if (JOIN_CONTROL.test(ch)) return 'CONTEXTJ';
  if (OLD_HANGUL_JAMO.test(ch)) return 'DISALLOWED';
  if (PRECIS_IGNORABLE.test(ch)) return 'DISALLOWED';
  if (CONTROLS.test(ch)) return 'DISALLOWED';
  if (hasCompat(ch)) return 'FREE_PVAL';
  if (LETTER_DIGITS.test(ch)) return 'PVALID';
  if (OTHER_LETTER_DIGITS.test(ch)) return 'FREE_PVAL';
  if (SPACES.test(ch)) return 'FREE_PVAL';
  if (SYMBOLS.test(ch)) return 'FREE_PVAL';
  if (PUNCTUATION.test(ch)) return 'FREE_PVAL';
  return 'DISALLOWED';
}

// Deriving a value costs a dozen regular-expression tests; non-ASCII text tends to repeat the
// same few hundred code points, so remember them. Bounded so that hostile input cannot grow it.
const MAX_REMEMBERED_PROPERTIES = 1 << 16;
const rememberedProperties = new Map<number, DerivedProperty>();

function derivedProperty(ch: string, cp: number): DerivedProperty {
  let value = rememberedProperties.get(cp);
  if (value === undefined) {
    value = deriveProperty(ch, cp);
    if (rememberedProperties.size < MAX_REMEMBERED_PROPERTIES) rememberedProperties.set(cp, value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// RFC 5892 Appendix A: the contextual rules for CONTEXTJ and CONTEXTO code points.

/**
 * Canonical_Combining_Class Virama (9), written out from the Unicode 14 data because
 * JavaScript cannot query combining classes. Viramas added later are refused after a joiner.
 */
const VIRAMA = new RegExp(
  '^[\\u094D\\u09CD\\u0A4D\\u0ACD\\u0B4D\\u0BCD\\u0C4D\\u0CCD\\u0D3B\\u0D3C\\u0D4D\\u0DCA\\u0E3A\\u0EBA' +
    '\\u0F84\\u1039\\u103A\\u1714\\u1715\\u1734\\u17D2\\u1A60\\u1B44\\u1BAA\\u1BAB\\u1BF2\\u1BF3\\u2D7F' +
    '\\uA806\\uA82C\\uA8C4\\uA953\\uA9C0\\uAAF6\\uABED\\u{10A3F}\\u{11046}\\u{11070}\\u{1107F}\\u{110B9}' +
    '\\u{11133}\\u{11134}\\u{111C0}\\u{11235}\\u{112EA}\\u{1134D}\\u{11442}\\u{114C2}\\u{115BF}\\u{1163F}' +
    '\\u{116B6}\\u{1172B}\\u{11839}\\u{1193D}\\u{1193E}\\u{119E0}\\u{11A34}\\u{11A47}\\u{11A99}\\u{11C3F}' +
    '\\u{11D44}\\u{11D45}\\u{11D97}]$',
  'u',
);

// Rule A.1 asks for Joining_Type, which JavaScript does not expose. Stand-ins: a transparent
// code point (T) is a mark or a format character other than the joiners themselves; a joining
// one (L, D or R) is a letter of a script written with cursive joining. This accepts a few
// strings the exact rule refuses: a ZWNJ next to a right-joining or non-joining letter of
// those scripts, where the rule wants a left- or dual-joining one.
const JOINING_TRANSPARENT = /^(?!\p{Join_Control})[\p{Mn}\p{Me}\p{Cf}]$/u;
/** Scripts written with cursive joining, whose letters have a Joining_Type of L, D or R. */
const JOINING_SCRIPTS = (
  'Arabic Syriac Nko Mandaic Mongolian Phags_Pa Manichaean Psalter_Pahlavi Adlam Hanifi_Rohingya ' +
  'Sogdian Old_Uyghur Chorasmian'
).split(' ');
const JOINING_LETTER = new RegExp(
  '^(?=\\p{L})[' + JOINING_SCRIPTS.map((sc) => `\\p{Script_Extensions=${sc}}`).join('') + ']$',
  'u',
);
const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const HIRAGANA_KATAKANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;
const ARABIC_INDIC_DIGIT = /[\u0660-\u0669]/;
const EXTENDED_ARABIC_INDIC_DIGIT = /[\u06F0-\u06F9]/;

/**
 * What rules A.7 to A.9 ask about the whole string, answered once per string: asking at every
 * such code point would make a string of thousands of them cost quadratic time.
 */
class WholeString {
  private japanese: boolean | undefined;
  private arabicIndic: boolean | undefined;
  private extendedArabicIndic: boolean | undefined;

  constructor(readonly text: string) {}

  /** A.7: a Hiragana, Katakana or Han code point other than KATAKANA MIDDLE DOT itself. */
  get hasJapaneseScript(): boolean {
    this.japanese ??= HIRAGANA_KATAKANA_HAN.test(this.text.replaceAll('\u30FB', ''));
    return this.japanese;
  }

  get hasArabicIndicDigit(): boolean {
    this.arabicIndic ??= ARABIC_INDIC_DIGIT.test(this.text);
    return this.arabicIndic;
  }

  get hasExtendedArabicIndicDigit(): boolean {
    this.extendedArabicIndic ??= EXTENDED_ARABIC_INDIC_DIGIT.test(this.text);
    return this.extendedArabicIndic;
  }
}

/** Whether the CONTEXTJ or CONTEXTO code point at chars[i] is allowed where it stands. */
function contextAllows(chars: string[], i: number, whole: WholeString): boolean {
  const cp = chars[i]!.codePointAt(0)!;
  const before = i > 0 ? chars[i - 1]! : '';
  const after = i + 1 < chars.length ? chars[i + 1]! : '';
  switch (cp) {
    case 0x200c: // A.1 ZERO WIDTH NON-JOINER
      return VIRAMA.test(before) || joinsAcross(chars, i);
    case 0x200d: // A.2 ZERO WIDTH JOINER
      return VIRAMA.test(before);
    case 0x00b7: // A.3 MIDDLE DOT
      return before === 'l' && after === 'l';
    case 0x0375: // A.4 GREEK LOWER NUMERAL SIGN (KERAIA)
      return GREEK.test(after);
    case 0x05f3: // A.5 HEBREW PUNCTUATION GERESH
    case 0x05f4: // A.6 HEBREW PUNCTUATION GERSHAYIM
      return HEBREW.test(before);
    case 0x30fb: // A.7 KATAKANA MIDDLE DOT
      return whole.hasJapaneseScript;
    default:
      if (cp >= 0x0660 && cp <= 0x0669) return !whole.hasExtendedArabicIndicDigit; // A.8
      if (cp >= 0x06f0 && cp <= 0x06f9) return !whole.hasArabicIndicDigit; // A.9
      return false;
  }
}

/** The second half of rule A.1: (L|D) T* ZWNJ T* (R|D), with the stand-ins above. */
function joinsAcross(chars: string[], i: number): boolean {
  let left = i - 1;
  while (left >= 0 && JOINING_TRANSPARENT.test(chars[left]!)) left--;
  let right = i + 1;
  while (right < chars.length && JOINING_TRANSPARENT.test(chars[right]!)) right++;
  return (
    left >= 0 &&
    right < chars.length &&
    JOINING_LETTER.test(chars[left]!) &&
    JOINING_LETTER.test(chars[right]!)
  );
}

// ---------------------------------------------------------------------------------------------
// RFC 8264 §4.2 IdentifierClass, §4.3 FreeformClass: the behavioral rules, applied last.

type StringClass = 'identifier' | 'freeform';

function enforceClass(chars: string[], joined: string, stringClass: StringClass): void {
  let whole: WholeString | undefined;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const cp = ch.codePointAt(0)!;
    switch (derivedProperty(ch, cp)) {
      case 'PVALID':
        continue;
      case 'FREE_PVAL':
        if (stringClass === 'freeform') continue;
        break;
      case 'CONTEXTJ':
      case 'CONTEXTO':
        whole ??= new WholeString(joined);
        if (contextAllows(chars, i, whole)) continue;
        throw new PrecisError(`character ${codePointName(cp)} not allowed in this context`);
      case 'UNASSIGNED':
        throw new PrecisError(`unassigned character ${codePointName(cp)}`);
      case 'DISALLOWED':
        break;
    }
    throw new PrecisError(`disallowed character ${codePointName(cp)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Bidi_Class, which JavaScript does not expose, approximated from general categories, scripts
// and short lists of the weak classes (written out from the Unicode 14 data). Checked against
// that data: of the code points the IdentifierClass allows, six differ (marks of Kannada and
// a few other Brahmic scripts); of all assigned code points, about 3,000 do, nearly all symbols and
// punctuation of class L (APL, Tibetan, Indic signs) that count as ON here. Those matter only
// to SASLprep, where counting them neutral lets a password mix them with right-to-left text.

/** R and AL are one class here: neither the Bidi Rule nor stringprep tells them apart. */
type BidiClass = 'L' | 'R' | 'AN' | 'EN' | 'ES' | 'CS' | 'ET' | 'ON' | 'BN' | 'NSM' | 'OTHER';

const BIDI_AN =
  /^[\u0600-\u0605\u0660-\u0669\u066B\u066C\u06DD\u0890\u0891\u08E2\u{10D30}-\u{10D39}\u{10E60}-\u{10E7E}]$/u;
const BIDI_EN =
  /^[0-9\u00B2\u00B3\u00B9\u06F0-\u06F9\u2070\u2074-\u2079\u2080-\u2089\u2488-\u249B\uFF10-\uFF19\u{102E1}-\u{102FB}\u{1D7CE}-\u{1D7FF}\u{1F100}-\u{1F10A}\u{1FBF0}-\u{1FBF9}]$/u;
const BIDI_ES = /^[+\-\u207A\u207B\u208A\u208B\u2212\uFB29\uFE62\uFE63\uFF0B\uFF0D]$/;
const BIDI_CS = /^[,./:\u00A0\u060C\u202F\u2044\uFE50\uFE52\uFE55\uFF0C\uFF0E\uFF0F\uFF1A]$/;
const BIDI_ET =
  /^[#$%\u00A2-\u00A5\u00B0\u00B1\u058F\u0609\u060A\u066A\u09F2\u09F3\u09FB\u0AF1\u0BF9\u0E3F\u17DB\u2030-\u2034\u20A0-\u20CF\u212E\u2213\uA838\uA839\uFE5F\uFE69\uFE6A\uFF03-\uFF05\uFFE0\uFFE1\uFFE5\uFFE6\u{11FDD}-\u{11FE0}\u{1E2FF}]$/u;
/** Separators and the explicit embedding, override and isolate controls: never allowed by the rule. */
const BIDI_OTHER = /^[\p{Zs}\p{Zl}\p{Zp}\t-\r\x1C-\x1F\x85\u202A-\u202E\u2066-\u2069]$/u;
const BIDI_NSM = /^[\p{Mn}\p{Me}]$/u;
/** Class R or AL though not letters of a right-to-left script (marks, punctuation, symbols). */
const BIDI_RTL_LISTED = /^[\u200F\u061C\u061B\u061F\u0640\u06FD\u06FE]$/;
/** Modifier letters of class ON, which the letter test below would call L. */
const BIDI_ON_LETTERS = /^[\u02B9\u02BA\u02C6-\u02CF\u02EC\u2E2F\uA67F\uA717-\uA71F\uA788]$/;
/** Scripts written right to left: their letters, digits and punctuation are R or AL. */
const RIGHT_TO_LEFT_SCRIPTS = (
  'Adlam Arabic Avestan Chorasmian Cypriot Elymaic Hanifi_Rohingya Hatran Hebrew Imperial_Aramaic ' +
  'Inscriptional_Pahlavi Inscriptional_Parthian Kharoshthi Lydian Mandaic Manichaean Mende_Kikakui ' +
  'Meroitic_Cursive Meroitic_Hieroglyphs Nabataean Nko Old_Hungarian Old_North_Arabian Old_Sogdian ' +
  'Old_South_Arabian Old_Turkic Old_Uyghur Palmyrene Phoenician Psalter_Pahlavi Samaritan Sogdian ' +
  'Syriac Thaana Yezidi'
).split(' ');
const BIDI_RTL = new RegExp(
  '^(?=[\\p{L}\\p{N}\\p{P}\\p{Cf}])[' +
    RIGHT_TO_LEFT_SCRIPTS.map((sc) => `\\p{Script=${sc}}`).join('') +
    ']$',
  'u',
);
const BIDI_L = /^[\p{L}\p{Mc}\p{Nd}\p{Nl}\p{Co}\u200E\u0F0B]$/u;
const BIDI_BN = /^[\p{Cf}\p{Cc}\p{Noncharacter_Code_Point}]$/u;

function bidiClass(ch: string): BidiClass {
  if (BIDI_AN.test(ch)) return 'AN';
  if (BIDI_EN.test(ch)) return 'EN';
  if (BIDI_ES.test(ch)) return 'ES';
  if (BIDI_CS.test(ch)) return 'CS';
  if (BIDI_ET.test(ch)) return 'ET';
  if (BIDI_OTHER.test(ch)) return 'OTHER';
  if (BIDI_NSM.test(ch)) return 'NSM';
  if (BIDI_RTL_LISTED.test(ch) || BIDI_RTL.test(ch)) return 'R';
  if (BIDI_ON_LETTERS.test(ch)) return 'ON';
  if (BIDI_L.test(ch)) return 'L';
  if (BIDI_BN.test(ch)) return 'BN';
  return 'ON';
}

// A dozen regular-expression tests per code point, and right-to-left text repeats a few
// hundred code points: remember them, as derivedProperty does.
const rememberedBidiClasses = new Map<number, BidiClass>();

function cachedBidiClass(ch: string): BidiClass {
  const cp = ch.codePointAt(0)!;
  let value = rememberedBidiClasses.get(cp);
  if (value === undefined) {
    value = bidiClass(ch);
    if (rememberedBidiClasses.size < MAX_REMEMBERED_PROPERTIES) rememberedBidiClasses.set(cp, value);
  }
  return value;
}

/** Any code point of class R, AL or AN, cheaply: the right-to-left scripts' blocks. */
const MAYBE_RTL = /[\u0590-\u08FF\u200F\uFB1D-\uFDFF\uFE70-\uFEFF\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;

/**
 * RFC 5893 §2, the Bidi Rule, for strings that contain right-to-left code points (R, AL or AN,
 * the RFC's "RTL label"). A left-to-right string is left alone, as RFC 8265 §3.3.5 directs.
 */
function enforceBidiRule(chars: string[], joined: string): void {
  if (!MAYBE_RTL.test(joined)) return;
  const classes = chars.map(cachedBidiClass);
  if (!classes.some((c) => c === 'R' || c === 'AN')) return;
  // Condition 1: an RTL string starts with R or AL (an L start would make condition 5
  // refuse the right-to-left code points the string is known to hold).
  if (classes[0] !== 'R') throw new PrecisError('bidi rule: must start with a right-to-left letter');
  let hasEN = false;
  let hasAN = false;
  for (const c of classes) {
    // Condition 2: only these classes in an RTL string.
    if (c === 'L' || c === 'OTHER') throw new PrecisError('bidi rule: mixes directions');
    if (c === 'EN') hasEN = true;
    if (c === 'AN') hasAN = true;
  }
  // Condition 4: European and Arabic-Indic digits do not mix.
  if (hasEN && hasAN) throw new PrecisError('bidi rule: mixes European and Arabic-Indic digits');
  // Condition 3: the end, before any trailing NSM, is R, AL, EN or AN.
  let last = classes.length - 1;
  while (last > 0 && classes[last] === 'NSM') last--;
  const end = classes[last];
  if (end !== 'R' && end !== 'EN' && end !== 'AN') throw new PrecisError('bidi rule: bad ending');
}

// ---------------------------------------------------------------------------------------------
// RFC 8265 §3.3: the UsernameCaseMapped profile of the IdentifierClass.

/** Printable ASCII without space: every code point is ASCII7, so PVALID, and nothing is right-to-left. */
const ASCII_IDENTIFIER = /^[\x21-\x7E]+$/;
const ASCII_UPPER = /[A-Z]/;
/** Code points with a <wide> or <narrow> decomposition (UAX #11): U+3000 and the FFxx forms. */
const WIDE_OR_NARROW = /[\u3000\uFF01-\uFFEE]/g;
const toDecomposition = (ch: string): string => ch.normalize('NFKC');

export function prepareUsernameCaseMapped(s: string): string {
  if (ASCII_IDENTIFIER.test(s)) return ASCII_UPPER.test(s) ? s.toLowerCase() : s;
  if (s.length === 0) throw new PrecisError('empty');
  const prepared = s
    .replace(WIDE_OR_NARROW, toDecomposition) // §3.3.1 width mapping
    .toLowerCase() // §3.3.3 case mapping (Unicode toLowerCase, with final sigma)
    .normalize('NFC'); // §3.3.4
  const chars = Array.from(prepared);
  // RFC 8264 §7 puts the directionality rule before the class check; both must pass, and
  // checking the class first gives the more useful reason when both fail.
  enforceClass(chars, prepared, 'identifier');
  enforceBidiRule(chars, prepared); // §3.3.5
  return prepared;
}

// ---------------------------------------------------------------------------------------------
// RFC 8265 §4.2: the OpaqueString profile of the FreeformClass.

const ASCII_FREEFORM = /^[\x20-\x7E]+$/;
const NON_ASCII_SPACE = /(?!\x20)\p{Zs}/gu;

export function prepareOpaqueString(s: string): string {
  if (ASCII_FREEFORM.test(s)) return s;
  if (s.length === 0) throw new PrecisError('empty');
  const prepared = s
    .replace(NON_ASCII_SPACE, ' ') // §4.2.2 additional mapping
    .normalize('NFC'); // §4.2.4
  enforceClass(Array.from(prepared), prepared, 'freeform');
  return prepared;
}

// ---------------------------------------------------------------------------------------------
// RFC 4013: SASLprep, the stringprep (RFC 3454) profile for user names and passwords.
//
// Approximations of the Unicode 3.2 tables stringprep is defined on: normalization and the
// unassigned test (A.1) use the engine's current Unicode, so code points assigned after 3.2
// count as assigned; D.1 and D.2 come from the Bidi_Class approximation above. The B.1 and
// C tables are small and written out exactly.

/** Printable ASCII: nothing to map, normalize or prohibit, and nothing right-to-left. */
const ASCII_PRINTABLE = /^[\x20-\x7E]*$/;
/** C.1.2 non-ASCII space characters, mapped to SPACE (§2.1). */
const SASL_NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
/**
 * B.1 commonly mapped to nothing (§2.1). U+200B is in both tables; the space mapping runs
 * first, so it becomes a space, as RFC 4013 lists the two mappings in that order.
 */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: single code points, each removed on its own
const SASL_MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
/** §2.3 prohibited output, one table per line. */
const SASL_PROHIBITED = new RegExp(
  '[' +
    [
      '\\u00A0\\u1680\\u2000-\\u200B\\u202F\\u205F\\u3000', // C.1.2 non-ASCII space
      '\\x00-\\x1F\\x7F', // C.2.1 ASCII control
      '\\x80-\\x9F\\u06DD\\u070F\\u180E\\u200C\\u200D\\u2028\\u2029\\u2060-\\u2063\\u206A-\\u206F' +
        '\\uFEFF\\uFFF9-\\uFFFC\\u{1D173}-\\u{1D17A}', // C.2.2 non-ASCII control
      '\\p{Co}', // C.3 private use (exactly the planes 0, 15 and 16 ranges)
      '\\p{Noncharacter_Code_Point}', // C.4 non-character code points
      '\\p{Cs}', // C.5 surrogate codes (a lone surrogate in a JavaScript string)
      '\\uFFF9-\\uFFFD', // C.6 inappropriate for plain text
      '\\u2FF0-\\u2FFB', // C.7 inappropriate for canonical representation
      '\\u0340\\u0341\\u200E\\u200F\\u202A-\\u202E\\u206A-\\u206F', // C.8 display properties, deprecated
      '\\u{E0001}\\u{E0020}-\\u{E007F}', // C.9 tagging characters
    ].join('') +
    ']',
  'u',
);
const SASL_UNASSIGNED = /\p{Cn}/u;

export function saslprep(s: string, opts: { allowUnassigned?: boolean } = {}): string {
  if (ASCII_PRINTABLE.test(s)) return s;
  const prepared = s
    .replace(SASL_NON_ASCII_SPACE, ' ') // §2.1
    .replace(SASL_MAPPED_TO_NOTHING, '') // §2.1
    .normalize('NFKC'); // §2.2
  const prohibited = SASL_PROHIBITED.exec(prepared);
  if (prohibited !== null) {
    throw new PrecisError(`prohibited character ${codePointName(prohibited[0].codePointAt(0)!)}`);
  }
  if (!opts.allowUnassigned) {
    // §2.5: stored strings refuse unassigned code points; queries may allow them.
    const unassigned = SASL_UNASSIGNED.exec(prepared);
    if (unassigned !== null) {
      throw new PrecisError(`unassigned character ${codePointName(unassigned[0].codePointAt(0)!)}`);
    }
  }
  enforceStringprepBidi(prepared); // §2.4
  return prepared;
}

/** RFC 3454 §6: RandALCat text holds no LCat, and starts and ends with RandALCat. */
function enforceStringprepBidi(s: string): void {
  if (!MAYBE_RTL.test(s)) return;
  const classes = Array.from(s, cachedBidiClass);
  if (!classes.includes('R')) return;
  if (classes.includes('L')) throw new PrecisError('bidi: mixes right-to-left and left-to-right');
  if (classes[0] !== 'R' || classes[classes.length - 1] !== 'R') {
    throw new PrecisError('bidi: right-to-left text must start and end with a right-to-left character');
  }
}
