// The TLS certificates Warbler serves: which certificate each domain gets, where it comes
// from (a configured file, one fallback file, or a self-signed certificate generated on first
// start), reloading them on SIGHUP, and picking one per connection by SNI.
//
// RFC 6125 §6 (does a certificate cover a domain: dNSName entries, the common name only when
// there are none, one left-most wildcard label), RFC 6066 §3 (server_name), RFC 7590 §3.1
// (TLS 1.2 at least), RFC 6120 §13.7.1.2 (XMPP server certificates).

import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import type { Logger } from '../log.js';
import { type ChannelBindingType, channelBindings, serverEndPointOf } from './channel-binding.js';
import { generateSelfSigned } from './selfsigned.js';

/** A certificate (leaf first, then any intermediates) and its key, both PEM; absolute paths. */
export interface CertificateFiles {
  certificate: string;
  key: string;
}

export interface CertificateStoreOptions {
  /** The served domains. The first one's certificate is the default, for clients without SNI. */
  hosts: string[];
  /** Configured certificates per domain. */
  files: ReadonlyMap<string, CertificateFiles>;
  /** One certificate for every domain without its own. */
  fallback?: CertificateFiles;
  /**
   * Where self-signed certificates go, as `<host>.crt` and `<host>.key`, for domains with no
   * configured certificate. They are reused across restarts, and regenerated when missing,
   * expired, damaged, or not covering their domain.
   */
  generatedDir: string;
  log: Logger;
}

export type CertificateErrorCode =
  | 'unreadable' // a file cannot be read
  | 'not-a-certificate' // the certificate file holds no PEM certificate
  | 'bad-key' // the key file holds no usable private key
  | 'key-mismatch' // the key is not the certificate's
  | 'not-covering' // the certificate does not name the domain it is configured for
  | 'bad-host' // a domain that cannot name a file
  | 'cannot-generate'; // writing a self-signed certificate failed

/** A certificate that cannot be used. The message says what is wrong and what to do about it. */
export class CertificateError extends Error {
  readonly code: CertificateErrorCode;
  /** The file at fault, when there is one. */
  readonly path: string | undefined;

  constructor(code: CertificateErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CertificateError';
    this.code = code;
    this.path = options.path;
  }
}

/** What `warbler check` says about one domain's certificate. */
export interface CertificateReport {
  host: string;
  source: 'file' | 'generated';
  /** The certificate file. */
  path: string;
  /** The DNS names (or, lacking any, the common name) and IP addresses it covers. */
  names: string[];
  /** When it expires; the epoch when the file could not be read (see problems). */
  notAfter: Date;
  selfSigned: boolean;
  /** Empty when all is well. */
  problems: string[];
}

const MIN_VERSION = 'TLSv1.2';
const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** A certificate and key, read, checked against each other, and ready to serve. */
interface LoadedCertificate {
  readonly source: 'file' | 'generated';
  readonly files: CertificateFiles;
  readonly certPem: string;
  readonly keyPem: string;
  readonly leaf: X509Certificate;
  readonly context: SecureContext;
  /** Its tls-server-end-point channel binding (RFC 5929 §4), null where that is undefined. */
  readonly serverEndPoint: Buffer | null;
}

/** One complete, consistent set of certificates; reload replaces it whole or not at all. */
interface CertificateSet {
  /** By domain in its ASCII form (the form SNI carries). */
  readonly byHost: ReadonlyMap<string, LoadedCertificate>;
  readonly primary: LoadedCertificate;
}

type SniCallback = (servername: string, done: (err: Error | null, ctx?: SecureContext) => void) => void;

export class CertificateStore {
  private readonly log: Logger;
  /** Served domains in ASCII form, the first hosts[0]; then domains that only have files. */
  private readonly hosts: string[];
  private readonly files: ReadonlyMap<string, CertificateFiles>;
  private readonly fallback: CertificateFiles | undefined;
  private readonly generatedDir: string;
  private current: CertificateSet | undefined;
  /** Reloads run one after another, so that an older one never lands after a newer one. */
  private reloading: Promise<boolean> = Promise.resolve(true);

  private readonly sniCallback: SniCallback = (servername, done) => {
    done(null, this.contextFor(servername));
  };

  constructor(opts: CertificateStoreOptions) {
    if (opts.hosts.length === 0) throw new RangeError('CertificateStore needs at least one host');
    this.log = opts.log;
    this.generatedDir = opts.generatedDir;
    this.fallback = opts.fallback;
    const files = new Map<string, CertificateFiles>();
    for (const [host, pair] of opts.files) files.set(hostKey(host), pair);
    this.files = files;
    this.hosts = [...new Set([...opts.hosts.map(hostKey), ...files.keys()])];
  }

  /** Reads every certificate, generating the self-signed ones that are needed. */
  async load(): Promise<void> {
    this.current = await this.loadAll();
  }

