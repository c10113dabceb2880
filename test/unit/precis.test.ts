import { expect } from 'chai';
import { PrecisError, prepareOpaqueString, prepareUsernameCaseMapped, saslprep } from '../../src/precis.js';

type Outcome = { out: string } | { reason: string };

function outcome(prepare: (s: string) => string, input: string): Outcome {
  try {
    return { out: prepare(input) };
  } catch (err) {
    if (err instanceof PrecisError) return { reason: err.reason };
    throw err;
  }
}

function runTable(prepare: (s: string) => string, rows: ReadonlyArray<[string, Outcome, string]>): void {
  for (const [input, expected, note] of rows) {
    it(`${JSON.stringify(input)}: ${note}`, () => {
      expect(outcome(prepare, input)).to.deep.equal(expected);
    });
  }
}

describe('precis', () => {
  describe('prepareUsernameCaseMapped: the examples of RFC 8265 §3.5', () => {
    runTable(prepareUsernameCaseMapped, [
      ['juliet@example.com', { out: 'juliet@example.com' }, '1: "@" is allowed by the profile'],
      ['fussball', { out: 'fussball' }, '2: plain ASCII'],
      ['fu\u00DFball', { out: 'fu\u00DFball' }, '3: sharp s is kept, not mapped to "ss"'],
      ['\u03C0', { out: '\u03C0' }, '4: Greek small pi'],
      ['\u03A3', { out: '\u03C3' }, '5: capital sigma is lower-cased'],
      ['\u03C3', { out: '\u03C3' }, '6: small sigma'],
      ['\u03C2', { out: '\u03C2' }, '7: final sigma stays final sigma'],
      ['foo bar', { reason: 'disallowed character U+0020' }, '8: space is not in the IdentifierClass'],
      ['', { reason: 'empty' }, '9: zero length'],
      [
        'henry\u2163',
        { reason: 'disallowed character U+2173' },
        '10: a Roman numeral has a compatibility form',
      ],
      ['\u265A', { reason: 'disallowed character U+265A' }, '11: symbols are not in the IdentifierClass'],
    ]);
  });

  describe('prepareUsernameCaseMapped: mapping rules', () => {
    runTable(prepareUsernameCaseMapped, [
      ['Juliet', { out: 'juliet' }, 'ASCII is lower-cased'],
      ['juliet', { out: 'juliet' }, 'lower-case ASCII is unchanged'],
      ['!#$%&*+-.=?^_`{|}~', { out: '!#$%&*+-.=?^_`{|}~' }, 'ASCII punctuation is ASCII7, so valid'],
      ['\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34', { out: 'juliet' }, 'fullwidth letters are width-mapped'],
      ['\uFF76\uFF9E', { out: '\u30AC' }, 'halfwidth katakana and voiced mark become one katakana'],
      ['\u3000', { reason: 'disallowed character U+0020' }, 'ideographic space width-maps to a space'],
      ['\u00C5', { out: '\u00E5' }, 'capital A with ring above is lower-cased'],
      ['A\u030A', { out: '\u00E5' }, 'lower-cased then composed (NFC)'],
      ['\u212B', { out: '\u00E5' }, 'Angstrom sign: NFC gives a with ring'],
      ['\u0130', { out: 'i\u0307' }, 'capital I with dot above lower-cases to i and a combining dot'],
      ['\u039F\u03A3', { out: '\u03BF\u03C2' }, 'a word-final capital sigma becomes final sigma'],
      ['\u0410', { out: '\u0430' }, 'Cyrillic capital A is lower-cased, not confused with Latin a'],
    ]);
  });

  describe('prepareUsernameCaseMapped: IdentifierClass (RFC 8264 §8, §9)', () => {
    runTable(prepareUsernameCaseMapped, [
      ['\uFB00', { reason: 'disallowed character U+FB00' }, 'HasCompat (Q): ligature ff'],
      ['\u03D2', { reason: 'disallowed character U+03D2' }, 'HasCompat (Q): upsilon with hook symbol'],
      ['\u00B2', { reason: 'disallowed character U+00B2' }, 'HasCompat (Q): superscript two'],
      [
        '\u01C5',
        { reason: 'disallowed character U+01C6' },
        'titlecase Dz lower-cases to a compatibility digraph',
      ],
      ['\u16EE', { reason: 'disallowed character U+16EE' }, 'OtherLetterDigits (R): letter number'],
      ['\u0488', { reason: 'disallowed character U+0488' }, 'OtherLetterDigits (R): enclosing mark'],
      ['a\u00A0b', { reason: 'disallowed character U+00A0' }, 'HasCompat (Q): no-break space'],
      ['a\u2009b', { reason: 'disallowed character U+2009' }, 'HasCompat (Q): thin space'],
      ['a\u2010b', { reason: 'disallowed character U+2010' }, 'Punctuation (P): hyphen'],
      ['a\u00ADb', { reason: 'disallowed character U+00AD' }, 'PrecisIgnorableProperties (M): soft hyphen'],
      ['a\uFDD0', { reason: 'disallowed character U+FDD0' }, 'PrecisIgnorableProperties (M): noncharacter'],
      ['a\u0007', { reason: 'disallowed character U+0007' }, 'Controls (L)'],
      ['a\u0085', { reason: 'disallowed character U+0085' }, 'Controls (L), beyond ASCII'],
      ['\u1100', { reason: 'disallowed character U+1100' }, 'OldHangulJamo (I), alone'],
      ['\u1100\u1161', { out: '\uAC00' }, 'jamo that compose to a syllable are fine'],
      ['\uE000', { reason: 'disallowed character U+E000' }, 'private use'],
      ['\uD800', { reason: 'disallowed character U+D800' }, 'a lone surrogate'],
      ['a\u0378', { reason: 'unassigned character U+0378' }, 'Unassigned (J)'],
      ['\u0640', { reason: 'disallowed character U+0640' }, 'Exceptions (F): tatweel is DISALLOWED'],
      ['\u3007', { out: '\u3007' }, 'Exceptions (F): ideographic zero is PVALID'],
      ['\u4E2D\u6587', { out: '\u4E2D\u6587' }, 'LetterDigits (A): Han'],
      ['\u0915\u093F', { out: '\u0915\u093F' }, 'LetterDigits (A): a spacing mark'],
      ['\u0628\u0661\u0662', { out: '\u0628\u0661\u0662' }, 'Exceptions (F): Arabic-Indic digits in context'],
      ['\u{1D400}', { reason: 'disallowed character U+1D400' }, 'HasCompat (Q) outside the BMP'],
      ['\u{20000}', { out: '\u{20000}' }, 'LetterDigits (A) outside the BMP'],
    ]);
  });

  describe('prepareUsernameCaseMapped: contextual rules (RFC 5892 Appendix A)', () => {
    runTable(prepareUsernameCaseMapped, [
      ['\u0915\u094D\u200C', { out: '\u0915\u094D\u200C' }, 'A.1: ZWNJ after a virama'],
      ['\u0628\u200C\u0627', { out: '\u0628\u200C\u0627' }, 'A.1: ZWNJ between joining letters'],
      ['\u0628\u0610\u200C\u0610\u0627', { out: '\u0628\u0610\u200C\u0610\u0627' }, 'A.1: transparent marks'],
      ['a\u200Cb', { reason: 'character U+200C not allowed in this context' }, 'A.1: ZWNJ in Latin'],
      ['\u200C\u0627', { reason: 'character U+200C not allowed in this context' }, 'A.1: nothing before'],
      ['\u0915\u094D\u200D', { out: '\u0915\u094D\u200D' }, 'A.2: ZWJ after a virama'],
      ['\u0628\u200D\u0627', { reason: 'character U+200D not allowed in this context' }, 'A.2: no virama'],
      ['l\u00B7l', { out: 'l\u00B7l' }, 'A.3: middle dot between two l'],
      ['L\u00B7L', { out: 'l\u00B7l' }, 'A.3: checked after lower-casing'],
      ['a\u00B7l', { reason: 'character U+00B7 not allowed in this context' }, 'A.3: not after l'],
      ['\u0375\u03B1', { out: '\u0375\u03B1' }, 'A.4: keraia before Greek'],
      ['\u0375a', { reason: 'character U+0375 not allowed in this context' }, 'A.4: keraia before Latin'],
      ['\u05D0\u05F3', { out: '\u05D0\u05F3' }, 'A.5: geresh after Hebrew'],
      ['\u05D0\u05F4', { out: '\u05D0\u05F4' }, 'A.6: gershayim after Hebrew'],
      ['\u05F4', { reason: 'character U+05F4 not allowed in this context' }, 'A.6: gershayim alone'],
      ['\u30A2\u30FB\u30A4', { out: '\u30A2\u30FB\u30A4' }, 'A.7: katakana middle dot with katakana'],
      ['a\u30FBb', { reason: 'character U+30FB not allowed in this context' }, 'A.7: with Latin only'],
      ['\u06F1\u06F2', { out: '\u06F1\u06F2' }, 'A.9: extended Arabic-Indic digits alone'],
      ['\u0661\u06F1', { reason: 'character U+0661 not allowed in this context' }, 'A.8/A.9: mixed digits'],
    ]);
  });

  describe('contextual rules on long strings', () => {
    const long: Array<[string, string, Outcome]> = [
      [
        'A.7: a thousand middle dots',
        `\u30A2${'\u30FB'.repeat(1000)}`,
        { out: `\u30A2${'\u30FB'.repeat(1000)}` },
      ],
      ['A.8: a thousand digits', `\u0627${'\u0661'.repeat(1000)}`, { out: `\u0627${'\u0661'.repeat(1000)}` }],
      [
        'A.8/A.9: a thousand digits, one of them extended',
        `\u0627${'\u0661'.repeat(1000)}\u06F1`,
        { reason: 'character U+0661 not allowed in this context' },
      ],
    ];
    for (const [note, input, expected] of long) {
      it(note, () => {
        expect(outcome(prepareUsernameCaseMapped, input)).to.deep.equal(expected);
      });
    }

    it('looks at the whole string once for A.7, not once per middle dot (no quadratic work)', () => {
      // A resourcepart of thousands of middle dots took a third of a second to refuse or accept
      // when the whole string was searched again at each of them.
      const replaceAll = String.prototype.replaceAll;
      let calls = 0;
      String.prototype.replaceAll = function (this: string, ...args: Parameters<string['replaceAll']>) {
        calls++;
        return replaceAll.apply(this, args);
      } as typeof replaceAll;
      try {
        prepareOpaqueString(`\u30A2${'\u30FB'.repeat(1000)}`);
      } finally {
        String.prototype.replaceAll = replaceAll;
      }
      expect(calls).to.equal(1);
    });
  });

  describe('prepareUsernameCaseMapped: the Bidi Rule (RFC 5893 §2)', () => {
    runTable(prepareUsernameCaseMapped, [
      ['\u05E9\u05DC\u05D5\u05DD', { out: '\u05E9\u05DC\u05D5\u05DD' }, 'Hebrew'],
      ['\u0633\u0644\u0627\u0645', { out: '\u0633\u0644\u0627\u0645' }, 'Arabic'],
      ['\u05D0\u05B0', { out: '\u05D0\u05B0' }, 'ends in a non-spacing mark after R'],
      ['\u05D0123', { out: '\u05D0123' }, 'ends in European digits'],
      ['\u0627\u0661', { out: '\u0627\u0661' }, 'ends in an Arabic-Indic digit'],
      ['\u05D0-\u05D1', { out: '\u05D0-\u05D1' }, 'a separator inside'],
      ['\u05D0a', { reason: 'bidi rule: mixes directions' }, 'right-to-left then Latin'],
      ['a\u05D0', { reason: 'bidi rule: must start with a right-to-left letter' }, 'Latin then Hebrew'],
      ['1\u05D0', { reason: 'bidi rule: must start with a right-to-left letter' }, 'starts with a digit'],
      ['\u0661', { reason: 'bidi rule: must start with a right-to-left letter' }, 'an AN digit alone'],
      ['\u05D0-', { reason: 'bidi rule: bad ending' }, 'ends in a separator'],
      ['\u0627\u0661\u0031', { reason: 'bidi rule: mixes European and Arabic-Indic digits' }, 'EN with AN'],
      ['abc123', { out: 'abc123' }, 'left-to-right strings are not checked'],
      ['123', { out: '123' }, 'nor are digits alone'],
    ]);
  });

  describe('prepareOpaqueString: the examples of RFC 8265 §4.3', () => {
    runTable(prepareOpaqueString, [
      ['correct horse battery staple', { out: 'correct horse battery staple' }, '12: ASCII spaces'],
      ['Correct Horse Battery Staple', { out: 'Correct Horse Battery Staple' }, '13: case is kept'],
      ['\u03C0\u00DF\u00E5', { out: '\u03C0\u00DF\u00E5' }, '14: non-ASCII letters'],
      ['Jack of \u2666s', { out: 'Jack of \u2666s' }, '15: symbols are in the FreeformClass'],
      ['foo\u1680bar', { out: 'foo bar' }, '16: a non-ASCII space becomes a space'],
      ['my cat is a \u0009by', { reason: 'disallowed character U+0009' }, '17: controls are not'],
    ]);
  });

  describe('prepareOpaqueString: mapping and FreeformClass', () => {
    runTable(prepareOpaqueString, [
      ['', { reason: 'empty' }, 'zero length'],
      [' ', { out: ' ' }, 'a single space is a string'],
      ['  Swan  of   Avon   ', { out: '  Swan  of   Avon   ' }, 'spaces are kept as they are'],
      ['a\u00A0b\u2000c\u3000d', { out: 'a b c d' }, 'every non-ASCII space maps to U+0020'],
      ['\uFF21\uFF22', { out: '\uFF21\uFF22' }, 'no width mapping'],
      ['Richard \u2163', { out: 'Richard \u2163' }, 'no compatibility mapping: HasCompat is valid'],
      ['\u01C5', { out: '\u01C5' }, 'titlecase is valid and not case-mapped'],
      ['A\u030A', { out: '\u00C5' }, 'NFC'],
      ['\u212B', { out: '\u00C5' }, 'NFC maps the Angstrom sign'],
      ['\u05E9a', { out: '\u05E9a' }, 'no Bidi Rule'],
      [
        'a\u200Db',
        { reason: 'character U+200D not allowed in this context' },
        'JoinControl (H) keeps its rule',
      ],
      ['a\u00ADb', { reason: 'disallowed character U+00AD' }, 'PrecisIgnorableProperties (M)'],
      ['a\u007F', { reason: 'disallowed character U+007F' }, 'DEL is a control'],
      ['\u{1F37A}', { out: '\u{1F37A}' }, 'an emoji is a symbol'],
      ['a\u0378', { reason: 'unassigned character U+0378' }, 'Unassigned (J)'],
    ]);
  });

  describe('saslprep: the examples of RFC 4013 §3', () => {
    runTable(saslprep, [
      ['I\u00ADX', { out: 'IX' }, '1: soft hyphen mapped to nothing'],
      ['user', { out: 'user' }, '2: no transformation'],
      ['USER', { out: 'USER' }, '3: case preserved, will not match #2'],
      ['\u00AA', { out: 'a' }, '4: output is NFKC, input in ISO 8859-1'],
      ['\u2168', { out: 'IX' }, '5: output is NFKC, will match #1'],
      ['\u0007', { reason: 'prohibited character U+0007' }, '6: prohibited character'],
      [
        '\u0627\u0031',
        { reason: 'bidi: right-to-left text must start and end with a right-to-left character' },
        '7',
      ],
    ]);
  });

  describe('saslprep: mapping, prohibited output, bidi', () => {
    runTable(saslprep, [
      ['', { out: '' }, 'empty stays empty (the SASL mechanism decides)'],
      ['pass word', { out: 'pass word' }, 'ASCII space is fine'],
      ['a\u00A0b', { out: 'a b' }, 'C.1.2: non-ASCII space mapped to space'],
      ['a\u200Bb', { out: 'a b' }, 'U+200B is in C.1.2 and B.1: the space mapping wins'],
      ['a\u200Db\uFE0F', { out: 'ab' }, 'B.1: joiner and variation selector mapped to nothing'],
      ['\uFB01', { out: 'fi' }, 'NFKC'],
      ['a\u007Fb', { reason: 'prohibited character U+007F' }, 'C.2.1'],
      ['a\u06DDb', { reason: 'prohibited character U+06DD' }, 'C.2.2'],
      ['a\u{1D173}b', { reason: 'prohibited character U+1D173' }, 'C.2.2, outside the BMP'],
      ['a\uE000b', { reason: 'prohibited character U+E000' }, 'C.3'],
      ['a\u{10FFFD}b', { reason: 'prohibited character U+10FFFD' }, 'C.3, plane 16'],
      ['a\u{1FFFE}b', { reason: 'prohibited character U+1FFFE' }, 'C.4'],
      ['a\uD800b', { reason: 'prohibited character U+D800' }, 'C.5: a lone surrogate'],
      ['a\uFFFDb', { reason: 'prohibited character U+FFFD' }, 'C.6'],
      ['a\u2FF0b', { reason: 'prohibited character U+2FF0' }, 'C.7'],
      ['a\u200Eb', { reason: 'prohibited character U+200E' }, 'C.8'],
      ['a\u{E0001}b', { reason: 'prohibited character U+E0001' }, 'C.9'],
      ['a\u0378b', { reason: 'unassigned character U+0378' }, 'A.1: stored strings refuse unassigned'],
      ['\u0627\u0031\u0628', { out: '\u0627\u0031\u0628' }, 'RandALCat first and last'],
      ['\u0627a\u0628', { reason: 'bidi: mixes right-to-left and left-to-right' }, 'RandALCat with LCat'],
      [
        '\u05E9\u05DC\u05D5\u05DD!',
        { reason: 'bidi: right-to-left text must start and end with a right-to-left character' },
        'ends in a neutral',
      ],
    ]);

    it('allows unassigned code points in queries', () => {
      expect(saslprep('a\u0378b', { allowUnassigned: true })).to.equal('a\u0378b');
    });
  });

  it('PrecisError carries its reason', () => {
    const err = new PrecisError('empty');
    expect(err).to.be.instanceOf(Error);
    expect(err.name).to.equal('PrecisError');
    expect(err.reason).to.equal('empty');
    expect(err.message).to.equal('empty');
  });
});
