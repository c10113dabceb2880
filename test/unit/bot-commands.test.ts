// Typed commands, the prompt sent to the model, and recognising encrypted payloads.

import { expect } from 'chai';
import { parseCommand } from '../../src/bot/commands.js';
import { encryptionOf } from '../../src/bot/encryption.js';
import { buildPrompt } from '../../src/bot/prompt.js';
import type { StoredMessage } from '../../src/bot/store.js';
import { x } from '../../src/xml/element.js';

describe('commands', () => {
  const rows: ReadonlyArray<[string, [string, string] | undefined]> = [
    ['/help', ['help', '']],
    ['/HELP', ['help', '']],
    ['/model qwen2.5:7b', ['model', 'qwen2.5:7b']],
    ['/system   Answer in French.\nAlways.', ['system', 'Answer in French.\nAlways.']],
    ['/stop', ['stop', '']],
    ['/etc/hosts is what?', undefined],
    ['/unknown words', undefined],
    ['help', undefined],
    [' /help', undefined],
  ];
  for (const [text, expected] of rows)
    it(`${JSON.stringify(text)} → ${expected ? `/${expected[0]}` : 'a question'}`, () => {
      const parsed = parseCommand(text);
      expect(parsed && [parsed.name, parsed.arg]).to.deep.equal(expected);
    });
});

describe('the prompt', () => {
  let id = 0;
  const m = (role: 'user' | 'assistant', content: string, nick?: string): StoredMessage => ({
    id: ++id,
    role,
    nick,
    content,
    tokens: 1,
    at: 0,
  });

  it('system first, then the history in order', () => {
    expect(
      buildPrompt('Be kind.', [m('user', 'hi'), m('assistant', 'hello'), m('user', 'how?')]),
    ).to.deep.equal([
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'how?' },
    ]);
  });

  it('merges consecutive lines of one role and drops a leading answer (strict templates)', () => {
    expect(
      buildPrompt('', [
        m('assistant', 'orphan'),
        m('user', 'a', 'ann'),
        m('user', 'b', 'bob'),
        m('assistant', 'c'),
      ]),
    ).to.deep.equal([
      { role: 'user', content: 'ann: a\nbob: b' },
      { role: 'assistant', content: 'c' },
    ]);
  });

  it('stops at the line that asked', () => {
    const history = [m('user', 'one'), m('user', 'two'), m('user', 'three')];
    expect(buildPrompt('', history, history[1]!.id)).to.deep.equal([{ role: 'user', content: 'one\ntwo' }]);
  });
});

describe('encrypted payloads', () => {
  const rows: ReadonlyArray<[string, string, string | undefined]> = [
    ['encrypted', 'eu.siacs.conversations.axolotl', 'OMEMO'],
    ['encrypted', 'urn:xmpp:omemo:2', 'OMEMO'],
    ['openpgp', 'urn:xmpp:openpgp:0', 'OpenPGP'],
    ['x', 'jabber:x:encrypted', 'OpenPGP'],
    ['encrypted', 'urn:example:other', undefined],
  ];
  for (const [name, ns, expected] of rows)
    it(`<${name} xmlns='${ns}'/> → ${expected ?? 'plain'}`, () => {
      expect(encryptionOf(x('message', null, x('body', null, 'fallback'), x(name, { xmlns: ns })))).to.equal(
        expected,
      );
    });

  it('XEP-0380 names other methods', () => {
    const eme = (attrs: Record<string, string>) =>
      encryptionOf(x('message', null, x('encryption', { xmlns: 'urn:xmpp:eme:0', ...attrs })));
    expect(eme({ namespace: 'urn:xmpp:otr:0' })).to.equal('OTR');
    expect(eme({ namespace: 'urn:example:new', name: 'NewCrypt' })).to.equal('NewCrypt');
    expect(eme({ namespace: 'urn:example:new' })).to.equal('end-to-end encryption');
  });
});