  /**
   * Rereads every certificate (for SIGHUP). On any error the certificates in use stay, the
   * error is logged, and the answer is false.
   */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      try {
        this.current = await this.loadAll();
        this.log.info('TLS certificates reloaded', { hosts: this.hosts.length });
        return true;
      } catch (err) {
        this.log.error('TLS certificates not reloaded; the previous ones stay in use', { err });
        return false;
      }
    });
    return this.reloading;
  }

  /**
   * The context for a TLS server name: the domain's own, else its nearest parent domain's
   * (conference.example.org is served with example.org's), else the first host's.
   */
  contextFor(servername: string | undefined): SecureContext {
    return this.certificateFor(servername).context;
  }

  /**
   * The channel bindings of a socket this store's certificates secured (see contextFor for
   * which certificate that was). The certificate's own binding comes from the store, so the
   * socket's certificate need not be parsed on every login. Right after a reload, a client
   * whose handshake began before it gets the new certificate's tls-server-end-point and fails
   * a -PLUS login once.
   */
  channelBindings(socket: TLSSocket): Map<ChannelBindingType, Buffer> {
    return channelBindings(socket, this.certificateFor(socket.servername || undefined).serverEndPoint);
  }

  /**
   * The PEM certificate chain and key served for a name (chosen as in contextFor): for TLS
   * contexts that need more than the store's own, like server-to-server ones that also
   * present the certificate as a client and trust extra CAs.
   */
  keyPairFor(servername: string | undefined): { cert: string; key: string } {
    const { certPem, keyPem } = this.certificateFor(servername);
    return { cert: certPem, key: keyPem };
  }

  private certificateFor(servername: string | undefined): LoadedCertificate {
    const set = this.loaded();
    if (servername) {
      const exact = set.byHost.get(servername);
      if (exact) return exact;
      // SNI names are ASCII (RFC 6066 §3): only case and a trailing dot can differ.
      let name = servername.toLowerCase();
      if (name.endsWith('.')) name = name.slice(0, -1);
      for (;;) {
        const certificate = set.byHost.get(name);
        if (certificate) return certificate;
        const dot = name.indexOf('.');
        if (dot < 0) break;
        name = name.slice(dot + 1);
      }
    }
    return set.primary;
  }

  /**
   * Options for `tls.createServer` and for `new tls.TLSSocket(socket, { isServer: true, ...})`
   * (STARTTLS). Clients that send a server name always get the current certificates through
   * SNICallback. For those that send none: a TLSSocket uses `secureContext`, so take fresh
   * options per connection (cheap: nothing is parsed); a tls.Server ignores `secureContext`
   * and builds its own from `cert` and `key`, so after a successful reload call
   * `server.setSecureContext(store.serverOptions(alpn))`.
   */
  serverOptions(alpn: string[]): TlsOptions {
    const { primary } = this.loaded();
    const options: TlsOptions = {
      cert: primary.certPem,
      key: primary.keyPem,
      secureContext: primary.context,
      SNICallback: this.sniCallback,
      minVersion: MIN_VERSION,
    };
    if (alpn.length > 0) options.ALPNProtocols = alpn;
    return options;
  }

  /** Inspects every domain's certificate without changing anything (no generation). */
  async check(): Promise<CertificateReport[]> {
    return Promise.all(this.hosts.map((host) => this.checkHost(host)));
  }

  private loaded(): CertificateSet {
    if (!this.current) throw new Error('CertificateStore used before load()');
    return this.current;
  }

  private async loadAll(): Promise<CertificateSet> {
    // The fallback serves many domains: read it once, and share one context between them.
    const byFiles = new Map<string, Promise<LoadedCertificate>>();
    const loadOnce = (files: CertificateFiles): Promise<LoadedCertificate> => {
      const key = files.certificate + '\0' + files.key;
      let loading = byFiles.get(key);
      if (!loading) {
        loading = loadCertificate(files, 'file');
        byFiles.set(key, loading);
      }
      return loading;
    };

    const loaded = await Promise.all(
      this.hosts.map(async (host) => {
        const configured = this.files.get(host) ?? this.fallback;
        const certificate = configured
          ? await loadOnce(configured).then((c) => this.acceptConfigured(host, c))
          : await this.loadGenerated(host);
        return [host, certificate] as const;
      }),
    );
    const byHost = new Map<string, LoadedCertificate>();
    for (const [host, certificate] of loaded) byHost.set(host, certificate);
    return { byHost, primary: loaded[0]![1] };
  }

  private acceptConfigured(host: string, certificate: LoadedCertificate): LoadedCertificate {
    const path = certificate.files.certificate;
    if (!certificateCovers(certificate.leaf, host)) {
      throw new CertificateError(
        'not-covering',
        `certificate ${path} does not cover ${host} (it names ${describeNames(certificate.leaf)}): ` +
          `set [tls.hosts."${host}"] or run \`warbler cert generate\``,
        { path },
      );
    }
    // An expired certificate is still served: peers that accept dialback keep federating,
    // and the operator learns of it here and from `warbler check`.
    const validity = validityProblems(certificate.leaf, Date.now());
    if (validity.length > 0) {
      this.log.error('TLS certificate is not valid; renew it', { host, path, problem: validity.join('; ') });
    } else if (expiresSoon(certificate.leaf, Date.now())) {
      this.log.warn('TLS certificate expires soon; renew it', {
        host,
        path,
        notAfter: certificate.leaf.validTo,
      });
    }
    return certificate;
  }

  private async loadGenerated(host: string): Promise<LoadedCertificate> {
    const files = generatedFiles(this.generatedDir, host);
    let reason: string;
    try {
      const existing = await loadCertificate(files, 'generated');
      const problems = validityProblems(existing.leaf, Date.now());
      if (!certificateCovers(existing.leaf, host)) problems.push(`does not cover ${host}`);
      if (problems.length === 0) return existing;
      reason = problems.join('; ');
    } catch (err) {
      reason = err instanceof CertificateError ? err.message : String(err);
      if (err instanceof CertificateError && err.code === 'unreadable' && isMissing(err.cause)) {
        reason = 'none yet';
      }
    }
    this.log.info('generating a self-signed TLS certificate', { host, path: files.certificate, reason });
    await writeSelfSigned(this.generatedDir, [host]);
    return loadCertificate(files, 'generated');
  }

  private async checkHost(host: string): Promise<CertificateReport> {
    const configured = this.files.get(host) ?? this.fallback;
    const source = configured ? 'file' : 'generated';
    const files = configured ?? generatedFiles(this.generatedDir, host);
    const report: CertificateReport = {
      host,
      source,
      path: files.certificate,
      names: [],
      notAfter: new Date(0),
      selfSigned: false,
      problems: [],
    };
    let leaf: X509Certificate;
    try {
      leaf = (await readLeaf(files.certificate)).leaf;
    } catch (err) {
      const missingGenerated = !configured && err instanceof CertificateError && isMissing(err.cause);
      report.problems.push(
        missingGenerated ? 'missing: a self-signed certificate will be generated at start' : errorText(err),
      );
      return report;
    }
    report.names = certificateNames(leaf);
    report.notAfter = new Date(leaf.validTo);
    report.selfSigned = isSelfSigned(leaf);
    report.problems.push(...validityProblems(leaf, Date.now()));
    if (report.problems.length === 0 && expiresSoon(leaf, Date.now())) {
      report.problems.push(`expires within ${EXPIRY_WARNING_DAYS} days, on ${report.notAfter.toISOString()}`);
    }
    if (!certificateCovers(leaf, host)) {
      report.problems.push(`does not cover ${host} (it names ${describeNames(leaf)})`);
    }
    try {
      const { key } = await readKey(files.key);
      if (!leaf.checkPrivateKey(key)) report.problems.push(`key ${files.key} does not match the certificate`);
    } catch (err) {
      report.problems.push(errorText(err));
    }
    return report;
  }
}

