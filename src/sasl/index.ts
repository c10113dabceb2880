// The SASL mechanisms Warbler offers to clients, strongest first, and which of them a given
// connection may see.
//
// RFC 6120 §6.4.1 (mechanisms offered in <mechanisms/>, §13.8 PLAIN only under TLS);
// RFC 5802 §6 (-PLUS only where channel binding is possible).

import type { ChannelBindingType, SaslMechanism } from './mechanism.js';
import { PLAIN } from './plain.js';
import { SCRAM_SHA_1, SCRAM_SHA_1_PLUS, SCRAM_SHA_256, SCRAM_SHA_256_PLUS } from './scram.js';

export type * from './mechanism.js';
export { DEFAULT_SCRAM_ITERATIONS } from './mechanism.js';
export { PLAIN } from './plain.js';
export {
  deriveScramCredential,
  SCRAM_SHA_1,
  SCRAM_SHA_1_PLUS,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  saltedPassword,
} from './scram.js';

/** In order of preference: clients generally pick the first they support. */
export const MECHANISMS: readonly SaslMechanism[] = Object.freeze([
  SCRAM_SHA_256_PLUS,
  SCRAM_SHA_1_PLUS,
  SCRAM_SHA_256,
  SCRAM_SHA_1,
  PLAIN,
]);

const BY_NAME: ReadonlyMap<string, SaslMechanism> = new Map(MECHANISMS.map((m) => [m.name, m]));

export interface OfferOptions {
  /** TLS is active on this connection. */
  secure: boolean;
  /** The channel-binding types this connection can provide. */
  channelBindings: ReadonlySet<ChannelBindingType> | ReadonlyMap<ChannelBindingType, unknown>;
  /** Configuration: whether PLAIN may be offered at all (it never is without TLS). */
  allowPlain: boolean;
  /** Configuration: mechanism names allowed on this host; every mechanism when absent. */
  allowed?: readonly string[];
}

/** The mechanisms to offer on a connection, in order of preference. */
export function offeredMechanisms(opts: OfferOptions): SaslMechanism[] {
  const offered: SaslMechanism[] = [];
  for (const mechanism of MECHANISMS) {
    if (mechanism.requiresTls && !opts.secure) continue;
    if (mechanism.channelBinding && opts.channelBindings.size === 0) continue;
    if (mechanism === PLAIN && !opts.allowPlain) continue;
    if (opts.allowed && !opts.allowed.includes(mechanism.name)) continue;
    offered.push(mechanism);
  }
  return offered;
}

/**
 * The mechanism a client selected in <auth mechanism='...'/> (names are case-sensitive, RFC 4422
 * §3.1). It may be one this connection was not offered: the caller checks that against its offer.
 */
export function findMechanism(name: string): SaslMechanism | undefined {
  return BY_NAME.get(name);
}
