// SCRAM server mechanisms: RFC 5802 §5 and RFC 7677 §3 examples end to end, credential
// derivation, GS2 channel-binding flags (RFC 5802 §6), authzid, unknown users, malformed input.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type {
  ChannelBindingType,
  SaslContext,
  SaslMechanism,
  SaslStep,
  ScramCredential,
  ScramHash,
} from '../../src/sasl/mechanism.js';
import {
  deriveScramCredential,
  SCRAM_SHA_1,
  SCRAM_SHA_1_PLUS,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  scramMechanism,
} from '../../src/sasl/scram.js';

const NODE_HASH = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' } as const;
const b64 = (s: string) => Buffer.from(s, 'base64');
const bytes = (s: string) => Buffer.from(s, 'utf8');

// The RFC examples' accounts: user "user", password "pencil". StoredKey and ServerKey are not
// printed in the RFCs; these are derived from the printed salt and iteration count, and the
// end-to-end tests below confirm them against the printed proofs and signatures.
const RFC5802_CREDENTIAL: ScramCredential = {
  salt: b64('QSXCR+Q6sek8bf92'),
  iterations: 4096,
  storedKey: b64('6dlGYMOdZcOPutkcNY8U2g7vK9Y='),
  serverKey: b64('D+CSWLOshSulAsxiupA+qs2/fTE='),
};
const RFC7677_CREDENTIAL: ScramCredential = {
  salt: b64('W22ZaJ0SNY7soEsUEjb6gQ=='),
  iterations: 4096,
  storedKey: b64('WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY='),
  serverKey: b64('wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU='),
};

type Accounts = Record<string, Partial<Record<ScramHash, ScramCredential>>>;

interface TestContext extends SaslContext {
  /** Every raw username handed to prepareUsername, in order. */
  rawUsernames: string[];
}

function context(accounts: Accounts, overrides: Partial<SaslContext> = {}): TestContext {
  const rawUsernames: string[] = [];
  return {
    secure: true,
    channelBindings: new Map(),
    plusOffered: false,
    prepareUsername(raw) {
      rawUsernames.push(raw);
      return raw === 'invalid' ? undefined : raw.toLowerCase();
    },
    preparePassword: (raw) => raw,
    getCredential: async (username, hash) => accounts[username]?.[hash],
    bareJid: (username) => `${username}@example.com`,
    rawUsernames,
    ...overrides,
  };
}

