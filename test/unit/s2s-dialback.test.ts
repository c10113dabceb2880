// XEP-0185 dialback keys, with the XEP's own example values, the secret kept in data_dir, and
// the s2s policy (allow/deny lists, static routes) and header checks beside them.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { StreamError } from '../../src/core/errors.js';
import {
  dialbackKey,
  isValidDialbackKey,
  loadDialbackSecret,
  SECRET_FILE,
} from '../../src/s2s/dialback-key.js';
import { parseS2SHeader, type S2SHeader } from '../../src/s2s/header.js';
import { S2SPolicy } from '../../src/s2s/policy.js';
import { NS } from '../../src/xml/ns.js';

describe('s2s dialback keys (XEP-0185)', () => {
  // XEP-0185 §4 (Example): secret, receiving server, originating server, stream id, key.
  const EXAMPLE = {
    secret: 's3cr3tf0rd14lb4ck',
    receiving: 'xmpp.example.com',
    originating: 'example.org',
    streamId: 'D60000229F',
    key: '37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643',
  };

  it('makes the key of the XEP’s example', () => {
    const { secret, receiving, originating, streamId, key } = EXAMPLE;
    expect(dialbackKey(secret, receiving, originating, streamId)).to.equal(key);
  });

  it('accepts that key, surrounding whitespace included, and nothing else', () => {
    const { secret, receiving, originating, streamId, key } = EXAMPLE;
    expect(isValidDialbackKey(secret, `\n  ${key}\n`, receiving, originating, streamId)).to.equal(true);
    for (const [label, args] of [
      ['another stream', [secret, key, receiving, originating, 'D60000229G']],
      ['swapped domains', [secret, key, originating, receiving, streamId]],
      ['another secret', ['other', key, receiving, originating, streamId]],
      ['a truncated key', [secret, key.slice(0, 63), receiving, originating, streamId]],
      ['upper case', [secret, key.toUpperCase(), receiving, originating, streamId]],
      ['no key', [secret, '', receiving, originating, streamId]],
    ] as Array<[string, Parameters<typeof isValidDialbackKey>]>) {
      expect(isValidDialbackKey(...args), label).to.equal(false);
    }
  });

  describe('the secret', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'warbler-dialback-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is the configured one when there is one, and nothing is written', async () => {
      expect(await loadDialbackSecret('configured', dir)).to.equal('configured');
      expect(() => statSync(join(dir, SECRET_FILE))).to.throw();
    });

    it('is generated once, readable by the owner only, and the same after a restart', async () => {
      const first = await loadDialbackSecret('', dir);
      expect(first).to.match(/^[0-9a-f]{64}$/);
      const file = join(dir, SECRET_FILE);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(readFileSync(file, 'utf8').trim()).to.equal(first);
      expect(await loadDialbackSecret('', dir)).to.equal(first);
    });
  });
});

describe('s2s policy', () => {
  const policy = (allow: string[], deny: string[]) =>
    new S2SPolicy({ require_encryption: true, secure_auth: false, allow, deny, routes: {}, bidi: true });

  it('federates with everyone but the denied domains and their subdomains', () => {
    const p = policy([], ['evil.example']);
    expect(p.allows('example.net')).to.equal(true);
    expect(p.allows('evil.example')).to.equal(false);
    expect(p.allows('muc.evil.example')).to.equal(false);
    expect(p.allows('notevil.example')).to.equal(true);
  });

  it('with an allow list, federates with those domains (and subdomains) only; deny still wins', () => {
    const p = policy(['friend.example', 'shady.friend.example'], ['shady.friend.example']);
    expect(p.allows('friend.example')).to.equal(true);
    expect(p.allows('conference.friend.example')).to.equal(true);
    expect(p.allows('stranger.example')).to.equal(false);
    expect(p.allows('shady.friend.example')).to.equal(false);
  });

  it('turns static routes into connection targets', () => {
    const p = new S2SPolicy({
      require_encryption: true,
      secure_auth: false,
      allow: [],
      deny: [],
      routes: { 'example.net': { host: '192.0.2.7', port: 5270, direct_tls: true } },
      bidi: true,
    });
    expect(p.staticRoute('example.net')).to.deep.equal({ host: '192.0.2.7', port: 5270, directTls: true });
    expect(p.staticRoute('example.org')).to.equal(undefined);
  });
});

describe('s2s stream header (RFC 6120 §4.7)', () => {
  const base = {
    xmlns: NS.SERVER,
    'xmlns:stream': NS.STREAM,
    'xmlns:db': NS.DIALBACK,
    version: '1.0',
    from: 'a.example',
    to: 'B.Example',
  };

  it('reads from, to (prepared), id and the dialback declaration', () => {
    expect(parseS2SHeader('stream:stream', { ...base, id: 'x1' })).to.deep.equal({
      from: 'a.example',
      to: 'b.example',
      id: 'x1',
      dialback: true,
    } satisfies S2SHeader);
  });

  it('takes a missing or invalid from as none (RFC 6120 §4.7.1)', () => {
    const { from: _from, ...withoutFrom } = base;
    expect((parseS2SHeader('stream:stream', withoutFrom) as S2SHeader).from).to.equal(undefined);
    expect((parseS2SHeader('stream:stream', { ...base, from: 'user@a.example' }) as S2SHeader).from).to.equal(
      undefined,
    );
  });

  for (const [label, name, attrs, condition] of [
    ['a client stream', 'stream:stream', { ...base, xmlns: NS.CLIENT }, 'invalid-namespace'],
    ['a wrong stream namespace', 'stream:stream', { ...base, 'xmlns:stream': 'urn:x' }, 'invalid-namespace'],
    ['no stream prefix', 'stream', { ...base, xmlns: NS.STREAM }, 'bad-namespace-prefix'],
    ['no version', 'stream:stream', { ...base, version: undefined }, 'unsupported-version'],
    ['version 2.0', 'stream:stream', { ...base, version: '2.0' }, 'unsupported-version'],
  ] as const) {
    it(`refuses ${label} with ${condition}`, () => {
      const clean = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >;
      const result = parseS2SHeader(name, clean);
      expect(result).to.be.instanceOf(StreamError);
      expect((result as StreamError).condition).to.equal(condition);
    });
  }
});
