// TLS channel bindings, the data SCRAM-*-PLUS mixes into its proofs so that a login cannot be
// relayed through a man in the middle.
//
// RFC 5929 §4 (tls-server-end-point: a hash of the server's certificate, the hash chosen by
// §4.1 from the certificate's signature algorithm), RFC 9266 §2 (tls-exporter: 32 bytes of
// exported keying material, label "EXPORTER-Channel-Binding", empty context) and §3 (it is
// defined for TLS 1.3 only), XEP-0440 (advertising which types a server supports).
// tls-unique (RFC 5929 §3) is kept for clients that know nothing else (see COMPAT below):
// advertised on TLS 1.2, where it is safe with the extended master secret (RFC 7627) OpenSSL
// negotiates by default, and accepted but not advertised on TLS 1.3, for which it is undefined.

import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_LENGTH = 32;
const EMPTY_CONTEXT = Buffer.alloc(0);

/**
 * The channel bindings available on a server-side socket after its handshake. tls-exporter
 * is present only on TLS 1.3; tls-server-end-point only when the certificate's signature
 * algorithm names a single hash (RFC 5929 leaves it undefined for Ed25519 and the like).
 * The returned buffers may be shared between calls: do not modify them.
 *
 * `serverEndPoint` is the tls-server-end-point of the certificate the socket presented, when
 * the caller knows it (CertificateStore computes it once per certificate), null when that
 * certificate has none. Without it, it is read from the socket: a certificate parse, about
 * 0.3 ms, more than the rest of a login's channel-binding work together.
 */
export function channelBindings(
  socket: TLSSocket,
  serverEndPoint?: Buffer | null,
): Map<ChannelBindingType, Buffer> {
  const bindings = new Map<ChannelBindingType, Buffer>();
  if (socket.getProtocol() === 'TLSv1.3') {
    bindings.set('tls-exporter', socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, EMPTY_CONTEXT));
  }
  const endPoint = serverEndPoint === undefined ? socketServerEndPoint(socket) : serverEndPoint;
  if (endPoint) bindings.set('tls-server-end-point', endPoint);
  // COMPAT: slixmpp (1.8, as in Debian 12) and other OpenSSL-based clients offer only
  // tls-unique, and choose a -PLUS mechanism whenever one is offered. tls-unique is the
  // first Finished message of the handshake (RFC 5929 §3.1): the client's in a full
  // handshake, ours in a resumed TLS 1.2 one. RFC 9266 retires it for TLS 1.3, where OpenSSL
  // clients still compute it as the client's Finished; it is accepted there but never
  // advertised (see advertisedChannelBindings), so clients that follow XEP-0440 pick tls-exporter.
  const unique =
    socket.isSessionReused() && socket.getProtocol() !== 'TLSv1.3'
      ? socket.getFinished()
      : socket.getPeerFinished();
  if (unique) bindings.set('tls-unique', unique);
  return bindings;
}

/**
 * RFC 5929 §4.1: the certificate hashed with the hash of its signature algorithm, except that
 * MD5 and SHA-1 are replaced by SHA-256. Throws when that is undefined (no single hash).
 */
export function tlsServerEndPoint(certDer: Buffer): Buffer {
  const endPoint = serverEndPointOf(certDer);
  if (endPoint === null) {
    throw new Error(
      'tls-server-end-point is undefined for this certificate: its signature algorithm has no single hash',
    );
  }
  return endPoint;
}

/** tls-server-end-point of a certificate (RFC 5929 §4.1), or null where it is undefined. */
export function serverEndPointOf(certDer: Buffer): Buffer | null {
  const hash = endPointHash(certDer);
  return hash === undefined ? null : createHash(hash).update(certDer).digest();
}

// Callers that do not know which certificate a socket presented: the answers are kept, keyed
// by the certificate's SHA-256 fingerprint. `null` remembers "undefined for this one".
const endPointCache = new Map<string, Buffer | null>();
const MAX_CACHED = 64;

function socketServerEndPoint(socket: TLSSocket): Buffer | null {
  const cert = socket.getX509Certificate();
  if (!cert) return null;
  const key = cert.fingerprint256;
  let endPoint = endPointCache.get(key);
  if (endPoint === undefined) {
    endPoint = serverEndPointOf(cert.raw);
    // Certificates change only on reload; dropping everything now and then keeps this bounded.
    if (endPointCache.size >= MAX_CACHED) endPointCache.clear();
    endPointCache.set(key, endPoint);
  }
  return endPoint;
}

