// Self-signed X.509 v3 server certificates, for a server that has no certificate of its own
// yet (a fresh install, a test, a LAN deployment).
//
// RFC 5280 §4.1 (certificate and TBSCertificate structure), §4.2.1 (the extensions used
// here), RFC 5480 §2 (EC subjectPublicKeyInfo), RFC 5758 §3.2 (ecdsa-with-SHA256 carries no
// parameters), RFC 6125 §6.4 (names a client checks: dNSName entries, left-most wildcard),
// RFC 6120 §13.7.1.2 (XMPP server certificates).
//
// The key is ECDSA P-256 rather than RSA because a TLS login signs once per handshake, and a
// P-256 signature costs a small fraction of an RSA-2048 one: login throughput is bounded by
// it. node-forge's pki module signs only with RSA, so the certificate is assembled with
// forge's ASN.1 encoder and signed with node:crypto.

import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import forge from 'node-forge';

export interface SelfSignedOptions {
  /** The domains the certificate is for; the first one becomes the subject's common name. */
  hosts: string[];
  /** How long it stays valid, in days (default 825, the longest browsers ever accepted). */
  days?: number;
}

/** A certificate and its private key, PEM encoded (the key as unencrypted PKCS#8). */
export interface PemPair {
  cert: string;
  key: string;
}

export const DEFAULT_VALIDITY_DAYS = 825;

const { asn1 } = forge;
const { Class, Type } = asn1;

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** RFC 5280 Appendix A.1: ub-common-name. */
const MAX_COMMON_NAME = 64;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on. */
const GENERALIZED_TIME_FROM = Date.UTC(2050, 0, 1);

/**
 * Generates a key pair and a certificate naming every host and every host's subdomains
 * (`*.<host>`), so that one certificate also serves conference.<host> and upload.<host>.
 * It is valid for server and client authentication: the same certificate later
 * authenticates this server to its peers with SASL EXTERNAL.
 */
export function generateSelfSigned(opts: SelfSignedOptions): PemPair {
  const names = certificateNames(opts.hosts);
  const days = opts.days ?? DEFAULT_VALIDITY_DAYS;
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`validity must be a positive number of days`);

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // Whole seconds: the encoded times have no fractions, and a clock a little behind ours
  // must not see a certificate from the future (hence the hour of slack).
  const now = Math.floor(Date.now() / 1000) * 1000;
  const notBefore = new Date(now - HOUR_MS);
  const notAfter = new Date(now + Math.round(days * DAY_MS));

  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const spki = asn1.fromDer(spkiDer.toString('binary'));
  const name = distinguishedName(names.commonName);
  const tbs = seq([
    explicit(0, [integer(asn1.integerToDer(2).getBytes())]), // v3
    integer(serialNumber()),
    signatureAlgorithm(),
    name, // issuer: self-signed, so the same as the subject
    seq([time(notBefore), time(notAfter)]),
    name,
    spki,
    explicit(3, [seq(extensions(names, spki))]),
  ]);
  const tbsDer = derBytes(tbs);
  const signature = signTbs(tbsDer, privateKey);
  const certificate = seq([
    tbs,
    signatureAlgorithm(),
    asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);

  return {
    cert: toPem('CERTIFICATE', derBytes(certificate)),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

interface CertificateNames {
  /** Undefined when the first host is too long to be a common name (RFC 5280 ub-common-name). */
  commonName: string | undefined;
  dnsNames: string[];
  ipAddresses: Buffer[];
}

/** Hosts as a certificate must spell them: A-labels (RFC 5890), lower case, no trailing dot. */
function certificateNames(hosts: readonly string[]): CertificateNames {
  if (hosts.length === 0) throw new RangeError('a certificate needs at least one host');
  const dns = new Set<string>();
  const ips: Buffer[] = [];
  let commonName: string | undefined;
  for (const host of hosts) {
    const ascii = asciiHost(host);
    commonName ??= ascii;
    if (isIP(ascii)) {
      ips.push(ipBytes(ascii));
    } else {
      dns.add(ascii);
      dns.add(`*.${ascii}`);
    }
  }
  if (commonName !== undefined && commonName.length > MAX_COMMON_NAME) commonName = undefined;
  return { commonName, dnsNames: [...dns], ipAddresses: ips };
}

function asciiHost(host: string): string {
  const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
  // RFC 7622 §3.2: an IPv6 domainpart is written in brackets.
  const unbracketed = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  if (isIP(unbracketed)) return unbracketed;
  const ascii = domainToASCII(trimmed);
  if (ascii === '') throw new RangeError(`not a valid domain name: ${JSON.stringify(host)}`);
  return ascii;
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // The URL parser rewrites an embedded IPv4 tail as hex groups, leaving only "::" to expand.
  const normalized = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head = '', tail] = normalized.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const out = Buffer.alloc(16);
  const tailStart = 8 - tailGroups.length;
  for (let i = 0; i < headGroups.length; i++) out.writeUInt16BE(Number.parseInt(headGroups[i]!, 16), i * 2);
  for (let i = 0; i < tailGroups.length; i++) {
    out.writeUInt16BE(Number.parseInt(tailGroups[i]!, 16), (tailStart + i) * 2);
  }
  return out;
}

/** Positive, 16 random bytes, and DER-minimal (the top byte is never 0x00 or ≥ 0x80). */
function serialNumber(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial.toString('binary');
}

function distinguishedName(commonName: string | undefined): forge.asn1.Asn1 {
  // RFC 5280 §4.1.2.4: the issuer must not be empty, so a host too long for a common name
  // gets a generic subject; its names are all in subjectAltName (then critical, §4.2.1.6).
  const [oid, value] =
    commonName === undefined ? [OID.organizationName, 'Warbler'] : [OID.commonName, commonName];
  const attribute = seq([
    objectId(oid),
    asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(value)),
  ]);
  return seq([asn1.create(Class.UNIVERSAL, Type.SET, true, [attribute])]);
}