/**
 * RFC 6125 §6.4: does the certificate name this domain? Its dNSName entries (the subject's
 * common name only when it has none), a wildcard only as the whole left-most label and
 * matching exactly one label; for an IP address, its iPAddress entries.
 */
export function certificateCovers(cert: X509Certificate, host: string): boolean {
  const name = hostKey(host);
  if (isIP(name)) return cert.checkIP(name) !== undefined;
  return (
    cert.checkHost(name, {
      subject: 'default',
      wildcards: true,
      partialWildcards: false,
      multiLabelWildcards: false,
      singleLabelSubdomains: false,
    }) !== undefined
  );
}

/**
 * Generates a self-signed certificate for these domains into `dir`, as `<first host>.crt`
 * and `<first host>.key` (readable by the owner only), replacing any there.
 */
export async function writeSelfSigned(
  dir: string,
  hosts: string[],
  days?: number,
): Promise<CertificateFiles> {
  if (hosts.length === 0) throw new RangeError('a certificate needs at least one host');
  const files = generatedFiles(dir, hostKey(hosts[0]!));
  const { cert, key } = generateSelfSigned(days === undefined ? { hosts } : { hosts, days });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The key first: a crash in between leaves an old certificate with a new key, which the
    // next start detects as a mismatch and regenerates, never a certificate with no key.
    await writeAtomically(files.key, key, 0o600);
    await writeAtomically(files.certificate, cert, 0o644);
  } catch (err) {
    throw new CertificateError(
      'cannot-generate',
      `cannot write a self-signed certificate to ${dir} (${errorText(err)}): make the directory writable ` +
        `by the server, or configure a certificate for ${hosts[0]}`,
      { path: dir, cause: err },
    );
  }
  return files;
}

