// When a room message addresses the assistant (nick prefix, XEP-0372 mention, XEP-0461 reply), and
// the question it asks.

import { expect } from 'chai';
import { addressedQuestion, withoutFallback, withoutNickPrefix } from '../../src/bot/addressing.js';
import { type Element, x } from '../../src/xml/element.js';

const ME = { nick: 'assistant', room: 'lounge@conference.example.org', jid: 'assistant@ai.example.org' };

function message(body: string, ...payload: Element[]): Element {
  return x('message', { type: 'groupchat' }, x('body', null, body), ...payload);
}

describe('room addressing', () => {
  const prefixes: ReadonlyArray<[string, string | undefined]> = [
    ['assistant: hello', 'hello'],
    ['Assistant, hello', 'hello'],
    ['  assistant:hello', 'hello'],
    ['@assistant hello', 'hello'],
    ['@assistant: hello', 'hello'],
    ['assistant hello', undefined],
    ['assistants: hello', undefined],
    ['hello assistant:', undefined],
    ['assistant:', ''],
  ];
  for (const [body, question] of prefixes)
    it(`nick prefix ${JSON.stringify(body)} → ${JSON.stringify(question)}`, () => {
      expect(withoutNickPrefix(body, 'assistant')).to.equal(question);
      expect(addressedQuestion(message(body), body, ME)).to.equal(question);
    });

  it('a XEP-0372 mention of its occupant JID or its own JID', () => {
    for (const uri of [`xmpp:${ME.room}/assistant`, `xmpp:${ME.jid}`]) {
      const m = message(
        'what do you think?',
        x('reference', { xmlns: 'urn:xmpp:reference:0', type: 'mention', uri }),
      );
      expect(addressedQuestion(m, 'what do you think?', ME)).to.equal('what do you think?');
    }
    const other = message(
      'hi bob',
      x('reference', { xmlns: 'urn:xmpp:reference:0', type: 'mention', uri: `xmpp:${ME.room}/bob` }),
    );
    expect(addressedQuestion(other, 'hi bob', ME)).to.equal(undefined);
    const notMention = message(
      'see',
      x('reference', { xmlns: 'urn:xmpp:reference:0', type: 'data', uri: `xmpp:${ME.jid}` }),
    );
    expect(addressedQuestion(notMention, 'see', ME)).to.equal(undefined);
  });

  it('a percent-encoded nick in a mention URI', () => {
    const me = { ...ME, nick: 'the bot' };
    const m = message(
      'hey',
      x('reference', { xmlns: 'urn:xmpp:reference:0', type: 'mention', uri: `xmpp:${ME.room}/the%20bot` }),
    );
    expect(addressedQuestion(m, 'hey', me)).to.equal('hey');
  });

  it('a XEP-0461 reply to its message, without the quoted fallback', () => {
    const body = '> earlier answer\nWhy?';
    const m = message(
      body,
      x('reply', { xmlns: 'urn:xmpp:reply:0', to: `${ME.room}/assistant`, id: 'x1' }),
      x(
        'fallback',
        { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' },
        x('body', { start: 0, end: 17 }),
      ),
    );
    expect(addressedQuestion(m, body, ME)).to.equal('Why?');
    const toBob = message('Why?', x('reply', { xmlns: 'urn:xmpp:reply:0', to: `${ME.room}/bob`, id: 'x1' }));
    expect(addressedQuestion(toBob, 'Why?', ME)).to.equal(undefined);
  });

  it('fallback ranges count code points', () => {
    const body = '> 😀 hi\nok';
    const m = message(
      body,
      x(
        'fallback',
        { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' },
        x('body', { start: 0, end: 7 }),
      ),
    );
    expect(withoutFallback(m, body, 'urn:xmpp:reply:0')).to.equal('ok');
  });

  it('a fallback without positions covers the whole body; other fallbacks are kept', () => {
    const whole = message(
      'all fallback',
      x('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' }),
    );
    expect(withoutFallback(whole, 'all fallback', 'urn:xmpp:reply:0')).to.equal('');
    const other = message('text', x('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:other' }));
    expect(withoutFallback(other, 'text', 'urn:xmpp:reply:0')).to.equal('text');
  });
});