function extensions(names: CertificateNames, spki: forge.asn1.Asn1): forge.asn1.Asn1[] {
  const altNames = [
    ...names.dnsNames.map((dns) => asn1.create(Class.CONTEXT_SPECIFIC, 2, false, dns)),
    ...names.ipAddresses.map((ip) => asn1.create(Class.CONTEXT_SPECIFIC, 7, false, ip.toString('binary'))),
  ];
  return [
    // cA defaults to FALSE, and DER leaves defaults out: an empty sequence.
    extension(OID.basicConstraints, true, seq([])),
    // Bit 0, digitalSignature: one used bit, seven unused.
    extension(OID.keyUsage, true, asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, '\x07\x80')),
    extension(OID.extKeyUsage, false, seq([objectId(OID.serverAuth), objectId(OID.clientAuth)])),
    extension(OID.subjectAltName, names.commonName === undefined, seq(altNames)),
    extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(spki))),
  ];
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: forge.asn1.Asn1): string {
  const bitString = (spki.value as forge.asn1.Asn1[])[1]!;
  const contents =
    (bitString as { bitStringContents?: string }).bitStringContents ?? (bitString.value as string);
  // The first content octet counts unused bits; the key is what follows.
  return createHash('sha1').update(contents.slice(1), 'binary').digest('binary');
}

function extension(oid: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  const fields = [objectId(oid)];
  if (critical) fields.push(asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, '\xff'));
  fields.push(octets(derBytes(value)));
  return seq(fields);
}

function signatureAlgorithm(): forge.asn1.Asn1 {
  return seq([objectId(OID.ecdsaWithSha256)]);
}

function signTbs(tbsDer: string, key: KeyObject): Buffer {
  // node:crypto's default ECDSA encoding is the DER Ecdsa-Sig-Value X.509 expects.
  return sign('sha256', Buffer.from(tbsDer, 'binary'), key);
}

function time(date: Date): forge.asn1.Asn1 {
  return date.getTime() < GENERALIZED_TIME_FROM
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function seq(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
}

function explicit(tag: number, items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(Class.CONTEXT_SPECIFIC, tag, true, items);
}

function integer(bytes: string): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bytes);
}

function octets(bytes: string): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes);
}

function objectId(oid: string): forge.asn1.Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(oid).getBytes());
}

function derBytes(obj: forge.asn1.Asn1): string {
  return asn1.toDer(obj).getBytes();
}

function toPem(label: string, der: string): string {
  const base64 = Buffer.from(der, 'binary').toString('base64');
  let body = '';
  for (let i = 0; i < base64.length; i += 64) body += base64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
