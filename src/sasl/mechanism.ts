// The server side of a SASL mechanism, as a pure unit: the stream code owns the XML and the
// base64 of <auth/>, <challenge/>, <response/>, <success/> and <failure/>, and hands each
// exchange the raw bytes.
//
// RFC 4422 §3 (the SASL exchange, initial response), §5 (mechanism profile);
// RFC 6120 §6.4 (SASL in XMPP: the exchange, §6.4.5 failure conditions, §6.3.8 authzid).

import { tryParseJID } from '../jid.js';

export type ScramHash = 'SHA-1' | 'SHA-256';

/** What the server keeps for a password, per hash (RFC 5802 §3): never the password itself. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * RFC 5929 §4 (tls-server-end-point), RFC 9266 (tls-exporter), and RFC 5929 §3 (tls-unique),
 * which is accepted for clients that know nothing else (see src/tls/channel-binding.ts).
 */
export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

/** RFC 6120 §6.5. */
export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export interface SaslFailure {
  kind: 'failure';
  condition: SaslFailureCondition;
  /** Human-readable, safe to send to the client in <text/>. */
  text?: string;
  /** The prepared username the client claimed, when known: for logging and throttling. */
  username?: string;
  /** What went wrong inside the server (temporary-auth-failure): for the log only, never sent. */
  cause?: unknown;
}

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  /** username: the prepared localpart that authenticated. */
  | { kind: 'success'; data: Buffer | undefined; username: string }
  | SaslFailure;

/**
 * One authentication attempt. The first call carries the initial response (an empty Buffer
 * when the client sent none), each later call one <response/>. After a success or a failure
 * every further call answers failure malformed-request; step() never rejects.
 */
export interface SaslExchange {
  step(response: Buffer): Promise<SaslStep>;
}

export interface SaslContext {
  /** TLS is active on this connection. */
  secure: boolean;
  /** The channel-binding data this connection can provide (empty without TLS). */
  channelBindings: ReadonlyMap<ChannelBindingType, Buffer>;
  /** Whether -PLUS mechanisms were offered on this stream: a client's 'y' flag is then a downgrade. */
  plusOffered: boolean;
  /** The PRECIS-prepared localpart, or undefined when the raw name is not a valid one. */
  prepareUsername(raw: string): string | undefined;
  /** The SASLprep-ed password, or undefined when it holds prohibited characters. */
  preparePassword(raw: string): string | undefined;
  /** undefined: no such user. */
  getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined>;
  /** The authenticated entity's bare JID for a username, to compare against a given authzid. */
  bareJid(username: string): string;
  /**
   * The iteration count new credentials get on this server. An unknown user is answered with a
   * stand-in credential using it, so that the answer looks like a real account's.
   * Defaults to DEFAULT_SCRAM_ITERATIONS.
   */
  defaultIterations?: number;
}

export interface SaslMechanism {
  /** As registered with IANA and offered in <mechanisms/>. */
  name: string;
  /** Never offered nor accepted on a connection without TLS. */
  requiresTls: boolean;
  /** A -PLUS mechanism: offered only when the connection can provide channel bindings. */
  channelBinding: boolean;
  start(ctx: SaslContext): SaslExchange;
}

/**
 * The iteration count for new credentials when the configuration says nothing: RFC 7677 §4's
 * minimum, and the default of the auth.scram_iterations option (keep the two equal, or an
 * unknown user's stand-in stands out).
 */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

/**
 * Whether an authzid names the authenticated user itself (RFC 6120 §6.3.8), compared as JIDs:
 * a client that writes its address as the user typed it ("Juliet@Example.COM") means itself.
 */
export function isOwnAuthzid(ctx: SaslContext, authzid: string, username: string): boolean {
  const own = ctx.bareJid(username);
  return authzid === own || tryParseJID(authzid)?.full === own;
}

export function saslFailure(condition: SaslFailureCondition, text?: string, username?: string): SaslFailure {
  const failure: SaslFailure = { kind: 'failure', condition };
  if (text !== undefined) failure.text = text;
  if (username !== undefined) failure.username = username;
  return failure;
}

/** A mechanism's step logic: sees each response in turn, until it answers success or failure. */
export type StepHandler = (response: Buffer) => Promise<SaslStep>;

/**
 * Wraps a mechanism's step logic with what every exchange promises its caller: one step at a
 * time, nothing accepted after the outcome, and no rejection escaping (a thrown error, such
 * as a storage failure, becomes temporary-auth-failure with the error as its cause).
 */
export function guardedExchange(handle: StepHandler): SaslExchange {
  let finished = false;
  let busy = false;
  return {
    async step(response: Buffer): Promise<SaslStep> {
      if (finished) return saslFailure('malformed-request', 'the authentication exchange is over');
      if (busy)
        return saslFailure('malformed-request', 'a response arrived before the previous one was answered');
      busy = true;
      try {
        const result = await handle(response);
        if (result.kind !== 'challenge') finished = true;
        return result;
      } catch (cause) {
        finished = true;
        const failure = saslFailure('temporary-auth-failure');
        failure.cause = cause;
        return failure;
      } finally {
        busy = false;
      }
    },
  };
}
