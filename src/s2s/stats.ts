// Counts of how server-to-server streams were authenticated: for operators (and for tests,
// which must know that a certificate, not dialback, let a peer in).

export interface S2SStats {
  /** Incoming streams whose peer proved its domain with SASL EXTERNAL (XEP-0178). */
  inboundExternal: number;
  /** Domain pairs proved on incoming streams by dialback (XEP-0220), or by certificate for dialback (XEP-0344). */
  inboundDialback: number;
  /** Outgoing streams we authenticated with SASL EXTERNAL. */
  outboundExternal: number;
  /** Outgoing streams we authenticated with dialback. */
  outboundDialback: number;
}

export function emptyStats(): S2SStats {
  return { inboundExternal: 0, inboundDialback: 0, outboundExternal: 0, outboundDialback: 0 };
}
