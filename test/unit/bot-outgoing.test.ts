// An answer on its way out: the first message at once, corrections throttled and marked, the
// final one permanent with <active/>, final-only mode, splitting, replies in rooms, failures.

import { expect } from 'chai';
import { AnswerStream, type AnswerTarget } from '../../src/bot/outgoing.js';
import type { Element } from '../../src/xml/element.js';

const CHAT: AnswerTarget = { from: 'bot@ai.example', to: 'alice@example/phone', type: 'chat' };

/** What a message carries, in short: body, what it replaces, hints, chat state, reply. */
interface Shown {
  id: string;
  body: string | undefined;
  replaces: string | undefined;
  transient: boolean;
  active: boolean;
  reply?: string;
}

function show(el: Element): Shown {
  const out: Shown = {
    id: el.attrs.id!,
    body: el.getChildText('body'),
    replaces: el.getChild('replace', 'urn:xmpp:message-correct:0')?.attrs.id,
    transient: el.getChild('no-permanent-store', 'urn:xmpp:hints') !== undefined,
    active: el.getChild('active', 'http://jabber.org/protocol/chatstates') !== undefined,
  };
  const reply = el.getChild('reply', 'urn:xmpp:reply:0');
  if (reply) out.reply = `${reply.attrs.to} ${reply.attrs.id}`;
  return out;
}

function setup(
  options: { streaming?: 'corrections' | 'final'; maxChars?: number; target?: AnswerTarget } = {},
) {
  let now = 0;
  let n = 0;
  const sent: Element[] = [];
  const stream = new AnswerStream(options.target ?? CHAT, {
    streaming: options.streaming ?? 'corrections',
    intervalMs: 1000,
    maxChars: options.maxChars ?? 4000,
    nextId: () => `id${++n}`,
    send: (el) => sent.push(el),
    now: () => now,
  });
  return {
    stream,
    sent: () => sent.map(show),
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('streamed answers', () => {
  it('sends the first words at once, then corrections no faster than the interval, the last one kept', () => {
    const t = setup();
    t.stream.update('Hello');
    t.stream.update('Hello **wor');
    t.advance(1000);
    t.stream.update('Hello **world**');
    t.stream.update('Hello **world**, again');
    t.stream.finish('Hello **world**, again.');
    expect(t.sent()).to.deep.equal([
      { id: 'id1', body: 'Hello', replaces: undefined, transient: false, active: false },
      { id: 'id2', body: 'Hello *world*', replaces: 'id1', transient: true, active: false },
      { id: 'id3', body: 'Hello *world*, again.', replaces: 'id1', transient: false, active: true },
    ]);
  });

  it('when the first message already holds the whole answer, only <active/> follows', () => {
    const t = setup();
    t.stream.update('Done.');
    t.stream.finish('Done.');
    const sent = t.sent();
    expect(sent).to.have.length(2);
    expect(sent[1]).to.include({ body: undefined, replaces: undefined, active: true });
  });

  it('an intermediate correction with the final text is sent again, permanently', () => {
    const t = setup();
    t.stream.update('A');
    t.advance(1000);
    t.stream.update('AB');
    t.stream.finish('AB');
    expect(t.sent().map((s) => [s.body, s.transient, s.active])).to.deep.equal([
      ['A', false, false],
      ['AB', true, false],
      ['AB', false, true],
    ]);
  });

  it('waits for visible text before the first message', () => {
    const t = setup();
    t.stream.update('  ');
    expect(t.sent()).to.deep.equal([]);
  });

  it('final-only mode sends one message', () => {
    const t = setup({ streaming: 'final' });
    t.stream.update('Hel');
    t.stream.update('Hello');
    t.stream.finish('Hello there');
    expect(t.sent()).to.deep.equal([
      { id: 'id1', body: 'Hello there', replaces: undefined, transient: false, active: true },
    ]);
  });

  it('a failure keeps what was written and appends the note, in one final message', () => {
    const t = setup();
    t.stream.update('Part');
    t.stream.fail('Partial', '⚠ It broke.');
    expect(t.sent().at(-1)).to.deep.equal({
      id: 'id2',
      body: 'Partial\n\n⚠ It broke.',
      replaces: 'id1',
      transient: false,
      active: true,
    });
  });

  it('a failure before any text is one new message', () => {
    const t = setup();
    t.stream.fail('', '⚠ Unreachable.');
    expect(t.sent()).to.deep.equal([
      { id: 'id1', body: '⚠ Unreachable.', replaces: undefined, transient: false, active: true },
    ]);
  });

  it('nothing is sent after the final message', () => {
    const t = setup();
    t.stream.finish('End');
    t.stream.update('End and more');
    t.stream.fail('x', 'y');
    expect(t.sent()).to.have.length(1);
  });

  it('splits a growing answer: finished parts are final, the rest goes on in a new message', () => {
    const t = setup({ maxChars: 200 });
    const p1 = 'a'.repeat(150);
    const p2 = 'b'.repeat(150);
    t.stream.update(p1);
    t.advance(1000);
    t.stream.update(`${p1}\n\n${p2}`);
    t.stream.finish(`${p1}\n\n${p2}`);
    expect(t.sent()).to.deep.equal([
      { id: 'id1', body: p1, replaces: undefined, transient: false, active: false },
      { id: 'id2', body: p2, replaces: undefined, transient: false, active: false },
      { id: 'id3', body: undefined, replaces: undefined, transient: false, active: true },
    ]);
  });

  it('in a room, the first part is a XEP-0461 reply with a quoted fallback', () => {
    const target: AnswerTarget = {
      from: 'bot@ai.example/warbler',
      to: 'room@muc.example',
      type: 'groupchat',
      replyTo: { to: 'room@muc.example/ann', id: 'sid-1', quote: 'ann: what is 2+2?\nthanks' },
    };
    const t = setup({ target });
    t.stream.update('4');
    t.advance(1000);
    t.stream.finish('4.');
    const sent = t.sent();
    expect(sent.map((s) => [s.body, s.reply, s.replaces])).to.deep.equal([
      ['> ann: what is 2+2?\n4', 'room@muc.example/ann sid-1', undefined],
      ['> ann: what is 2+2?\n4.', 'room@muc.example/ann sid-1', 'id1'],
    ]);
  });
});
