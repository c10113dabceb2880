// Markdown as models write it → XEP-0393 message styling.

import { expect } from 'chai';
import { markdownToStyling } from '../../src/bot/styling.js';

const cases: ReadonlyArray<[string, string, string]> = [
  ['plain prose is untouched', 'Just words, nothing more.', 'Just words, nothing more.'],
  ['bold with stars', 'This is **bold** text', 'This is *bold* text'],
  ['bold with underscores', 'This is __bold__ text', 'This is *bold* text'],
  ['italic with a star', 'This is *italic* text', 'This is _italic_ text'],
  ['italic with underscores stays', 'This is _italic_ text', 'This is _italic_ text'],
  ['bold and italic together', '**a** and *b*', '*a* and _b_'],
  ['strikethrough', 'was ~~wrong~~ right', 'was ~wrong~ right'],
  ['snake_case is left alone', 'call my_func_name now', 'call my_func_name now'],
  ['a lone star is left alone', '2 * 3 = 6', '2 * 3 = 6'],
  ['inline code is kept as it is', 'use `**kwargs` here', 'use `**kwargs` here'],
  ['double-backtick code becomes single', 'type ``a`b`` now', 'type `a`b` now'],
  ['headings become strong lines', '## Getting started', '*Getting started*'],
  ['a bold heading is not doubled', '# **Title**', '*Title*'],
  ['closing hashes of a heading go', '### Notes ###', '*Notes*'],
  ['bullets with - become •', '- one\n- two', '• one\n• two'],
  ['bullets with * become •', '* one\n  * nested', '• one\n  • nested'],
  ['numbered lists stay', '1. first\n2. second', '1. first\n2. second'],
  ['quotes stay', '> quoted **bold**', '> quoted *bold*'],
  [
    'links show their address',
    'see [the docs](https://example.org/docs)',
    'see the docs (https://example.org/docs)',
  ],
  ['a link whose text is its address', '[https://x.org](https://x.org)', 'https://x.org'],
  ['autolinks lose their brackets', 'go to <https://x.org>', 'go to https://x.org'],
  ['images show alt text and address', '![a cat](https://x.org/cat.png)', 'a cat (https://x.org/cat.png)'],
  ['a rule becomes a line', 'above\n---\nbelow', 'above\n──────────\nbelow'],
  [
    'fenced code is never converted',
    '```python\nx = **y**\n# not a heading\n```\nafter **bold**',
    '```python\nx = **y**\n# not a heading\n```\nafter *bold*',
  ],
  ['a tilde fence becomes backticks', '~~~\ncode\n~~~', '```\ncode\n```'],
  ['an unclosed fence keeps the rest as code', 'text\n```\n**still code**', 'text\n```\n**still code**'],
  [
    'tables are kept in a preformatted block',
    'Table:\n| a | b |\n|---|---|\n| 1 | 2 |\nafter',
    'Table:\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n```\nafter',
  ],
  ['a table at the end is closed', '| a | b |', '```\n| a | b |\n```'],
  ['an unfinished bold run (streaming) stays as written', 'This is **bol', 'This is **bol'],
  ['NUL characters from the model cannot become styling', 'a\u0000**b**', 'a*b*'],
];

describe('Markdown → XEP-0393 styling', () => {
  for (const [name, input, expected] of cases)
    it(name, () => {
      expect(markdownToStyling(input)).to.equal(expected);
    });
});
