// The [bot] config section: defaults and the precise errors for what an operator can get wrong.

import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function load(toml: string) {
  return loadConfig({ text: toml }).bot;
}

function failure(toml: string): string {
  try {
    load(toml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('[bot] config section', () => {
  it('has working defaults', () => {
    const bot = load('');
    expect(bot.enabled).to.equal(false);
    expect(bot.component).to.equal('');
    expect(bot.server_port).to.equal(5347);
    expect(bot.backend.kind).to.equal('openai');
    expect(bot.backend.base_url).to.equal('http://127.0.0.1:11434/v1');
    expect(bot.streaming).to.equal('corrections');
    expect(bot.memory.persist).to.equal(true);
    expect(bot.memory.database).to.equal(undefined);
    expect(bot.rooms.join).to.deep.equal([]);
  });

  it('normalizes room JIDs and allow patterns', () => {
    const bot = load(
      '[bot]\nallow = ["*@Example.org"]\n[bot.rooms]\njoin = ["Lounge@Conference.Example.org"]',
    );
    expect(bot.allow).to.deep.equal(['example.org']);
    expect(bot.rooms.join).to.deep.equal(['lounge@conference.example.org']);
  });

  const errors: ReadonlyArray<[string, string, RegExp]> = [
    [
      'gguf without a file',
      '[bot.backend]\nkind = "gguf"',
      /bot\.backend\.gguf_file must be set when kind = "gguf"/,
    ],
    [
      'a base URL that is not HTTP',
      '[bot.backend]\nbase_url = "ftp://x"',
      /bot\.backend\.base_url must be an http/,
    ],
    [
      'extra_body that is not an object',
      '[bot.backend]\nextra_body = "[1]"',
      /bot\.backend\.extra_body must be a JSON object/,
    ],
    [
      'extra_body that does not parse',
      '[bot.backend]\nextra_body = "{oops"',
      /bot\.backend\.extra_body must be a JSON object/,
    ],
    ['a component that is not a domain', '[bot]\ncomponent = "a@b"', /bot\.component must be a domain/],
    ['a name that is not a localpart', '[bot]\nname = "a b"', /bot\.name must be a valid JID localpart/],
    [
      'a room without a local part',
      '[bot.rooms]\njoin = ["conference.example.org"]',
      /bot\.rooms\.join\[0\] must be the bare JID of a group chat room/,
    ],
    [
      'a bad allow pattern',
      '[bot]\nallow = ["x@*.example.org"]',
      /bot\.allow\[0\] must be a JID or a domain pattern/,
    ],
    [
      'an unknown streaming mode',
      '[bot]\nstreaming = "fast"',
      /bot\.streaming must be one of "corrections", "final"/,
    ],
    [
      'a correction interval below the floor',
      '[bot]\ncorrection_interval = 10',
      /bot\.correction_interval must be a whole number of milliseconds from 200/,
    ],
  ];
  for (const [name, toml, expected] of errors)
    it(`refuses ${name}`, () => {
      expect(failure(toml)).to.match(expected);
    });
});
