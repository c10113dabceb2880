// A certificate authority for tests: one root, and server certificates issued by it for any
// names, so that two servers (two Warblers, or Warbler and Prosody) trust each other's
// certificates through a shared CA file, as SASL EXTERNAL between servers needs (XEP-0178).
//
// RFC 5280 §4.1 (certificate structure), §4.2.1.1/2 (authority and subject key identifiers),
// §4.2.1.3 (keyUsage keyCertSign for a CA), §4.2.1.9 (basicConstraints), RFC 6120 §13.7.1.2
// (the identities of an XMPP server certificate: dNSName, SRVName per RFC 4985, XmppAddr).
// Keys are ECDSA P-256; node-forge only signs with RSA, so certificates are assembled with
// forge's ASN.1 encoder and signed with node:crypto.

import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import forge from 'node-forge';

export interface PemPair {
  key: string;
  cert: string;
}

/** Names to put in a certificate, instead of the defaults derived from the domains. */
export interface IssueOptions {
  /** subjectAltName dNSName entries (default: the domains). */
  dns?: string[];
  /** XmppAddr otherName entries (default: the domains). */
  xmppAddr?: string[];
  /** SRVName otherName entries (default: none), e.g. `_xmpp-server.example.org`. */
  srvName?: string[];
  /** The subject common name (default: the first domain; null for none). */
  commonName?: string | null;
}

export interface TestCA {
  /** The root certificate, PEM: what the peers put in their trusted CA file. */
  readonly cert: string;
  /** A certificate for these domains (dNSName and XmppAddr each), valid for server and client auth. */
  issue(domains: string[], options?: IssueOptions): PemPair;
}

const { asn1 } = forge;
const { Class, Type } = asn1;
type Asn1 = forge.asn1.Asn1;

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  xmppAddr: '1.3.6.1.5.5.7.8.5',
  srvName: '1.3.6.1.5.5.7.8.7',
} as const;

const DAY_MS = 86_400_000;

interface Issuer {
  name: Asn1;
  key: KeyObject;
  keyId: string;
}

/** A fresh root CA (its key stays in memory). */
export function createTestCA(label = 'Warbler Test CA'): TestCA {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = spkiOf(publicKey);
  const keyId = keyIdentifier(spki);
  const name = distinguishedName(label);
  const issuer: Issuer = { name, key: privateKey, keyId };
  const cert = certificate(issuer, name, spki, [
    extension(OID.basicConstraints, true, seq([asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, '\xff')])),
    // keyCertSign (bit 5) and cRLSign (bit 6): one byte, one unused bit.
    extension(OID.keyUsage, true, asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, '\x01\x06')),
    extension(OID.subjectKeyIdentifier, false, octets(keyId)),
  ]);
  return {
    cert,
    issue(domains, options = {}) {
      return issueLeaf(issuer, domains, options);
    },
  };
}

/** A self-signed certificate naming these domains, as a server without a CA would have. */
export function selfSigned(domains: string[], options: IssueOptions = {}): PemPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // Signed by its own key: the issuer name is the subject's.
  const commonName = options.commonName === undefined ? domains[0] : options.commonName;
  const issuer: Issuer = { name: distinguishedName(commonName ?? null), key: privateKey, keyId: '' };
  return issueLeaf(issuer, domains, options, privateKey);
}

function issueLeaf(issuer: Issuer, domains: string[], options: IssueOptions, ownKey?: KeyObject): PemPair {
  const pair = ownKey ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const spki = spkiOf(createPublicKey(pair));
  const altNames = [
    ...(options.dns ?? domains).map((d) => asn1.create(Class.CONTEXT_SPECIFIC, 2, false, d)),
    ...(options.xmppAddr ?? domains).map((a) =>
      otherName(OID.xmppAddr, asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(a))),
    ),
    ...(options.srvName ?? []).map((s) =>
      otherName(OID.srvName, asn1.create(Class.UNIVERSAL, Type.IA5STRING, false, s)),
    ),
  ];
  const commonName = options.commonName === undefined ? (domains[0] ?? null) : options.commonName;
  const extensions = [
    extension(OID.basicConstraints, true, seq([])),
    // digitalSignature (bit 0).
    extension(OID.keyUsage, true, asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, '\x07\x80')),
    extension(OID.extKeyUsage, false, seq([objectId(OID.serverAuth), objectId(OID.clientAuth)])),
    extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(spki))),
  ];
  if (altNames.length > 0) extensions.push(extension(OID.subjectAltName, commonName === null, seq(altNames)));
  if (issuer.keyId !== '') {
    extensions.push(
      extension(
        OID.authorityKeyIdentifier,
        false,
        seq([asn1.create(Class.CONTEXT_SPECIFIC, 0, false, issuer.keyId)]),
      ),
    );
  }
  const cert = certificate(issuer, distinguishedName(commonName), spki, extensions);
  return { key: pair.export({ type: 'pkcs8', format: 'pem' }).toString(), cert };
}

function certificate(issuer: Issuer, subject: Asn1, spki: Asn1, extensions: Asn1[]): string {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const tbs = seq([
    asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [integer('\x02')]),
    integer(serial.toString('binary')),
    seq([objectId(OID.ecdsaWithSha256)]),
    issuer.name,
    seq([utcTime(new Date(now - DAY_MS)), utcTime(new Date(now + 30 * DAY_MS))]),
    subject,
    spki,
    asn1.create(Class.CONTEXT_SPECIFIC, 3, true, [seq(extensions)]),
  ]);
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), issuer.key);
  const der = asn1
    .toDer(
      seq([
        tbs,
        seq([objectId(OID.ecdsaWithSha256)]),
        asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
      ]),
    )
    .getBytes();
  const base64 = Buffer.from(der, 'binary').toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

function spkiOf(publicKey: KeyObject): Asn1 {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Asn1): string {
  const bits = (spki.value as Asn1[])[1]!;
  const contents = (bits as { bitStringContents?: string }).bitStringContents ?? (bits.value as string);
  return createHash('sha1').update(contents.slice(1), 'binary').digest('binary');
}

function distinguishedName(commonName: string | null): Asn1 {
  if (commonName === null) return seq([]);
  const attribute = seq([
    objectId(OID.commonName),
    asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(commonName)),
  ]);
  return seq([asn1.create(Class.UNIVERSAL, Type.SET, true, [attribute])]);
}

function otherName(oid: string, value: Asn1): Asn1 {
  return asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [
    objectId(oid),
    asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [value]),
  ]);
}

function extension(oid: string, critical: boolean, value: Asn1): Asn1 {
  const fields = [objectId(oid)];
  if (critical) fields.push(asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, '\xff'));
  fields.push(octets(asn1.toDer(value).getBytes()));
  return seq(fields);
}

function utcTime(date: Date): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(date));
}

function seq(items: Asn1[]): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
}

function integer(bytes: string): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bytes);
}

function octets(bytes: string): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes);
}

function objectId(oid: string): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(oid).getBytes());
}
