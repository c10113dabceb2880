// Does a peer server's certificate prove the domain it claims?
//
// RFC 6120 §13.7.1.2 (the identities in an XMPP server certificate: SRV-ID `_xmpp-server.<domain>`,
// DNS-ID, and the XmppAddr otherName), §13.7.2.1 (the receiving server checks them), RFC 6125
// §6.4 (matching: §6.4.1 A-labels compared case-insensitively; §6.4.3 a wildcard only as the whole
// left-most label, matching exactly one label; §6.4.4 the common name only when the certificate
// has no identifier of the types the application looks for), RFC 4985 §2 (SRVName otherName,
// 1.3.6.1.5.5.7.8.7, IA5String `_service.name`), RFC 6120 §13.7.1.4 (XmppAddr otherName,
// 1.3.6.1.5.5.7.8.5, UTF8String), XEP-0368 §3 (`_xmpps-server` for direct TLS, validated the
// same way).
//
// Node's X509Certificate.checkHost knows DNS names but not the two otherNames, so the names are
// read from the certificate's DER here.

import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { domainToASCII } from 'node:url';
import forge from 'node-forge';

export interface CertificateNames {
  /** subjectAltName dNSName entries, lower case, as written (A-labels, maybe a `*.` label). */
  dns: string[];
  /** id-on-xmppAddr otherName values, as written (UTF-8). */
  xmppAddr: string[];
  /** SRVName otherName values, as written (`_service.domain`). */
  srvName: string[];
  /** The subject's common names. */
  commonName: string[];
}

const OID = {
  subjectAltName: '2.5.29.17',
  commonName: '2.5.4.3',
  xmppAddr: '1.3.6.1.5.5.7.8.5',
  srvName: '1.3.6.1.5.5.7.8.7',
} as const;

/** The SRV services whose SRVName vouches for an XMPP server (STARTTLS and direct TLS). */
const SERVER_SERVICES = ['_xmpp-server.', '_xmpps-server.'];

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

/** The identities a certificate names. A certificate too damaged to parse names nothing. */
export function certificateNames(cert: X509Certificate | PeerCertificate): CertificateNames {
  const names: CertificateNames = { dns: [], xmppAddr: [], srvName: [], commonName: [] };
  let tbs: Asn1[];
  try {
    if (cert.raw === undefined) return names;
    const root = asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')));
    tbs = children(children(root)[0]);
  } catch {
    return names;
  }
  // TBSCertificate: [0] version is optional, so find the fields relative to it.
  const offset = tbs[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  const subject = tbs[offset + 4];
  if (subject !== undefined) names.commonName = commonNames(subject);
  const extensions = tbs.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  if (extensions === undefined) return names;
  for (const extension of children(children(extensions)[0])) {
    const fields = children(extension);
    if (oidOf(fields[0]) !== OID.subjectAltName) continue;
    const value = fields[fields.length - 1];
    if (value === undefined || typeof value.value !== 'string') continue;
    try {
      readAltNames(asn1.fromDer(forge.util.createBuffer(value.value)), names);
    } catch {
      // A subjectAltName that does not parse vouches for nothing.
    }
  }
  return names;
}

function readAltNames(san: Asn1, names: CertificateNames): void {
  for (const name of children(san)) {
    if (name.tagClass !== asn1.Class.CONTEXT_SPECIFIC) continue;
    if (name.type === 2 && typeof name.value === 'string') {
      // dNSName, IA5String
      names.dns.push(name.value.toLowerCase());
    } else if (name.type === 0) {
      // otherName: type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY
      const [typeId, wrapped] = children(name);
      const inner = children(wrapped)[0];
      if (inner === undefined || typeof inner.value !== 'string') continue;
      const oid = oidOf(typeId);
      if (oid === OID.xmppAddr && inner.type === asn1.Type.UTF8) {
        names.xmppAddr.push(forge.util.decodeUtf8(inner.value));
      } else if (oid === OID.srvName && inner.type === asn1.Type.IA5STRING) {
        names.srvName.push(inner.value);
      }
    }
  }
}

function commonNames(subject: Asn1): string[] {
  const out: string[] = [];
  for (const rdn of children(subject)) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      if (oidOf(type) !== OID.commonName || value === undefined || typeof value.value !== 'string') continue;
      out.push(value.type === asn1.Type.UTF8 ? forge.util.decodeUtf8(value.value) : value.value);
    }
  }
  return out;
}

function children(node: Asn1 | undefined): Asn1[] {
  return node !== undefined && Array.isArray(node.value) ? node.value : [];
}

function oidOf(node: Asn1 | undefined): string | undefined {
  if (node === undefined || node.type !== asn1.Type.OID || typeof node.value !== 'string') return undefined;
  return asn1.derToOid(forge.util.createBuffer(node.value));
}

/** A domain or reference name as RFC 6125 §6.4.1 compares it: A-labels, lower case, no trailing dot. */
function comparable(name: string): string | undefined {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const ascii = domainToASCII(trimmed);
  return ascii === '' ? undefined : ascii.toLowerCase();
}

/** RFC 6125 §6.4.3: `*` only as the whole left-most label, standing for exactly one label. */
function dnsNameMatches(presented: string, domain: string): boolean {
  if (!presented.startsWith('*.')) return comparable(presented) === domain;
  const rest = comparable(presented.slice(2));
  if (rest === undefined || rest.includes('*')) return false;
  const dot = domain.indexOf('.');
  return dot > 0 && domain.slice(dot + 1) === rest;
}

/**
 * Whether the certificate names `domain` as an XMPP server: an SRVName for the XMPP server
 * services, a dNSName (wildcards allowed), or an XmppAddr equal to the domain; the common name
 * only when the certificate has none of those.
 */
export function certificateMatchesDomain(cert: X509Certificate | PeerCertificate, domain: string): boolean {
  const wanted = comparable(domain);
  if (wanted === undefined) return false;
  const names = certificateNames(cert);
  if (names.srvName.some((srv) => SERVER_SERVICES.some((s) => srvMatches(srv, s, wanted)))) return true;
  if (names.dns.some((dns) => dnsNameMatches(dns, wanted))) return true;
  // RFC 6120 §13.7.1.4: an XmppAddr is a domainpart here, no wildcards; it is written as UTF-8.
  if (names.xmppAddr.some((addr) => comparable(addr) === wanted)) return true;
  if (names.dns.length > 0 || names.srvName.length > 0 || names.xmppAddr.length > 0) return false;
  return names.commonName.some((cn) => dnsNameMatches(cn.toLowerCase(), wanted));
}

function srvMatches(presented: string, service: string, domain: string): boolean {
  if (presented.slice(0, service.length).toLowerCase() !== service) return false;
  return comparable(presented.slice(service.length)) === domain;
}

/**
 * Whether a TLS peer proved `domain`: its chain is trusted by the CAs the socket was set up
 * with (`socket.authorized`), and its certificate names the domain.
 */
export function peerCertificateVerified(socket: TLSSocket, domain: string): boolean {
  if (!socket.authorized) return false;
  // Not getPeerX509Certificate(): on Node 20.20 a second call of it returns undefined, and so
  // does every getPeerCertificate() after it; getPeerCertificate() can be called again and again.
  // Without a certificate it returns an empty object.
  const cert = socket.getPeerCertificate() as PeerCertificate | undefined;
  return cert?.raw !== undefined && certificateMatchesDomain(cert, domain);
}