type HashName = 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Signature algorithm OID → the hash RFC 5929 §4.1 prescribes for it. */
const HASH_BY_SIGNATURE: ReadonlyMap<string, HashName> = new Map([
  ['1.2.840.113549.1.1.4', 'sha256'], // md5WithRSAEncryption
  ['1.2.840.113549.1.1.5', 'sha256'], // sha1WithRSAEncryption
  ['1.2.840.113549.1.1.14', 'sha224'], // sha224WithRSAEncryption
  ['1.2.840.113549.1.1.11', 'sha256'], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.12', 'sha384'], // sha384WithRSAEncryption
  ['1.2.840.113549.1.1.13', 'sha512'], // sha512WithRSAEncryption
  ['1.2.840.10045.4.1', 'sha256'], // ecdsa-with-SHA1
  ['1.2.840.10045.4.3.1', 'sha224'], // ecdsa-with-SHA224
  ['1.2.840.10045.4.3.2', 'sha256'], // ecdsa-with-SHA256
  ['1.2.840.10045.4.3.3', 'sha384'], // ecdsa-with-SHA384
  ['1.2.840.10045.4.3.4', 'sha512'], // ecdsa-with-SHA512
  ['1.2.840.10040.4.3', 'sha256'], // dsa-with-sha1
  ['2.16.840.1.101.3.4.3.1', 'sha224'], // dsa-with-sha224
  ['2.16.840.1.101.3.4.3.2', 'sha256'], // dsa-with-sha256
]);

/** RSASSA-PSS names its hash in its parameters (RFC 4055 §3.1). */
const RSASSA_PSS = '1.2.840.113549.1.1.10';
/** id-sha1, RSASSA-PSS's default hash. */
const SHA1 = '1.3.14.3.2.26';

/** Digest algorithm OID → hash, for RSASSA-PSS parameters (SHA-1 again becomes SHA-256). */
const HASH_BY_DIGEST: ReadonlyMap<string, HashName> = new Map([
  [SHA1, 'sha256'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

type Asn1 = forge.asn1.Asn1;

// The typings admit only the boolean form of fromDer's options. Bit strings stay undecoded:
// nothing here looks inside the key or the signature.
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { decodeBitStrings: boolean },
) => Asn1;

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1). */
function endPointHash(certDer: Buffer): HashName | undefined {
  const certificate = fromDer(certDer.toString('binary'), { decodeBitStrings: false });
  const algorithm = children(certificate)[1];
  if (!algorithm) throw new Error('not an X.509 certificate: no signatureAlgorithm');
  const [oidNode, parameters] = children(algorithm);
  if (!oidNode || oidNode.type !== forge.asn1.Type.OID)
    throw new Error('not an X.509 certificate: bad signatureAlgorithm');
  const oid = forge.asn1.derToOid(oidNode.value as string);
  if (oid === RSASSA_PSS) return pssHash(parameters);
  return HASH_BY_SIGNATURE.get(oid);
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, ... } */
function pssHash(parameters: Asn1 | undefined): HashName | undefined {
  if (!parameters || parameters.type !== forge.asn1.Type.SEQUENCE) return HASH_BY_DIGEST.get(SHA1);
  const hashField = children(parameters).find(
    (field) => field.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && field.type === 0,
  );
  if (!hashField) return HASH_BY_DIGEST.get(SHA1);
  const digestOid = children(children(hashField)[0])[0];
  if (!digestOid || digestOid.type !== forge.asn1.Type.OID) return undefined;
  return HASH_BY_DIGEST.get(forge.asn1.derToOid(digestOid.value as string));
}

function children(node: Asn1 | undefined): Asn1[] {
  return node && Array.isArray(node.value) ? node.value : [];
}

/** The channel-binding types to list in XEP-0440 <sasl-channel-binding/> for these bindings. */
export function advertisedChannelBindings(
  bindings: ReadonlyMap<ChannelBindingType, Buffer>,
): ChannelBindingType[] {
  const tls13 = bindings.has('tls-exporter');
  return [...bindings.keys()].filter((type) => !(tls13 && type === 'tls-unique'));
}