async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

async function loadCertificate(
  files: CertificateFiles,
  source: LoadedCertificate['source'],
): Promise<LoadedCertificate> {
  const [{ pem: certPem, leaf }, { pem: keyPem, key }] = await Promise.all([
    readLeaf(files.certificate),
    readKey(files.key),
  ]);
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateError(
      'key-mismatch',
      `private key ${files.key} does not match certificate ${files.certificate}: configure the key that ` +
        `was issued with this certificate`,
      { path: files.key },
    );
  }
  let context: SecureContext;
  try {
    // The whole file goes in: the leaf and the intermediates a client needs to reach its root.
    context = createSecureContext({ cert: certPem, key: keyPem, minVersion: MIN_VERSION });
  } catch (err) {
    throw new CertificateError(
      'not-a-certificate',
      `certificate ${files.certificate} cannot be used (${errorText(err)}): it must be PEM, the server's ` +
        `certificate first and then its intermediates`,
      { path: files.certificate, cause: err },
    );
  }
  return { source, files, certPem, keyPem, leaf, context, serverEndPoint: endPointOrNull(leaf) };
}

/** A certificate whose signature algorithm cannot be read offers no tls-server-end-point, and is still served. */
function endPointOrNull(leaf: X509Certificate): Buffer | null {
  try {
    return serverEndPointOf(leaf.raw);
  } catch {
    return null;
  }
}

async function readLeaf(path: string): Promise<{ pem: string; leaf: X509Certificate }> {
  const pem = await readText(path, 'certificate');
  try {
    // With a chain in the file, this parses the first certificate: the server's own.
    return { pem, leaf: new X509Certificate(pem) };
  } catch (err) {
    throw new CertificateError(
      'not-a-certificate',
      `${path} holds no PEM certificate (${errorText(err)}): it must start with ` +
        `-----BEGIN CERTIFICATE-----, the server's certificate first and then its intermediates`,
      { path, cause: err },
    );
  }
}

async function readKey(path: string): Promise<{ pem: string; key: KeyObject }> {
  const pem = await readText(path, 'private key');
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch (err) {
    throw new CertificateError(
      'bad-key',
      `${path} holds no usable private key (${errorText(err)}): it must be an unencrypted PEM private key`,
      { path, cause: err },
    );
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CertificateError(
      'unreadable',
      `cannot read ${what} ${path} (${errorText(err)}): check the path and that the server may read it`,
      { path, cause: err },
    );
  }
}

/** `<dir>/<host>.crt` and `.key`, for a host already in hostKey form. */
function generatedFiles(dir: string, host: string): CertificateFiles {
  if (host === '' || host.startsWith('.') || /[/\\\0]/.test(host)) {
    throw new CertificateError('bad-host', `${JSON.stringify(host)} cannot name a certificate file`);
  }
  return { certificate: join(dir, `${host}.crt`), key: join(dir, `${host}.key`) };
}

/** A domain as SNI and certificates spell it: A-labels, lower case, no trailing dot. */
function hostKey(host: string): string {
  const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
  const unbracketed = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  if (isIP(unbracketed)) return unbracketed.toLowerCase();
  return domainToASCII(unbracketed) || unbracketed.toLowerCase();
}

function validityProblems(cert: X509Certificate, now: number): string[] {
  const problems: string[] = [];
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  if (notAfter <= now) problems.push(`expired on ${new Date(notAfter).toISOString()}`);
  if (notBefore > now) problems.push(`not valid before ${new Date(notBefore).toISOString()}`);
  return problems;
}

function expiresSoon(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validTo) - now < EXPIRY_WARNING_DAYS * DAY_MS;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

/** The names a certificate covers, for people to read. */
function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  let hasDns = false;
  // Node writes "DNS:a, DNS:b, IP Address:1.2.3.4", JSON-quoting values with odd characters.
  for (const entry of cert.subjectAltName?.split(', ') ?? []) {
    const colon = entry.indexOf(':');
    const kind = entry.slice(0, colon);
    const raw = entry.slice(colon + 1);
    const value = raw.startsWith('"') ? unquote(raw) : raw;
    if (kind === 'DNS') {
      hasDns = true;
      names.push(value);
    } else if (kind === 'IP Address') {
      names.push(value);
    }
  }
  if (!hasDns) {
    for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) names.push(line.slice(3));
  }
  return names;
}

function unquote(quoted: string): string {
  try {
    return String(JSON.parse(quoted));
  } catch {
    return quoted;
  }
}

function describeNames(cert: X509Certificate): string {
  const names = certificateNames(cert);
  return names.length > 0 ? names.join(', ') : 'no domain at all';
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
