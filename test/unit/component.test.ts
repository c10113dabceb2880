// XEP-0114 §3 handshake verification and where component secrets come from
// (src/core/components.ts), without a socket.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ComponentRegistry, componentHandshake, readComponentSecret } from '../../src/core/components.js';
import { DiscoRegistry } from '../../src/core/disco.js';
import { Hooks } from '../../src/core/hooks.js';
import { Router } from '../../src/core/router.js';
import { SessionRegistry } from '../../src/core/sessions.js';
import { silentLogger } from '../../src/log.js';
import { checkInstallation } from '../../src/ops/check.js';

function registry(): ComponentRegistry {
  const hooks = new Hooks();
  const router = new Router(
    new Set(['example.org']),
    hooks,
    new SessionRegistry('replace', 10),
    { exists: async () => false },
    silentLogger,
  );
  return new ComponentRegistry(router, new DiscoRegistry(), silentLogger);
}

describe('components (XEP-0114)', () => {
  describe('handshake', () => {
    it('is the lowercase hex SHA-1 of the stream id followed by the secret, in UTF-8', () => {
      // sha1("abc") is the FIPS 180 test vector.
      expect(componentHandshake('a', 'bc')).to.equal('a9993e364706816aba3e25717850c26c9cd0d89d');
      expect(componentHandshake('id', 'sécret')).to.match(/^[0-9a-f]{40}$/);
      expect(componentHandshake('id', 'sécret')).not.to.equal(componentHandshake('id', 'secret'));
    });

    const cases: Array<[string, string, boolean]> = [
      ['the right digest', componentHandshake('s1', 'pw'), true],
      ['the right digest in upper case', componentHandshake('s1', 'pw').toUpperCase(), true],
      ['the right digest with surrounding whitespace', ` ${componentHandshake('s1', 'pw')}\n`, true],
      ['the digest for another stream id', componentHandshake('s2', 'pw'), false],
      ['the digest of another secret', componentHandshake('s1', 'pW'), false],
      ['the secret itself', 'pw', false],
      ['an empty handshake', '', false],
      ['a truncated digest', componentHandshake('s1', 'pw').slice(0, 39), false],
    ];
    for (const [what, digest, accepted] of cases) {
      it(`${accepted ? 'accepts' : 'refuses'} ${what}`, () => {
        const components = registry();
        components.allow('bot.example.org', 'pw');
        expect(components.verify('bot.example.org', 's1', digest)).to.equal(accepted);
      });
    }

    it('refuses every digest for a domain that is not configured', () => {
      const components = registry();
      components.allow('bot.example.org', 'pw');
      expect(components.verify('other.example.org', 's1', componentHandshake('s1', 'pw'))).to.equal(false);
    });
  });

  describe('secrets', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'warbler-component-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reads a secret file, trimmed', () => {
      const file = join(dir, 'secret');
      writeFileSync(file, '  s3cret\n');
      expect(
        readComponentSecret('bot.example.org', { secret_file: file, secret_env: '', secret: '' }),
      ).to.equal('s3cret');
    });

    it('reads an environment variable', () => {
      expect(
        readComponentSecret(
          'bot.example.org',
          { secret_file: undefined, secret_env: 'BOT', secret: '' },
          { BOT: 'x' },
        ),
      ).to.equal('x');
    });

    it('names the key and the file, never a secret, when the file is missing', () => {
      const file = join(dir, 'absent');
      expect(() =>
        readComponentSecret('bot.example.org', { secret_file: file, secret_env: '', secret: '' }),
      ).to.throw(ConfigError, `components."bot.example.org".secret_file: cannot read ${file} (ENOENT)`);
    });

    it('says which variable is unset', () => {
      expect(() =>
        readComponentSecret('bot.example.org', { secret_file: undefined, secret_env: 'BOT', secret: '' }, {}),
      ).to.throw(ConfigError, 'the environment variable BOT is not set or empty');
    });

    it('wants exactly one source in the config', () => {
      const load = (entry: string) => () => loadConfig({ text: `[components."bot.example.org"]\n${entry}` });
      expect(load('')).to.throw(ConfigError, 'set one of secret_file, secret_env or secret');
      expect(load('secret = "a"\nsecret_env = "B"')).to.throw(ConfigError, 'must not be set together with');
      expect(load('secret = "a"')()).to.have.nested.property('components.bot\\.example\\.org.secret', 'a');
    });

    it('refuses a component at a server host, or at the assistant’s domain when warbler start runs it', () => {
      expect(() =>
        loadConfig({ text: 'hosts = ["example.org"]\n[components."example.org"]\nsecret = "a"' }),
      ).to.throw(ConfigError, 'is one of hosts');
      expect(() =>
        loadConfig({
          text: 'hosts = ["example.org"]\n[components."ai.example.org"]\nsecret = "a"\n[bot]\nenabled = true',
        }),
      ).to.throw(ConfigError, 'is the domain of the assistant');
    });
  });

  describe('warbler check', () => {
    it('reports an unreadable component secret and checks the component port', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'warbler-component-check-'));
      try {
        const config = loadConfig({
          file: join(dir, 'warbler.toml'),
          text: [
            'data_dir = "data"',
            '[c2s]',
            'addresses = ["127.0.0.1"]',
            'port = 0',
            'direct_tls = false',
            '[s2s]',
            'enabled = false',
            '[component]',
            'addresses = ["127.0.0.1"]',
            'port = 0',
            '[components."bot.localhost"]',
            'secret_file = "absent.secret"',
            '[components."other.localhost"]',
            'secret = "x"',
          ].join('\n'),
        });
        let out = '';
        const problems = await checkInstallation(
          config,
          { write: (s: string) => (out += s) },
          { resolver: { resolveSrv: async () => [], lookup: async () => [] } },
        );
        const lines = out.split('\n');
        expect(lines).to.include(
          `PROBLEM components."bot.localhost".secret_file: cannot read ${join(dir, 'absent.secret')} (ENOENT); ` +
            'create it or fix the path',
        );
        expect(lines).to.include('ok      component other.localhost: secret found');
        expect(lines).to.include(
          'note    component 127.0.0.1:0: component.port is 0, so a free port is picked at every start',
        );
        expect(problems).to.be.greaterThan(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
