// Cutting very long answers into messages: where the cut falls, and code fences across it.

import { expect } from 'chai';
import { cutAnswer } from '../../src/bot/split.js';

describe('splitting long answers', () => {
  it('leaves an answer that fits alone', () => {
    expect(cutAnswer('short', 10)).to.equal(undefined);
    expect(cutAnswer('x'.repeat(10), 10)).to.equal(undefined);
  });

  it('cuts at the last blank line that fits', () => {
    const text = `${'a'.repeat(30)}\n\n${'b'.repeat(30)}\n\n${'c'.repeat(30)}`;
    expect(cutAnswer(text, 70)).to.deep.equal({
      head: `${'a'.repeat(30)}\n\n${'b'.repeat(30)}`,
      consumed: 64,
      carry: '',
    });
  });

  it('else at a line end, else a sentence end, else a space', () => {
    expect(cutAnswer(`${'a'.repeat(20)}\n${'b'.repeat(20)}`, 30)!.head).to.equal('a'.repeat(20));
    expect(cutAnswer(`${'a'.repeat(14)}. ${'b'.repeat(14)} c`, 30)!.head).to.equal(`${'a'.repeat(14)}.`);
    expect(cutAnswer(`${'a'.repeat(20)} ${'b'.repeat(20)}`, 30)!.head).to.equal('a'.repeat(20));
  });

  it('cuts a word only when nothing else fits, never inside a surrogate pair', () => {
    const cut = cutAnswer('😀'.repeat(20), 15)!;
    expect(cut.head).to.equal('😀'.repeat(5));
    expect(cut.consumed).to.equal(10);
  });

  it('closes a code block cut in two and reopens it in the next part', () => {
    const code = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n');
    const text = `Intro\n\n\`\`\`js\n${code}\n\`\`\``;
    const cut = cutAnswer(text, 50)!;
    expect(cut.head.endsWith('\n```')).to.equal(true);
    expect(cut.head.startsWith('Intro\n\n```js\nline 0')).to.equal(true);
    expect(cut.carry).to.equal('```js\n');
    expect(cut.head.length).to.be.at.most(50);
    expect(text.slice(0, cut.consumed).trimEnd() + '\n```').to.equal(cut.head);
  });

  it('skips the whitespace at the cut', () => {
    const cut = cutAnswer(`${'a'.repeat(20)}\n\n\n\n${'b'.repeat(20)}`, 30)!;
    expect(cut.consumed).to.equal(24);
  });
});
