// PLAIN (RFC 4616) verified against stored SCRAM credentials, and the mechanism registry:
// what is offered on which connection (RFC 6120 §6.4.1, §13.8; RFC 5802 §6).

import { expect } from 'chai';
import { findMechanism, MECHANISMS, offeredMechanisms } from '../../src/sasl/index.js';
import type {
  ChannelBindingType,
  SaslContext,
  SaslStep,
  ScramCredential,
  ScramHash,
} from '../../src/sasl/mechanism.js';
import { PLAIN } from '../../src/sasl/plain.js';
import { deriveScramCredential } from '../../src/sasl/scram.js';

type Accounts = Record<string, Partial<Record<ScramHash, ScramCredential>>>;

interface TestContext extends SaslContext {
  /** Every credential lookup, as "username/hash". */
  lookups: string[];
}

function context(accounts: Accounts, overrides: Partial<SaslContext> = {}): TestContext {
  const lookups: string[] = [];
  return {
    secure: true,
    channelBindings: new Map(),
    plusOffered: false,
    prepareUsername: (raw) => (raw === 'invalid' ? undefined : raw.toLowerCase()),
    // Stands in for SASLprep: non-ASCII space maps to space (RFC 4013 §2.1), U+0007 is prohibited.
    preparePassword: (raw) => (raw.includes('\u0007') ? undefined : raw.replace(/\u00a0/g, ' ')),
    getCredential: async (username, hash) => {
      lookups.push(`${username}/${hash}`);
      return accounts[username]?.[hash];
    },
    bareJid: (username) => `${username}@example.com`,
    lookups,
    ...overrides,
  };
}

const message = (authzid: string, authcid: string, password: string) =>
  Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8');

async function plain(ctx: SaslContext, response: Buffer): Promise<SaslStep> {
  return PLAIN.start(ctx).step(response);
}

describe('PLAIN', () => {
  let accounts: Accounts;

  before(async () => {
    accounts = {
      user: {
        'SHA-1': await deriveScramCredential('pencil', 'SHA-1', 4096),
        'SHA-256': await deriveScramCredential('pencil', 'SHA-256', 4096),
      },
      legacy: { 'SHA-1': await deriveScramCredential('pencil', 'SHA-1', 4096) },
      spaced: { 'SHA-256': await deriveScramCredential('pen cil', 'SHA-256', 4096) },
    };
  });

  it('requires TLS and binds no channel', () => {
    expect(PLAIN).to.include({ name: 'PLAIN', requiresTls: true, channelBinding: false });
  });

  it('the right password succeeds, checked against SCRAM-SHA-256', async () => {
    const ctx = context(accounts);
    expect(await plain(ctx, message('', 'user', 'pencil'))).to.deep.equal({
      kind: 'success',
      data: undefined,
      username: 'user',
    });
    expect(ctx.lookups).to.deep.equal(['user/SHA-256']);
  });

  it('falls back to SCRAM-SHA-1 when the account has no SHA-256 credential', async () => {
    const ctx = context(accounts);
    expect(await plain(ctx, message('', 'legacy', 'pencil'))).to.deep.include({
      kind: 'success',
      username: 'legacy',
    });
    expect(ctx.lookups).to.deep.equal(['legacy/SHA-256', 'legacy/SHA-1']);
  });

  it('the username and the password are prepared', async () => {
    expect(await plain(context(accounts), message('', 'USER', 'pencil'))).to.deep.include({
      kind: 'success',
      username: 'user',
    });
    expect(await plain(context(accounts), message('', 'spaced', 'pen\u00a0cil'))).to.deep.include({
      kind: 'success',
    });
  });

  it('with no initial response: an empty challenge, then the message', async () => {
    const exchange = PLAIN.start(context(accounts));
    expect(await exchange.step(Buffer.alloc(0))).to.deep.equal({ kind: 'challenge', data: Buffer.alloc(0) });
    expect(await exchange.step(message('', 'user', 'pencil'))).to.deep.include({ kind: 'success' });
  });

  it('a wrong password: not-authorized', async () => {
    expect(await plain(context(accounts), message('', 'user', 'pencil!'))).to.deep.equal({
      kind: 'failure',
      condition: 'not-authorized',
      text: 'authentication failed',
      username: 'user',
    });
  });

  it('an unknown user: the same failure as a wrong password', async () => {
    expect(await plain(context(accounts), message('', 'nobody', 'pencil'))).to.deep.equal({
      kind: 'failure',
      condition: 'not-authorized',
      text: 'authentication failed',
      username: 'nobody',
    });
  });

  it('an invalid username: not-authorized, without a lookup', async () => {
    const ctx = context(accounts);
    expect(await plain(ctx, message('', 'invalid', 'pencil'))).to.deep.equal({
      kind: 'failure',
      condition: 'not-authorized',
      text: 'invalid username',
    });
    expect(ctx.lookups).to.deep.equal([]);
  });

  it('a password SASLprep prohibits: not-authorized, without a lookup', async () => {
    const ctx = context(accounts);
    expect(await plain(ctx, message('', 'user', 'pen\u0007cil'))).to.deep.include({
      kind: 'failure',
      condition: 'not-authorized',
    });
    expect(ctx.lookups).to.deep.equal([]);
  });

  describe('authzid', () => {
    const table: [string, string, string, string][] = [
      ['empty', '', 'pencil', 'success'],
      ['the bare JID of the authenticated user', 'user@example.com', 'pencil', 'success'],
      ['that bare JID as a user may type it', 'User@Example.COM.', 'pencil', 'success'],
      ['another JID', 'admin@example.com', 'pencil', 'invalid-authzid'],
      ['a full JID of the user', 'user@example.com/phone', 'pencil', 'invalid-authzid'],
      ['another JID, with a wrong password', 'admin@example.com', 'pen', 'not-authorized'],
    ];
    for (const [name, authzid, password, expected] of table) {
      it(`${name}: ${expected}`, async () => {
        const step = await plain(context(accounts), message(authzid, 'user', password));
        expect(step.kind === 'failure' ? step.condition : step.kind).to.equal(expected);
      });
    }
  });

  describe('malformed messages', () => {
    const table: [string, Buffer][] = [
      ['no NUL at all', Buffer.from('userpencil')],
      ['one NUL only', Buffer.from('user\0pencil')],
      ['three NULs', Buffer.from('\0user\0pen\0cil')],
      ['empty password', Buffer.from('\0user\0')],
      ['empty authcid', Buffer.from('\0\0pencil')],
      ['only NULs', Buffer.from('\0\0')],
      ['invalid UTF-8', Buffer.concat([Buffer.from('\0user\0pen'), Buffer.from([0xc3, 0x28])])],
    ];
    for (const [name, response] of table) {
      it(`${name}: malformed-request`, async () => {
        const ctx = context(accounts);
        const step = await plain(ctx, response);
        expect(step).to.deep.include({ kind: 'failure', condition: 'malformed-request' });
        expect(ctx.lookups).to.deep.equal([]);
      });
    }

    it('an empty response after the empty challenge: malformed-request', async () => {
      const exchange = PLAIN.start(context(accounts));
      await exchange.step(Buffer.alloc(0));
      expect(await exchange.step(Buffer.alloc(0))).to.deep.include({ condition: 'malformed-request' });
    });
  });

  it('without TLS: encryption-required, whatever is sent', async () => {
    const ctx = context(accounts, { secure: false });
    expect(await plain(ctx, message('', 'user', 'pencil'))).to.deep.equal({
      kind: 'failure',
      condition: 'encryption-required',
      text: 'PLAIN requires TLS',
    });
    expect(ctx.lookups).to.deep.equal([]);
  });

  it('after the outcome, any further step: malformed-request', async () => {
    const exchange = PLAIN.start(context(accounts));
    expect((await exchange.step(message('', 'user', 'pencil'))).kind).to.equal('success');
    expect(await exchange.step(message('', 'user', 'pencil'))).to.deep.include({
      condition: 'malformed-request',
    });
  });

  it('a storage error: temporary-auth-failure, not a rejection', async () => {
    const error = new Error('disk I/O error');
    const ctx = context(accounts, { getCredential: () => Promise.reject(error) });
    expect(await plain(ctx, message('', 'user', 'pencil'))).to.deep.equal({
      kind: 'failure',
      condition: 'temporary-auth-failure',
      cause: error,
    });
  });
});