/** A SCRAM client written straight from RFC 5802 §3, independent of the server code. */
function clientFinal(
  hash: ScramHash,
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  channelBinding: string,
  extensions = '',
): { message: string; serverSignature: string } {
  const algorithm = NODE_HASH[hash];
  const fields = new Map(serverFirst.split(',').map((a) => [a[0], a.slice(2)] as [string, string]));
  const salted = pbkdf2Sync(
    password,
    b64(fields.get('s')!),
    Number(fields.get('i')),
    hash === 'SHA-1' ? 20 : 32,
    algorithm,
  );
  const clientKey = createHmac(algorithm, salted).update('Client Key').digest();
  const storedKey = createHash(algorithm).update(clientKey).digest();
  const withoutProof = `c=${channelBinding},r=${fields.get('r')}${extensions}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(algorithm, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
  const serverKey = createHmac(algorithm, salted).update('Server Key').digest();
  const serverSignature = createHmac(algorithm, serverKey).update(authMessage).digest();
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    serverSignature: serverSignature.toString('base64'),
  };
}

interface LoginOptions {
  username?: string;
  password?: string;
  gs2Header?: string;
  /** Channel-binding data the client puts after the GS2 header in c=. */
  cbData?: Buffer;
  /** Replaces c= entirely. */
  channelBinding?: string;
  /** Extensions the client signs, between r= and p= (each with its leading comma). */
  finalExtensions?: string;
  /** Rewrites the client-final-message before it is sent. */
  tamperFinal?: (message: string) => string;
}

/** Drives a whole exchange as a well-behaved client would; returns every server answer. */
async function login(
  mechanism: SaslMechanism,
  ctx: SaslContext,
  opts: LoginOptions = {},
): Promise<SaslStep[]> {
  const hash: ScramHash = mechanism.name.startsWith('SCRAM-SHA-256') ? 'SHA-256' : 'SHA-1';
  const gs2Header = opts.gs2Header ?? 'n,,';
  const bare = `n=${opts.username ?? 'user'},r=${randomBytes(12).toString('base64')}`;
  const exchange = mechanism.start(ctx);
  const first = await exchange.step(bytes(gs2Header + bare));
  if (first.kind !== 'challenge') return [first];
  const cbind = Buffer.concat([bytes(gs2Header), opts.cbData ?? Buffer.alloc(0)]).toString('base64');
  const { message } = clientFinal(
    hash,
    opts.password ?? 'pencil',
    bare,
    first.data.toString(),
    opts.channelBinding ?? cbind,
    opts.finalExtensions,
  );
  const final = await exchange.step(bytes(opts.tamperFinal ? opts.tamperFinal(message) : message));
  return [first, final];
}

function outcome(steps: SaslStep[]): string {
  const last = steps[steps.length - 1]!;
  return last.kind === 'failure' ? last.condition : last.kind;
}

describe('SCRAM', () => {
  let accounts: Accounts;

  before(async () => {
    accounts = {
      user: {
        'SHA-1': await deriveScramCredential('pencil', 'SHA-1', 4096),
        'SHA-256': await deriveScramCredential('pencil', 'SHA-256', 4096),
      },
    };
  });

  describe('mechanisms', () => {
    const table: [SaslMechanism, string, boolean][] = [
      [SCRAM_SHA_1, 'SCRAM-SHA-1', false],
      [SCRAM_SHA_1_PLUS, 'SCRAM-SHA-1-PLUS', true],
      [SCRAM_SHA_256, 'SCRAM-SHA-256', false],
      [SCRAM_SHA_256_PLUS, 'SCRAM-SHA-256-PLUS', true],
    ];
    for (const [mechanism, name, plus] of table) {
      it(`${name}: requiresTls and channelBinding are ${plus}`, () => {
        expect(mechanism.name).to.equal(name);
        expect(mechanism.requiresTls).to.equal(plus);
        expect(mechanism.channelBinding).to.equal(plus);
      });
    }
  });

  describe('deriveScramCredential', () => {
    it('gives the RFC 5802 §5 StoredKey and ServerKey', async () => {
      const derived = await deriveScramCredential('pencil', 'SHA-1', 4096, b64('QSXCR+Q6sek8bf92'));
      expect(derived).to.deep.equal(RFC5802_CREDENTIAL);
    });

    it('gives the RFC 7677 §3 StoredKey and ServerKey', async () => {
      const derived = await deriveScramCredential('pencil', 'SHA-256', 4096, b64('W22ZaJ0SNY7soEsUEjb6gQ=='));
      expect(derived).to.deep.equal(RFC7677_CREDENTIAL);
    });

    it('draws a random 16-byte salt when none is given', async () => {
      const a = await deriveScramCredential('pencil', 'SHA-256', 1);
      const b = await deriveScramCredential('pencil', 'SHA-256', 1);
      expect(a.salt.length).to.equal(16);
      expect(a.salt.equals(b.salt)).to.equal(false);
      expect(a.storedKey.equals(b.storedKey)).to.equal(false);
    });

    it('refuses an iteration count that is not a positive integer', async () => {
      for (const iterations of [0, -1, 1.5, Number.NaN]) {
        let error: unknown;
        await deriveScramCredential('pencil', 'SHA-1', iterations).catch((e: unknown) => {
          error = e;
        });
        expect(error, String(iterations)).to.be.instanceOf(RangeError);
      }
    });
  });

  describe('RFC examples end to end', () => {
    it('RFC 5802 §5 (SCRAM-SHA-1)', async () => {
      const mechanism = scramMechanism('SHA-1', false, { serverNonce: () => '3rfcNHYJY1ZVvWVs7j' });
      const exchange = mechanism.start(context({ user: { 'SHA-1': RFC5802_CREDENTIAL } }));
      const first = await exchange.step(bytes('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
      expect(first.kind).to.equal('challenge');
      expect(first.kind === 'challenge' && first.data.toString()).to.equal(
        'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      );
      const final = await exchange.step(
        bytes('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
      );
      expect(final).to.deep.equal({
        kind: 'success',
        data: bytes('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='),
        username: 'user',
      });
    });

    it('RFC 7677 §3 (SCRAM-SHA-256)', async () => {
      const mechanism = scramMechanism('SHA-256', false, {
        serverNonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
      });
      const exchange = mechanism.start(context({ user: { 'SHA-256': RFC7677_CREDENTIAL } }));
      const first = await exchange.step(bytes('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      expect(first.kind === 'challenge' && first.data.toString()).to.equal(
        'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      );
      const final = await exchange.step(
        bytes(
          'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,' +
            'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
        ),
      );
      expect(final).to.deep.equal({
        kind: 'success',
        data: bytes('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='),
        username: 'user',
      });
    });

    it('RFC 7677 §3 with no initial response: an empty challenge first', async () => {
      const mechanism = scramMechanism('SHA-256', false, {
        serverNonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
      });
      const exchange = mechanism.start(context({ user: { 'SHA-256': RFC7677_CREDENTIAL } }));
      expect(await exchange.step(Buffer.alloc(0))).to.deep.equal({
        kind: 'challenge',
        data: Buffer.alloc(0),
      });
      const first = await exchange.step(bytes('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      expect(first.kind === 'challenge' && first.data.toString()).to.equal(
        'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      );
    });

    it('a second empty message is malformed, not another empty challenge', async () => {
      const exchange = SCRAM_SHA_256.start(context(accounts));
      await exchange.step(Buffer.alloc(0));
      expect(outcome([await exchange.step(Buffer.alloc(0))])).to.equal('malformed-request');
    });
  });

  describe('server nonce', () => {
    it('appends at least 18 random bytes, base64, to the client nonce', async () => {
      const nonces: string[] = [];
      for (let i = 0; i < 2; i++) {
        const first = await SCRAM_SHA_256.start(context(accounts)).step(bytes('n,,n=user,r=clientnonce'));
        const r = first.kind === 'challenge' ? first.data.toString().split(',')[0]! : '';
        expect(r.startsWith('r=clientnonce')).to.equal(true);
        const serverPart = r.slice('r=clientnonce'.length);
        expect(serverPart).to.match(/^[A-Za-z0-9+/]+={0,2}$/);
        expect(b64(serverPart).length).to.be.at.least(18);
        nonces.push(serverPart);
      }
      expect(nonces[0]).to.not.equal(nonces[1]);
    });
  });

  describe('passwords and users', () => {
    for (const mechanism of [SCRAM_SHA_1, SCRAM_SHA_256]) {
      it(`${mechanism.name}: the right password succeeds, with the server signature`, async () => {
        const steps = await login(mechanism, context(accounts));
        expect(outcome(steps)).to.equal('success');
        expect(steps[1]).to.include({ username: 'user' });
      });
    }

    it('the server signature is the one the client expects', async () => {
      const exchange = SCRAM_SHA_256.start(context(accounts));
      const bare = 'n=user,r=abcdefgh';
      const first = await exchange.step(bytes(`n,,${bare}`));
      const client = clientFinal(
        'SHA-256',
        'pencil',
        bare,
        first.kind === 'challenge' ? first.data.toString() : '',
        'biws',
      );
      const final = await exchange.step(bytes(client.message));
      expect(final).to.deep.equal({
        kind: 'success',
        data: bytes(`v=${client.serverSignature}`),
        username: 'user',
      });
    });

    it('the username is prepared: the success names the prepared form', async () => {
      const ctx = context(accounts);
      const steps = await login(SCRAM_SHA_256, ctx, { username: 'USER' });
      expect(ctx.rawUsernames).to.deep.equal(['USER']);
      expect(steps[1]).to.deep.include({ kind: 'success', username: 'user' });
    });

    it('a wrong password fails not-authorized at the proof', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { password: 'pen' });
      expect(steps.map((s) => s.kind)).to.deep.equal(['challenge', 'failure']);
      expect(steps[1]).to.deep.equal({
        kind: 'failure',
        condition: 'not-authorized',
        text: 'authentication failed',
        username: 'user',
      });
    });

    it('an unknown user goes through the same steps to the same failure as a wrong password', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { username: 'nobody' });
      expect(steps.map((s) => s.kind)).to.deep.equal(['challenge', 'failure']);
      expect(steps[1]).to.deep.equal({
        kind: 'failure',
        condition: 'not-authorized',
        text: 'authentication failed',
        username: 'nobody',
      });
    });

    it('an unknown user gets a stable 16-byte salt of its own and the default iteration count', async () => {
      const serverFirst = async (username: string, ctx: SaslContext) => {
        const first = await SCRAM_SHA_256.start(ctx).step(bytes(`n,,n=${username},r=abc`));
        const fields = first.kind === 'challenge' ? first.data.toString().split(',') : [];
        return { salt: fields[1]!, iterations: fields[2]! };
      };
      const a1 = await serverFirst('nobody', context(accounts));
      const a2 = await serverFirst('nobody', context(accounts));
      const b = await serverFirst('somebody', context(accounts));
      expect(a1).to.deep.equal(a2);
      expect(a1.salt).to.not.equal(b.salt);
      expect(b64(a1.salt.slice(2)).length).to.equal(16);
      expect(a1.iterations).to.equal('i=4096');
      const tuned = await serverFirst('nobody', context(accounts, { defaultIterations: 20000 }));
      expect(tuned.iterations).to.equal('i=20000');
    });

    it('an invalid username fails not-authorized at once', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { username: 'invalid' });
      expect(steps).to.deep.equal([
        { kind: 'failure', condition: 'not-authorized', text: 'invalid username' },
      ]);
    });

    it('a storage error becomes temporary-auth-failure, not a rejection', async () => {
      const error = new Error('database is locked');
      const ctx = context(accounts, {
        getCredential: () => Promise.reject(error),
      });
      const step = await SCRAM_SHA_256.start(ctx).step(bytes('n,,n=user,r=abc'));
      expect(step).to.deep.equal({ kind: 'failure', condition: 'temporary-auth-failure', cause: error });
    });

    it('a stored credential with keys of the wrong length becomes temporary-auth-failure', async () => {
      const ctx = context({ user: { 'SHA-256': accounts.user!['SHA-1']! } });
      expect(outcome(await login(SCRAM_SHA_256, ctx))).to.equal('temporary-auth-failure');
    });
  });

  describe('username and authzid encoding', () => {
    const table: [string, string][] = [
      ['us=2Cer', 'us,er'],
      ['us=3Der', 'us=er'],
      ['us=2cer=3d', 'us,er='],
      ['=2C=3D', ',='],
      ['ünïcode', 'ünïcode'],
    ];
    for (const [sent, decoded] of table) {
      it(`n=${sent} reaches prepareUsername as ${JSON.stringify(decoded)}`, async () => {
        const ctx = context(accounts);
        const step = await SCRAM_SHA_256.start(ctx).step(bytes(`n,,n=${sent},r=abc`));
        expect(step.kind).to.equal('challenge');
        expect(ctx.rawUsernames).to.deep.equal([decoded]);
      });
    }
  });

  describe('authzid', () => {
    it('equal to the bare JID of the authenticated user: success', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { gs2Header: 'n,a=user@example.com,' });
      expect(outcome(steps)).to.equal('success');
    });

    it('the bare JID as a user may type it (compared as JIDs): success', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { gs2Header: 'n,a=USER@Example.com,' });
      expect(outcome(steps)).to.equal('success');
    });

    it('escaped, decoding to the bare JID: success', async () => {
      const ctx = context(accounts, { bareJid: (u) => `${u}=x,y@example.com` });
      const steps = await login(SCRAM_SHA_256, ctx, { gs2Header: 'n,a=user=3Dx=2Cy@example.com,' });
      expect(outcome(steps)).to.equal('success');
    });

    it('anyone else: invalid-authzid, once the password is proven', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { gs2Header: 'n,a=admin@example.com,' });
      expect(steps.map((s) => s.kind)).to.deep.equal(['challenge', 'failure']);
      expect(steps[1]).to.deep.include({ condition: 'invalid-authzid', username: 'user' });
    });

    it('anyone else with a wrong password: not-authorized', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), {
        gs2Header: 'n,a=admin@example.com,',
        password: 'pen',
      });
      expect(outcome(steps)).to.equal('not-authorized');
    });
  });

  describe('GS2 channel-binding flag', () => {
    const exporter = randomBytes(32);
    const endPoint = randomBytes(32);
    const bindings = new Map<ChannelBindingType, Buffer>([
      ['tls-exporter', exporter],
      ['tls-server-end-point', endPoint],
    ]);

    interface Case {
      name: string;
      mechanism: SaslMechanism;
      gs2Header: string;
      ctx: Partial<SaslContext>;
      cbData?: Buffer;
      expected: string;
    }
    const cases: Case[] = [
      {
        name: "'n', -PLUS not offered",
        mechanism: SCRAM_SHA_256,
        gs2Header: 'n,,',
        ctx: {},
        expected: 'success',
      },
      {
        name: "'n', -PLUS offered (the client cannot bind)",
        mechanism: SCRAM_SHA_256,
        gs2Header: 'n,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'success',
      },
      {
        name: "'y', -PLUS not offered",
        mechanism: SCRAM_SHA_256,
        gs2Header: 'y,,',
        ctx: {},
        expected: 'success',
      },
      {
        name: "'y', -PLUS offered: a downgrade",
        mechanism: SCRAM_SHA_256,
        gs2Header: 'y,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'not-authorized',
      },
      {
        name: "'p=' with a mechanism without -PLUS",
        mechanism: SCRAM_SHA_256,
        gs2Header: 'p=tls-exporter,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: exporter,
        expected: 'malformed-request',
      },
      {
        name: "-PLUS with 'n'",
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'n,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'malformed-request',
      },
      {
        name: "-PLUS with 'y'",
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'y,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'malformed-request',
      },
      {
        name: '-PLUS with tls-exporter',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-exporter,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: exporter,
        expected: 'success',
      },
      {
        name: '-PLUS with tls-server-end-point',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-server-end-point,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: endPoint,
        expected: 'success',
      },
      {
        name: 'SCRAM-SHA-1-PLUS with tls-exporter and an authzid',
        mechanism: SCRAM_SHA_1_PLUS,
        gs2Header: 'p=tls-exporter,a=user@example.com,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: exporter,
        expected: 'success',
      },
      {
        name: '-PLUS with a type the connection cannot provide',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-server-end-point,,',
        ctx: { plusOffered: true, channelBindings: new Map([['tls-exporter', exporter]]) },
        cbData: endPoint,
        expected: 'not-authorized',
      },
      {
        name: '-PLUS with tls-unique, which Warbler never provides',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-unique,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: exporter,
        expected: 'not-authorized',
      },
      {
        name: '-PLUS on a connection without channel bindings',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-exporter,,',
        ctx: {},
        cbData: exporter,
        expected: 'not-authorized',
      },
      {
        name: '-PLUS with the other type’s data in c=',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-exporter,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        cbData: endPoint,
        expected: 'not-authorized',
      },
      {
        name: '-PLUS with no data in c=',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls-exporter,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'not-authorized',
      },
      {
        name: 'an invalid channel-binding type name',
        mechanism: SCRAM_SHA_256_PLUS,
        gs2Header: 'p=tls_exporter,,',
        ctx: { plusOffered: true, channelBindings: bindings },
        expected: 'malformed-request',
      },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.expected}`, async () => {
        const steps = await login(c.mechanism, context(accounts, c.ctx), {
          gs2Header: c.gs2Header,
          cbData: c.cbData,
        });
        expect(outcome(steps)).to.equal(c.expected);
      });
    }

    it('failures at the first message come before any credential lookup', async () => {
      let lookups = 0;
      const ctx = context(accounts, {
        plusOffered: true,
        getCredential: async () => {
          lookups++;
          return undefined;
        },
      });
      const steps = await login(SCRAM_SHA_256, ctx, { gs2Header: 'y,,' });
      expect(steps).to.have.length(1);
      expect(lookups).to.equal(0);
    });
  });

  describe('client-final-message checks', () => {
    it("c= of the 'y' header after an 'n' first message: not-authorized", async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), { channelBinding: 'eSws' });
      expect(steps[1]).to.deep.include({
        condition: 'not-authorized',
        text: 'channel bindings do not match',
      });
    });

    it('c= with the authzid left out: not-authorized', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), {
        gs2Header: 'n,a=user@example.com,',
        channelBinding: 'biws',
      });
      expect(outcome(steps)).to.equal('not-authorized');
    });

    it('the client nonce alone: not-authorized', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), {
        tamperFinal: (m) => m.replace(/,r=([^,]+),/, (_all, r: string) => `,r=${r.slice(0, 16)},`),
      });
      expect(steps[1]).to.deep.include({ condition: 'not-authorized', text: 'nonce mismatch' });
    });

    it('a changed server nonce: not-authorized', async () => {
      const steps = await login(SCRAM_SHA_256, context(accounts), {
        tamperFinal: (m) => m.replace(/,p=/, 'x,p='),
      });
      expect(steps[1]).to.deep.include({ condition: 'not-authorized', text: 'nonce mismatch' });
    });

    it('an unknown extension before the proof is ignored, and signed like the rest', async () => {
      expect(outcome(await login(SCRAM_SHA_256, context(accounts), { finalExtensions: ',x=ext' }))).to.equal(
        'success',
      );
      // Slipped in after the client computed its proof, it changes AuthMessage: the proof no longer holds.
      const steps = await login(SCRAM_SHA_256, context(accounts), {
        tamperFinal: (m) => m.replace(',p=', ',x=ext,p='),
      });
      expect(outcome(steps)).to.equal('not-authorized');
    });

    it('flipping one bit of the proof: not-authorized', async () => {
      const steps = await login(SCRAM_SHA_1, context(accounts), {
        tamperFinal: (m) => {
          const [head, proof] = m.split(',p=') as [string, string];
          const raw = b64(proof);
          raw[0]! ^= 1;
          return `${head},p=${raw.toString('base64')}`;
        },
      });
      expect(outcome(steps)).to.equal('not-authorized');
    });
  });

  describe('malformed client-first-message', () => {
    const table: [string, string | Buffer, string][] = [
      ['unknown GS2 flag', 'x,,n=user,r=abc', 'malformed-request'],
      ['GS2 flag without comma', 'nn=user,r=abc', 'malformed-request'],
      ['GS2 header missing its second comma', 'n,n=user,r=abc', 'malformed-request'],
      ['authzid without closing comma', 'n,a=user@example.com', 'malformed-request'],
      ['empty authzid', 'n,a=,n=user,r=abc', 'malformed-request'],
      ['authzid with a bad escape', 'n,a=x=41,n=user,r=abc', 'malformed-request'],
      ['p= without closing comma', 'p=tls-exporter', 'malformed-request'],
      ['GS2 header only', 'n,,', 'malformed-request'],
      ['no nonce', 'n,,n=user', 'malformed-request'],
      ['nonce before username', 'n,,r=abc,n=user', 'malformed-request'],
      ['empty nonce', 'n,,n=user,r=', 'malformed-request'],
      ['nonce with a space', 'n,,n=user,r=a b', 'malformed-request'],
      ['nonce with a non-ASCII character', 'n,,n=user,r=abcé', 'malformed-request'],
      ['empty username', 'n,,n=,r=abc', 'malformed-request'],
      ['username with =41', 'n,,n=us=41er,r=abc', 'malformed-request'],
      ['username ending in =', 'n,,n=user=,r=abc', 'malformed-request'],
      ['username with =2 at the end', 'n,,n=user=2,r=abc', 'malformed-request'],
      ['mandatory extension', 'n,,m=ext,n=user,r=abc', 'malformed-request'],
      ['trailing comma', 'n,,n=user,r=abc,', 'malformed-request'],
      ['extension not of the form ALPHA=value', 'n,,n=user,r=abc,1=x', 'malformed-request'],
      ['extension without =', 'n,,n=user,r=abc,x', 'malformed-request'],
      ['NUL inside', Buffer.from('n,,n=us\0er,r=abc'), 'malformed-request'],
      [
        'invalid UTF-8',
        Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61]),
        'malformed-request',
      ],
      ['an optional extension (accepted)', 'n,,n=user,r=abc,x=whatever=,y=', 'challenge'],
    ];
    for (const [name, message, expected] of table) {
      it(`${name}: ${expected}`, async () => {
        const ctx = context(accounts);
        const step = await SCRAM_SHA_256.start(ctx).step(
          typeof message === 'string' ? bytes(message) : message,
        );
        expect(outcome([step])).to.equal(expected);
        if (expected !== 'challenge') expect(ctx.rawUsernames).to.deep.equal([]);
      });
    }
  });

  it('a mandatory extension is refused as such', async () => {
    const step = await SCRAM_SHA_256.start(context(accounts)).step(bytes('n,,m=ext,n=user,r=abc'));
    expect(step).to.deep.equal({
      kind: 'failure',
      condition: 'malformed-request',
      text: 'mandatory extensions are not supported',
    });
  });

  describe('malformed client-final-message', () => {
    const NONCE = 'abcSERVERNONCE';
    const proof = Buffer.alloc(32, 1).toString('base64');
    const table: [string, string | Buffer, string][] = [
      ['empty', '', 'malformed-request'],
      ['no proof', `c=biws,r=${NONCE}`, 'malformed-request'],
      ['proof not last', `c=biws,p=${proof},r=${NONCE}`, 'malformed-request'],
      ['nonce before channel binding', `r=${NONCE},c=biws,p=${proof}`, 'malformed-request'],
      ['no channel binding', `r=${NONCE},p=${proof}`, 'malformed-request'],
      ['bad extension', `c=biws,r=${NONCE},=x,p=${proof}`, 'malformed-request'],
      ['trailing comma', `c=biws,r=${NONCE},p=${proof},`, 'malformed-request'],
      [
        'proof of the wrong length',
        `c=biws,r=${NONCE},p=${Buffer.alloc(20).toString('base64')}`,
        'malformed-request',
      ],
      ['empty proof', `c=biws,r=${NONCE},p=`, 'malformed-request'],
      ['proof not base64', `c=biws,r=${NONCE},p=${proof.slice(0, -4)}!!!!`, 'incorrect-encoding'],
      ['proof without padding', `c=biws,r=${NONCE},p=${proof.replace(/=$/, '')}`, 'incorrect-encoding'],
      ['c= not base64', `c=bi*s,r=${NONCE},p=${proof}`, 'incorrect-encoding'],
      ['NUL inside', Buffer.from(`c=biws,r=${NONCE}\0,p=${proof}`), 'malformed-request'],
      [
        'invalid UTF-8',
        Buffer.concat([bytes(`c=biws,r=${NONCE},x=`), Buffer.from([0xc3]), bytes(`,p=${proof}`)]),
        'malformed-request',
      ],
      ['well-formed, wrong proof', `c=biws,r=${NONCE},p=${proof}`, 'not-authorized'],
    ];
    for (const [name, message, expected] of table) {
      it(`${name}: ${expected}`, async () => {
        const mechanism = scramMechanism('SHA-256', false, { serverNonce: () => 'SERVERNONCE' });
        const exchange = mechanism.start(context(accounts));
        expect((await exchange.step(bytes('n,,n=user,r=abc'))).kind).to.equal('challenge');
        const step = await exchange.step(typeof message === 'string' ? bytes(message) : message);
        expect(step).to.deep.include({ kind: 'failure', condition: expected, username: 'user' });
      });
    }
  });

  describe('after the outcome', () => {
    it('any further step after success: malformed-request', async () => {
      const mechanism = scramMechanism('SHA-1', false, { serverNonce: () => '3rfcNHYJY1ZVvWVs7j' });
      const exchange = mechanism.start(context({ user: { 'SHA-1': RFC5802_CREDENTIAL } }));
      await exchange.step(bytes('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
      const final = bytes(
        'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      );
      expect((await exchange.step(final)).kind).to.equal('success');
      expect(outcome([await exchange.step(final)])).to.equal('malformed-request');
      expect(outcome([await exchange.step(Buffer.alloc(0))])).to.equal('malformed-request');
    });

    it('any further step after failure: malformed-request, even a good client-first', async () => {
      const exchange = SCRAM_SHA_256.start(context(accounts));
      expect(outcome([await exchange.step(bytes('garbage'))])).to.equal('malformed-request');
      expect(outcome([await exchange.step(bytes('n,,n=user,r=abc'))])).to.equal('malformed-request');
    });

    it('a step while the previous one is still running: malformed-request', async () => {
      let release: () => void = () => {};
      const ctx = context(accounts, {
        getCredential: (username, hash) =>
          new Promise((resolve) => {
            release = () => resolve(accounts[username]?.[hash]);
          }),
      });
      const exchange = SCRAM_SHA_256.start(ctx);
      const pending = exchange.step(bytes('n,,n=user,r=abc'));
      expect(outcome([await exchange.step(bytes('c=biws,r=abc,p=x'))])).to.equal('malformed-request');
      release();
      expect((await pending).kind).to.equal('challenge');
    });
  });
});
