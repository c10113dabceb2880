// SCRAM, server side: SCRAM-SHA-1 and SCRAM-SHA-256, each with its -PLUS variant.
//
// RFC 5802 §3 (the algorithm), §5 (the exchange), §5.1 (attributes), §6 (channel binding),
//   §7 (formal syntax, with erratum 2651: nonces are 1*printable);
// RFC 7677 (SCRAM-SHA-256); RFC 5929 §4 (tls-server-end-point); RFC 9266 (tls-exporter);
// RFC 6120 §6.3.8 (authzid in XMPP).
//
// The server's share of a login is a few HMACs: the PBKDF2 cost is the client's. Only
// deriveScramCredential and saltedPassword run PBKDF2, and on the libuv threadpool.

import { isUtf8 } from 'node:buffer';
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ChannelBindingType,
  DEFAULT_SCRAM_ITERATIONS,
  guardedExchange,
  isOwnAuthzid,
  type SaslContext,
  type SaslFailure,
  type SaslMechanism,
  type SaslStep,
  type ScramCredential,
  type ScramHash,
  saslFailure,
} from './mechanism.js';

const NODE_HASH: Record<ScramHash, 'sha1' | 'sha256'> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
const HASH_SIZE: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };

const CLIENT_KEY = Buffer.from('Client Key');
const SERVER_KEY = Buffer.from('Server Key');
const SALT_SIZE = 16;
/** RFC 5802 §5.1 asks for a nonce hard to predict; 24 bytes is 192 bits, 32 base64 characters. */
const SERVER_NONCE_BYTES = 24;

// ---------------------------------------------------------------------------------------
// Key derivation (RFC 5802 §3)