describe('SASL mechanism registry', () => {
  const names = (list: readonly { name: string }[]) => list.map((m) => m.name);
  const bothBindings = new Set<ChannelBindingType>(['tls-exporter', 'tls-server-end-point']);

  it('lists every mechanism in order of preference', () => {
    expect(names(MECHANISMS)).to.deep.equal([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
  });

  const table: [string, Parameters<typeof offeredMechanisms>[0], string[]][] = [
    [
      'no TLS: no PLAIN, no -PLUS',
      { secure: false, channelBindings: new Set(), allowPlain: true },
      ['SCRAM-SHA-256', 'SCRAM-SHA-1'],
    ],
    [
      'no TLS, even with channel bindings claimed: no PLAIN, no -PLUS',
      { secure: false, channelBindings: bothBindings, allowPlain: true },
      ['SCRAM-SHA-256', 'SCRAM-SHA-1'],
    ],
    [
      'TLS without channel bindings: no -PLUS',
      { secure: true, channelBindings: new Set(), allowPlain: true },
      ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
    ],
    [
      'TLS with channel bindings (a Set): everything',
      { secure: true, channelBindings: bothBindings, allowPlain: true },
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
    ],
    [
      'TLS with one channel binding (a Map)',
      {
        secure: true,
        channelBindings: new Map([['tls-server-end-point', Buffer.alloc(32)]]),
        allowPlain: true,
      },
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
    ],
    [
      'PLAIN disallowed by configuration',
      { secure: true, channelBindings: bothBindings, allowPlain: false },
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1'],
    ],
    [
      'an allow-list keeps the preference order, not its own',
      {
        secure: true,
        channelBindings: bothBindings,
        allowPlain: true,
        allowed: ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256-PLUS', 'DIGEST-MD5'],
      },
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1', 'PLAIN'],
    ],
    [
      'an allow-list does not override the TLS rule',
      { secure: false, channelBindings: new Set(), allowPlain: true, allowed: ['PLAIN'] },
      [],
    ],
  ];
  for (const [name, opts, expected] of table) {
    it(`offeredMechanisms, ${name}`, () => {
      expect(names(offeredMechanisms(opts))).to.deep.equal(expected);
    });
  }

  it('findMechanism finds by exact, case-sensitive name', () => {
    for (const mechanism of MECHANISMS) expect(findMechanism(mechanism.name)).to.equal(mechanism);
    expect(findMechanism('plain')).to.equal(undefined);
    expect(findMechanism('DIGEST-MD5')).to.equal(undefined);
    expect(findMechanism('')).to.equal(undefined);
  });
});
