// Server-sent events as chat servers stream them (WHATWG HTML §9.2.6): line ends of every kind,
// comments, multi-line data, named events, and the same events however the input is cut.

import { expect } from 'chai';
import { MAX_SSE_LINE, SseError, SseParser } from '../../src/bot/backends/sse.js';

type Seen = Array<['event', string, string] | ['comment', string]>;

function parse(chunks: readonly string[]): Seen {
  const seen: Seen = [];
  const parser = new SseParser({
    event: (data, type) => seen.push(['event', data, type]),
    comment: (text) => seen.push(['comment', text]),
  });
  for (const chunk of chunks) parser.write(chunk);
  parser.end();
  return seen;
}

const cases: ReadonlyArray<[string, string, Seen]> = [
  ['one event', 'data: {"a":1}\n\n', [['event', '{"a":1}', 'message']]],
  ['CRLF line ends', 'data: x\r\n\r\n', [['event', 'x', 'message']]],
  [
    'CR line ends',
    'data: x\r\rdata: y\r\r',
    [
      ['event', 'x', 'message'],
      ['event', 'y', 'message'],
    ],
  ],
  [
    'a keep-alive comment',
    ': keep-alive\n\ndata: x\n\n',
    [
      ['comment', ' keep-alive'],
      ['event', 'x', 'message'],
    ],
  ],
  ['data lines joined with LF', 'data: a\ndata: b\n\n', [['event', 'a\nb', 'message']]],
  ['no space after the colon', 'data:x\n\n', [['event', 'x', 'message']]],
  ['only the first space is dropped', 'data:  x\n\n', [['event', ' x', 'message']]],
  ['an empty data line still dispatches', 'data:\n\n', [['event', '', 'message']]],
  ['a named event', 'event: error\ndata: {"e":1}\n\n', [['event', '{"e":1}', 'error']]],
  [
    'the name applies to one event only',
    'event: error\ndata: a\n\ndata: b\n\n',
    [
      ['event', 'a', 'error'],
      ['event', 'b', 'message'],
    ],
  ],
  ['id and retry are ignored', 'id: 7\nretry: 10\ndata: x\n\n', [['event', 'x', 'message']]],
  ['a field without a colon', 'data\n\n', [['event', '', 'message']]],
  ['blank lines without data dispatch nothing', '\n\n\n', []],
  ['an unfinished event at the end is dropped', 'data: [DONE]\n', []],
  ['unknown fields are ignored', 'foo: bar\ndata: x\n\n', [['event', 'x', 'message']]],
  ['non-ASCII text', 'data: {"c":"héllo ✓ 😀"}\n\n', [['event', '{"c":"héllo ✓ 😀"}', 'message']]],
];

describe('SSE parser', () => {
  for (const [name, input, expected] of cases) {
    it(`${name}: whole`, () => {
      expect(parse([input])).to.deep.equal(expected);
    });
    it(`${name}: one character at a time`, () => {
      expect(parse([...input])).to.deep.equal(expected);
    });
  }

  it('a CRLF split between chunks is one line end', () => {
    expect(parse(['data: x\r', '\n\r', '\n'])).to.deep.equal([['event', 'x', 'message']]);
  });

  it('refuses a line longer than the limit', () => {
    const parser = new SseParser({ event: () => {} });
    expect(() => parser.write(`data: ${'x'.repeat(MAX_SSE_LINE)}`)).to.throw(SseError);
  });
});
