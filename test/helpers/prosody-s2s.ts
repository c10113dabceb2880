// A real Prosody (Debian's package, 0.12) on loopback with federation on, for the interop
// tests of Warbler's server-to-server side: its own configuration, data and certificate in a
// temporary directory, c2s and s2s on free ports.
//
// The hard part is making Prosody find a test domain on a port of the test's choosing without
// touching /etc/hosts or the machine's DNS. Prosody 0.12 resolves through libunbound when
// lua-unbound is installed (Debian's prosody recommends it), and its `unbound` option is handed
// to libunbound: `forward = "127.0.0.1@<port>"` sends every query to the test's own DNS server
// (test/helpers/test-dns.ts), which answers the `_xmpp-server._tcp` SRV record pointing at
// Warbler's s2s port. `resolvconf = false` keeps the system's resolvers out (libunbound would
// mix them in), `hoststxt = false` keeps /etc/hosts out. One trap: libunbound answers names
// under `.test`, `.invalid`, `.localhost` and `.onion` itself (RFC 6761 local zones) and never
// forwards them, so the test domains live under `.example`.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort, lua, PROSODY, prosodyMissing, storedName } from './prosody.js';

export interface S2sProsody {
  readonly dir: string;
  /** The virtual host: accounts are user@<domain>. */
  readonly domain: string;
  readonly c2sPort: number;
  /** The STARTTLS server-to-server port. */
  readonly s2sPort: number;
  /** The direct TLS server-to-server port (XEP-0368), 0 unless asked for. */
  readonly s2sDirectTlsPort: number;
  /** Creates an account (Prosody's internal_plain store, read at each login). */
  addUser(username: string, password: string): void;
  /** Prosody's log so far (info and up; everything with WARBLER_TEST_LOG set). */
  log(): string;
  stop(): Promise<void>;
}

export interface S2sProsodyOptions {
  /** The virtual host, under `.example` (see the note at the top). */
  readonly domain: string;
  /** Its certificate and key, PEM. */
  readonly certificate: { cert: string; key: string };
  /** Where libunbound sends every DNS query: `127.0.0.1@<port>` of the test's DNS server. */
  readonly dnsForward: string;
  /** CA certificates (PEM) Prosody trusts for peers' certificates. */
  readonly trustedCa?: string;
  /**
   * Whether Prosody loads XEP-0220 dialback (used when a certificate does not check). Without it
   * Prosody also requires valid certificates (s2s_secure_auth), so that only SASL EXTERNAL
   * (XEP-0178) can authenticate a stream, either way.
   */
  readonly dialback: boolean;
  /** Also listen for direct TLS server connections (XEP-0368). */
  readonly directTls?: boolean;
}

/** Why the federation interop tests cannot run here, or undefined when they can. */
export function s2sProsodyMissing(): string | undefined {
  const missing = prosodyMissing();
  if (missing !== undefined) return missing;
  // Prosody runs under the interpreter its #! line names; lua-unbound must load in that one.
  const shebang = readFileSync(PROSODY, 'utf8').split('\n', 1)[0] ?? '';
  const lua = shebang.split(/\s+/).pop() ?? 'lua5.4';
  const probe = spawnSync(lua, ['-e', 'require "lunbound"'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    return `lua-unbound is not installed for ${lua} (apt-get install lua-unbound): Prosody cannot be pointed at the test's DNS server`;
  }
  return undefined;
}

/** In a mocha before() hook: skips the suite, saying why, when Prosody or lua-unbound is missing. */
export function skipWithoutS2sProsody(ctx: Mocha.Context): void {
  const reason = s2sProsodyMissing();
  if (reason === undefined) return;
  process.stderr.write(`      skipped: ${reason}\n`);
  ctx.skip();
}

export async function startS2sProsody(options: S2sProsodyOptions): Promise<S2sProsody> {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-prosody-s2s-'));
  const data = join(dir, 'data');
  const { domain } = options;
  mkdirSync(join(data, storedName(domain), 'accounts'), { recursive: true });
  writeFileSync(join(dir, 'cert.pem'), options.certificate.cert);
  writeFileSync(join(dir, 'key.pem'), options.certificate.key, { mode: 0o600 });
  const ssl = [`certificate = ${lua(join(dir, 'cert.pem'))}`, `key = ${lua(join(dir, 'key.pem'))}`];
  if (options.trustedCa !== undefined) {
    writeFileSync(join(dir, 'ca.pem'), options.trustedCa);
    ssl.push(`cafile = ${lua(join(dir, 'ca.pem'))}`);
  }
  const c2sPort = await freePort();
  const s2sPort = await freePort();
  const s2sDirectTlsPort = options.directTls ? await freePort() : 0;
  const logFile = join(dir, 'prosody.log');
  const level = process.env.WARBLER_TEST_LOG ? 'debug' : 'info';
  const modules = ['roster', 'saslauth', 'tls', 'disco', 'ping', 'presence'];
  if (options.dialback) modules.push('dialback');
  writeFileSync(
    join(dir, 'prosody.cfg.lua'),
    [
      `data_path = ${lua(data)}`,
      // Tests may run as root in containers; Prosody refuses root without this.
      'run_as_root = true',
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      'interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${c2sPort} }`,
      'c2s_direct_tls_ports = { }',
      `s2s_ports = { ${s2sPort} }`,
      `s2s_direct_tls_ports = { ${options.directTls ? s2sDirectTlsPort : ''} }`,
      'http_ports = { }',
      'https_ports = { }',
      'component_ports = { }',
      'allow_registration = false',
      'authentication = "internal_plain"',
      'storage = "internal"',
      `modules_enabled = { ${modules.map(lua).join(', ')} }`,
      'modules_disabled = { "offline", "http" }',
      's2s_require_encryption = true',
      `s2s_secure_auth = ${!options.dialback}`,
      `ssl = { ${ssl.join('; ')}; }`,
      // Where Prosody looks for certificates by name; pointed here so it does not search /etc.
      `certificates = ${lua(dir)}`,
      // Every DNS query to the test's server, nothing from the machine's configuration.
      `unbound = { resolvconf = false; hoststxt = false; forward = ${lua(options.dnsForward)}; }`,
      `log = { ${level} = ${lua(logFile)} }`,
      `VirtualHost ${lua(domain)}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(PROSODY, ['--config', join(dir, 'prosody.cfg.lua'), '-F'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const deadline = Date.now() + 15_000;
  const ports = [c2sPort, s2sPort, ...(options.directTls ? [s2sDirectTlsPort] : [])];
  const listening = async () => (await Promise.all(ports.map(canConnect))).every(Boolean);
  while (!(await listening())) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill('SIGKILL');
      await exit;
      const why = exited ? 'exited while starting' : 'did not open its ports within 15 s';
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Prosody ${why}:\n${output}\n${readLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    dir,
    domain,
    c2sPort,
    s2sPort,
    s2sDirectTlsPort,
    addUser(username, password) {
      writeFileSync(
        join(data, storedName(domain), 'accounts', `${storedName(username)}.dat`),
        `return {\n\t["password"] = ${lua(password)};\n};\n`,
      );
    },
    log: readLog,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
