// PLAIN, server side, over TLS only.
//
// RFC 4616 §2 (message = [authzid] UTF8NUL authcid UTF8NUL passwd), §4 (verification);
// RFC 6120 §6.3.8 (authzid in XMPP), §13.8 (PLAIN only under TLS).
//
// No password is stored, so a PLAIN password is checked the SCRAM way: derive SaltedPassword
// with the stored salt and iteration count, and compare StoredKey. That PBKDF2 is the one
// expensive step of a PLAIN login; it runs on the threadpool.

import { isUtf8 } from 'node:buffer';
import {
  guardedExchange,
  isOwnAuthzid,
  type SaslContext,
  type SaslMechanism,
  type SaslStep,
  type ScramHash,
  saslFailure,
} from './mechanism.js';
import { type ResolvedCredential, saltedPassword, saltedPasswordMatches, standIn } from './scram.js';

interface PlainMessage {
  authzid: string;
  authcid: string;
  password: string;
}

function parsePlain(bytes: Buffer): PlainMessage | undefined {
  if (!isUtf8(bytes)) return undefined;
  const first = bytes.indexOf(0);
  if (first < 0) return undefined;
  const second = bytes.indexOf(0, first + 1);
  if (second < 0 || bytes.indexOf(0, second + 1) >= 0) return undefined;
  // authcid and passwd are 1*SAFE: neither may be empty. authzid may be.
  if (second === first + 1 || second === bytes.length - 1) return undefined;
  return {
    authzid: bytes.toString('utf8', 0, first),
    authcid: bytes.toString('utf8', first + 1, second),
    password: bytes.toString('utf8', second + 1),
  };
}

/**
 * SCRAM-SHA-256 when the account has it, else SCRAM-SHA-1; for an unknown user a SHA-256
 * stand-in, like most accounts have.
 */
async function credentialFor(
  ctx: SaslContext,
  username: string,
): Promise<{ hash: ScramHash; resolved: ResolvedCredential }> {
  const sha256 = await ctx.getCredential(username, 'SHA-256');
  if (sha256) return { hash: 'SHA-256', resolved: { credential: sha256, known: true } };
  const sha1 = await ctx.getCredential(username, 'SHA-1');
  if (sha1) return { hash: 'SHA-1', resolved: { credential: sha1, known: true } };
  return { hash: 'SHA-256', resolved: standIn(ctx, username, 'SHA-256') };
}

async function verify(ctx: SaslContext, response: Buffer): Promise<SaslStep> {
  const message = parsePlain(response);
  if (!message) return saslFailure('malformed-request', 'expected [authzid] NUL authcid NUL password');
  const username = ctx.prepareUsername(message.authcid);
  if (username === undefined) return saslFailure('not-authorized', 'invalid username');
  const password = ctx.preparePassword(message.password);
  if (password === undefined) return saslFailure('not-authorized', 'authentication failed', username);

  const { hash, resolved } = await credentialFor(ctx, username);
  const { credential, known } = resolved;
  // The stand-in costs the same PBKDF2 as a real account, so timing does not tell them apart.
  const salted = await saltedPassword(password, credential.salt, credential.iterations, hash);
  const matches = saltedPasswordMatches(salted, hash, credential);
  if (!matches || !known) return saslFailure('not-authorized', 'authentication failed', username);

  if (message.authzid !== '' && !isOwnAuthzid(ctx, message.authzid, username)) {
    return saslFailure('invalid-authzid', 'may not act on behalf of that identity', username);
  }
  return { kind: 'success', data: undefined, username };
}

export const PLAIN: SaslMechanism = Object.freeze({
  name: 'PLAIN',
  requiresTls: true,
  channelBinding: false,
  start(ctx: SaslContext) {
    let first = true;
    return guardedExchange(async (response) => {
      // The stream code should not have offered PLAIN here; refuse rather than read a password in the clear.
      if (!ctx.secure) return saslFailure('encryption-required', 'PLAIN requires TLS');
      if (first) {
        first = false;
        // No initial response: ask for the message with an empty challenge (RFC 4422 §3.3).
        if (response.length === 0) return { kind: 'challenge', data: Buffer.alloc(0) };
      }
      return verify(ctx, response);
    });
  },
});