/** SaltedPassword := Hi(Normalize(password), salt, i): PBKDF2 on the threadpool. */
export function saltedPassword(
  preparedPassword: string,
  salt: Buffer,
  iterations: number,
  hash: ScramHash,
): Promise<Buffer> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    return Promise.reject(
      new RangeError(`SCRAM iteration count must be a positive integer, got ${iterations}`),
    );
  }
  return new Promise((resolve, reject) => {
    pbkdf2(preparedPassword, salt, iterations, HASH_SIZE[hash], NODE_HASH[hash], (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** StoredKey := H(HMAC(SaltedPassword, "Client Key")). */
export function storedKeyOf(salted: Buffer, hash: ScramHash): Buffer {
  const clientKey = createHmac(NODE_HASH[hash], salted).update(CLIENT_KEY).digest();
  return createHash(NODE_HASH[hash]).update(clientKey).digest();
}

/** ServerKey := HMAC(SaltedPassword, "Server Key"). */
export function serverKeyOf(salted: Buffer, hash: ScramHash): Buffer {
  return createHmac(NODE_HASH[hash], salted).update(SERVER_KEY).digest();
}

/** What to store for a password (already SASLprep-ed); a random 16-byte salt unless one is given. */
export async function deriveScramCredential(
  preparedPassword: string,
  hash: ScramHash,
  iterations: number,
  salt: Buffer = randomBytes(SALT_SIZE),
): Promise<ScramCredential> {
  const salted = await saltedPassword(preparedPassword, salt, iterations, hash);
  return { salt, iterations, storedKey: storedKeyOf(salted, hash), serverKey: serverKeyOf(salted, hash) };
}

/** Whether a SaltedPassword matches a stored credential, compared in constant time. */
export function saltedPasswordMatches(salted: Buffer, hash: ScramHash, credential: ScramCredential): boolean {
  const computed = storedKeyOf(salted, hash);
  return computed.length === credential.storedKey.length && timingSafeEqual(computed, credential.storedKey);
}

// ---------------------------------------------------------------------------------------
// Stand-in credentials for unknown users
//
// An unknown user gets a salt and an iteration count like a real account's, and the same
// answers at the same steps as a wrong password, so that an exchange never tells whether an
// account exists (RFC 5802 §5.1 "e=unknown-user" is deliberately never used). The salt is
// derived from the username, so repeated attempts see the same one.

const STAND_IN_SECRET = randomBytes(32);

export interface ResolvedCredential {
  credential: ScramCredential;
  /** False for a stand-in: it must never authenticate, whatever the proof. */
  known: boolean;
}

export function standInCredential(username: string, hash: ScramHash, iterations: number): ScramCredential {
  const salt = createHmac('sha256', STAND_IN_SECRET)
    .update(hash)
    .update('\0')
    .update(username)
    .digest()
    .subarray(0, SALT_SIZE);
  // Keys of the right size, so that verification does the same work as for a real account.
  const keys = createHmac('sha512', STAND_IN_SECRET).update('keys\0').update(username).digest();
  const size = HASH_SIZE[hash];
  return { salt, iterations, storedKey: keys.subarray(0, size), serverKey: keys.subarray(size, 2 * size) };
}

/** The stand-in for an unknown user, with this server's iteration count for new accounts. */
export function standIn(ctx: SaslContext, username: string, hash: ScramHash): ResolvedCredential {
  const iterations = ctx.defaultIterations ?? DEFAULT_SCRAM_ITERATIONS;
  return { credential: standInCredential(username, hash, iterations), known: false };
}

export async function resolveCredential(
  ctx: SaslContext,
  username: string,
  hash: ScramHash,
): Promise<ResolvedCredential> {
  const stored = await ctx.getCredential(username, hash);
  return stored ? { credential: stored, known: true } : standIn(ctx, username, hash);
}

// ---------------------------------------------------------------------------------------
// Syntax helpers (RFC 5802 §7)

// Canonical base64 only: Buffer.from(s, 'base64') silently skips anything it does not like.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CB_NAME = /^[A-Za-z0-9.-]+$/;

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** printable = %x21-2B / %x2D-7E; the caller has already split on ','. */
function isPrintableNonce(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** attr-val = ALPHA "=" value: the shape every extension must have, even one we ignore. */
function isAttrVal(s: string): boolean {
  return s.length >= 2 && isAlpha(s.charCodeAt(0)) && s.charCodeAt(1) === 0x3d;
}

/** The character of an "=2C" or "=3D" escape, given the two characters after '='. */
function escapedChar(high: number, low: number): string | undefined {
  if (high === 0x32 && (low === 0x43 || low === 0x63)) return ',';
  if (high === 0x33 && (low === 0x44 || low === 0x64)) return '=';
  return undefined;
}

/**
 * saslname = 1*(value-safe-char / "=2C" / "=3D"). ABNF strings are case-insensitive, so "=2c"
 * is accepted too. undefined: empty, or an '=' that is not one of those two escapes.
 */
function decodeSaslname(s: string): string | undefined {
  if (s.length === 0) return undefined;
  let eq = s.indexOf('=');
  if (eq < 0) return s;
  let out = '';
  let from = 0;
  while (eq >= 0) {
    const decoded = escapedChar(s.charCodeAt(eq + 1), s.charCodeAt(eq + 2));
    if (decoded === undefined) return undefined;
    out += s.slice(from, eq) + decoded;
    from = eq + 3;
    eq = s.indexOf('=', from);
  }
  return out + s.slice(from);
}

/** A message as text: valid UTF-8 without NUL (value-char excludes it), else undefined. */
function messageText(bytes: Buffer): string | undefined {
  if (!isUtf8(bytes) || bytes.includes(0)) return undefined;
  return bytes.toString('utf8');
}

// ---------------------------------------------------------------------------------------
// client-first-message

type Gs2Flag = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string };

interface ClientFirst {
  gs2: Gs2Flag;
  /** gs2-header as sent, part of the channel-binding input. */
  gs2Header: string;
  authzid: string | undefined;
  /** Decoded from saslname, not yet prepared. */
  username: string;
  clientNonce: string;
  /** client-first-message-bare, part of AuthMessage. */
  bare: string;
}

function malformed(text: string, username?: string): SaslFailure {
  return saslFailure('malformed-request', text, username);
}

function parseClientFirst(bytes: Buffer): ClientFirst | SaslFailure {
  const msg = messageText(bytes);
  if (msg === undefined) return malformed('not UTF-8, or contains NUL');

  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  let gs2: Gs2Flag;
  let pos: number;
  const first = msg.charAt(0);
  if ((first === 'n' || first === 'y') && msg.charAt(1) === ',') {
    gs2 = { flag: first };
    pos = 2;
  } else if (msg.startsWith('p=')) {
    const comma = msg.indexOf(',', 2);
    if (comma < 0) return malformed('incomplete GS2 header');
    const type = msg.slice(2, comma);
    if (!CB_NAME.test(type)) return malformed('invalid channel-binding type name');
    gs2 = { flag: 'p', type };
    pos = comma + 1;
  } else {
    return malformed('invalid GS2 channel-binding flag');
  }

  let authzid: string | undefined;
  if (msg.startsWith('a=', pos)) {
    const comma = msg.indexOf(',', pos + 2);
    if (comma < 0) return malformed('incomplete GS2 header');
    authzid = decodeSaslname(msg.slice(pos + 2, comma));
    if (authzid === undefined) return malformed('invalid authzid encoding');
    pos = comma + 1;
  } else if (msg.charAt(pos) === ',') {
    pos++;
  } else {
    return malformed('invalid GS2 header');
  }

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  const bare = msg.slice(pos);
  const attrs = bare.split(',');
  if (attrs[0]!.startsWith('m=')) return malformed('mandatory extensions are not supported');
  if (attrs.length < 2 || !attrs[0]!.startsWith('n=') || !attrs[1]!.startsWith('r=')) {
    return malformed('expected n= and r= attributes');
  }
  const username = decodeSaslname(attrs[0]!.slice(2));
  if (username === undefined) return malformed('invalid username encoding');
  const clientNonce = attrs[1]!.slice(2);
  if (!isPrintableNonce(clientNonce)) return malformed('invalid nonce');
  for (let i = 2; i < attrs.length; i++) {
    if (!isAttrVal(attrs[i]!)) return malformed('invalid extension attribute');
  }
  return { gs2, gs2Header: msg.slice(0, pos), authzid, username, clientNonce, bare };
}

// ---------------------------------------------------------------------------------------
// client-final-message

interface ClientFinal {
  channelBinding: string;
  nonce: string;
  proof: Buffer;
  /** client-final-message-without-proof, part of AuthMessage. */
  withoutProof: string;
}

function parseClientFinal(bytes: Buffer, hash: ScramHash, username: string): ClientFinal | SaslFailure {
  const msg = messageText(bytes);
  if (msg === undefined) return malformed('not UTF-8, or contains NUL', username);
  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  const attrs = msg.split(',');
  const last = attrs.length - 1;
  if (
    attrs.length < 3 ||
    !attrs[0]!.startsWith('c=') ||
    !attrs[1]!.startsWith('r=') ||
    !attrs[last]!.startsWith('p=')
  ) {
    return malformed('expected c=, r= and, last, p= attributes', username);
  }
  for (let i = 2; i < last; i++) {
    if (!isAttrVal(attrs[i]!)) return malformed('invalid extension attribute', username);
  }
  const channelBinding = attrs[0]!.slice(2);
  if (!BASE64.test(channelBinding))
    return saslFailure('incorrect-encoding', 'invalid base64 in c=', username);
  const proofText = attrs[last]!.slice(2);
  if (!BASE64.test(proofText)) return saslFailure('incorrect-encoding', 'invalid base64 in p=', username);
  const proof = Buffer.from(proofText, 'base64');
  if (proof.length !== HASH_SIZE[hash]) return malformed('proof of the wrong length', username);
  const withoutProof = msg.slice(0, msg.length - attrs[last]!.length - 1);
  return { channelBinding, nonce: attrs[1]!.slice(2), proof, withoutProof };
}

// ---------------------------------------------------------------------------------------
// The exchange

export interface ScramOptions {
  /** The server's part of the nonce. Only tests replace it, to replay the RFC examples. */
  serverNonce?: () => string;
}

function randomServerNonce(): string {
  return randomBytes(SERVER_NONCE_BYTES).toString('base64');
}

/** What the first step settled, for the second. */
interface Pending {
  username: string;
  authzid: string | undefined;
  resolved: ResolvedCredential;
  /** c= the client must send: base64(gs2-header + cbind-data). */
  expectedChannelBinding: string;
  combinedNonce: string;
  /** client-first-message-bare + "," + server-first-message + ",", the head of AuthMessage. */
  authHead: string;
}

/** Checks the GS2 flag against the mechanism and the connection (RFC 5802 §6). */
function channelBindingData(
  gs2: Gs2Flag,
  plus: boolean,
  ctx: SaslContext,
): { data: Buffer | undefined } | SaslFailure {
  switch (gs2.flag) {
    case 'p': {
      if (!plus) return malformed('channel binding requested with a mechanism without -PLUS');
      const data = ctx.channelBindings.get(gs2.type as ChannelBindingType);
      if (!data) return saslFailure('not-authorized', 'unsupported channel-binding type');
      return { data };
    }
    case 'y':
      if (plus) return malformed('a -PLUS mechanism requires channel binding');
      // The client can bind but believes we cannot: someone removed -PLUS from our offer.
      if (ctx.plusOffered) return saslFailure('not-authorized', 'the server does support channel binding');
      return { data: undefined };
    case 'n':
      if (plus) return malformed('a -PLUS mechanism requires channel binding');
      return { data: undefined };
  }
}

class ScramExchange {
  private pending: Pending | undefined;
  private awaitingFirst = true;
  private sawEmptyInitial = false;

  constructor(
    private readonly hash: ScramHash,
    private readonly plus: boolean,
    private readonly ctx: SaslContext,
    private readonly serverNonce: () => string,
  ) {}

  step(response: Buffer): Promise<SaslStep> {
    if (this.awaitingFirst) return this.first(response);
    return Promise.resolve(this.final(response));
  }

  private async first(response: Buffer): Promise<SaslStep> {
    // No initial response: SCRAM is client-first, so ask for it with an empty challenge (RFC 4422 §3.3).
    if (response.length === 0 && !this.sawEmptyInitial) {
      this.sawEmptyInitial = true;
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    this.awaitingFirst = false;
    const clientFirst = parseClientFirst(response);
    if ('kind' in clientFirst) return clientFirst;
    const binding = channelBindingData(clientFirst.gs2, this.plus, this.ctx);
    if ('kind' in binding) return binding;

    const username = this.ctx.prepareUsername(clientFirst.username);
    if (username === undefined) return saslFailure('not-authorized', 'invalid username');
    const resolved = await resolveCredential(this.ctx, username, this.hash);
    const { credential } = resolved;
    if (
      credential.storedKey.length !== HASH_SIZE[this.hash] ||
      credential.serverKey.length !== HASH_SIZE[this.hash]
    ) {
      throw new Error(`stored ${this.hash} credential for ${username} has keys of the wrong length`);
    }

    const combinedNonce = clientFirst.clientNonce + this.serverNonce();
    const salt = credential.salt.toString('base64');
    const serverFirst = `r=${combinedNonce},s=${salt},i=${credential.iterations}`;
    const cbindInput = binding.data
      ? Buffer.concat([Buffer.from(clientFirst.gs2Header), binding.data])
      : Buffer.from(clientFirst.gs2Header);
    this.pending = {
      username,
      authzid: clientFirst.authzid,
      resolved,
      expectedChannelBinding: cbindInput.toString('base64'),
      combinedNonce,
      authHead: `${clientFirst.bare},${serverFirst},`,
    };
    return { kind: 'challenge', data: Buffer.from(serverFirst) };
  }

  private final(response: Buffer): SaslStep {
    const pending = this.pending!;
    const { username } = pending;
    const clientFinal = parseClientFinal(response, this.hash, username);
    if ('kind' in clientFinal) return clientFinal;
    if (clientFinal.nonce !== pending.combinedNonce) {
      return saslFailure('not-authorized', 'nonce mismatch', username);
    }
    if (clientFinal.channelBinding !== pending.expectedChannelBinding) {
      return saslFailure('not-authorized', 'channel bindings do not match', username);
    }

    const { credential, known } = pending.resolved;
    const algorithm = NODE_HASH[this.hash];
    const authMessage = pending.authHead + clientFinal.withoutProof;
    const clientSignature = createHmac(algorithm, credential.storedKey).update(authMessage).digest();
    // ClientKey := ClientProof XOR ClientSignature, in place: the proof is ours to reuse.
    const clientKey = clientFinal.proof;
    for (let i = 0; i < clientKey.length; i++) clientKey[i]! ^= clientSignature[i]!;
    const storedKey = createHash(algorithm).update(clientKey).digest();
    const proofValid = timingSafeEqual(storedKey, credential.storedKey);
    // Same failure, same text, for a stand-in as for a wrong password.
    if (!proofValid || !known) return saslFailure('not-authorized', 'authentication failed', username);

    // Authorization is decided only once the entity is authenticated (RFC 6120 §6.3.8).
    if (pending.authzid !== undefined && !isOwnAuthzid(this.ctx, pending.authzid, username)) {
      return saslFailure('invalid-authzid', 'may not act on behalf of that identity', username);
    }
    const serverSignature = createHmac(algorithm, credential.serverKey).update(authMessage).digest();
    return { kind: 'success', data: Buffer.from(`v=${serverSignature.toString('base64')}`), username };
  }
}

/** A SCRAM mechanism; tests build their own to pin the server nonce. */
export function scramMechanism(hash: ScramHash, plus: boolean, options: ScramOptions = {}): SaslMechanism {
  const serverNonce = options.serverNonce ?? randomServerNonce;
  return Object.freeze({
    name: `SCRAM-${hash}${plus ? '-PLUS' : ''}`,
    requiresTls: plus,
    channelBinding: plus,
    start(ctx: SaslContext) {
      const exchange = new ScramExchange(hash, plus, ctx, serverNonce);
      return guardedExchange((response) => exchange.step(response));
    },
  });
}

export const SCRAM_SHA_1 = scramMechanism('SHA-1', false);
export const SCRAM_SHA_1_PLUS = scramMechanism('SHA-1', true);
export const SCRAM_SHA_256 = scramMechanism('SHA-256', false);
export const SCRAM_SHA_256_PLUS = scramMechanism('SHA-256', true);
