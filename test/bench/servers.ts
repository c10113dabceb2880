// The servers under test, each started from its own configuration in a temporary directory:
// loopback only, one c2s port with STARTTLS required, the same ECDSA P-256 certificate,
// SCRAM-SHA-1 with 4096 iterations, warnings-only logging, a listen backlog of 1024, and the
// same modules (roster, disco, ping, version, time; no stream management, carbons, archive,
// offline storage or rate limits).

import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAccount } from './accounts.js';
import { findDescendant, isAlive, SERVER_CPU, sleep, spawnPinned, stopProcess, waitForPort } from './proc.js';

export const SCRAM_ITERATIONS = 4096;

export interface BenchContext {
  /** A fresh directory for this server: config, data, logs. */
  dir: string;
  certificate: string;
  key: string;
  domain: string;
  /** The c2s (STARTTLS) port on 127.0.0.1. */
  port: number;
  /** A second free port, for a server that needs one to be provisioned (ejabberd's HTTP API). */
  auxPort: number;
  /** Accounts u0…u(n-1) to provision. */
  accounts: number;
  /** Extra Node options for Warbler (e.g. --cpu-prof). */
  nodeArgs: readonly string[];
  /** Warbler's modules: the set comparable to the other servers' configs, or all built-in ones. */
  warblerModules: 'comparable' | 'all';
  progress(text: string): void;
}

export interface RunningServer {
  /** The process whose memory and CPU time are measured. */
  pid: number;
  stop(): Promise<void>;
}

export interface ServerUnderTest {
  readonly name: 'warbler' | 'prosody' | 'ejabberd';
  /** Why this server cannot run here, or undefined when it can. */
  unavailable(): string | undefined;
  version(): string;
  /** Writes the configuration and provisions the accounts. */
  prepare(ctx: BenchContext): Promise<void>;
  start(ctx: BenchContext): Promise<RunningServer>;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, command);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function debianVersion(pkg: string): string {
  try {
    // dpkg-query's own field syntax, not a template placeholder.
    const format = '$' + '{Version}';
    return execFileSync('dpkg-query', ['-W', '-f', format, pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Starts a pinned process, waits for its port, and knows how to stop it. */
async function startPinned(
  ctx: BenchContext,
  command: string,
  args: readonly string[],
  options: {
    cwd?: string;
    measured?: (child: ChildProcess) => number | undefined;
    startMs?: number;
    cpu?: string;
  } = {},
): Promise<RunningServer> {
  const child = spawnPinned(options.cpu ?? SERVER_CPU, command, args, {
    cwd: options.cwd ?? ctx.dir,
    logFile: join(ctx.dir, 'server.log'),
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  try {
    await waitForPort(ctx.port, options.startMs ?? 60_000, alive);
  } catch (err) {
    if (alive()) child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; see ${join(ctx.dir, 'server.log')}`);
  }
  const pid = options.measured?.(child) ?? child.pid!;
  return { pid, stop: () => stopProcess(child, pid, 20_000) };
}

// ---- Warbler ----

/**
 * Warbler's built-in modules that the Prosody and ejabberd configurations below have no
 * counterpart for: disabled for the comparison, so that all three run roster, disco, ping,
 * version and time. Names Warbler does not know are ignored by it.
 */
export const WARBLER_MODULES_NOT_COMPARED = [
  'mam',
  'carbons',
  'offline',
  'blocking',
  'csi',
  'pep',
  'caps',
  'last_activity',
  'private',
  'vcard',
  'register',
  'contact_addresses',
  'avatar_conversion',
  'bookmarks',
];

/** The flags Warbler's executable gives node on its first line (src/cli.ts), as `warbler start` runs. */
function shippedNodeFlags(): string[] {
  const first = readFileSync(join(ROOT, 'dist/src/cli.js'), 'utf8').split('\n', 1)[0]!;
  return first
    .replace(/^#!\/usr\/bin\/env (-S )?node/, '')
    .split(/\s+/)
    .filter(Boolean);
}

export const warbler: ServerUnderTest = {
  name: 'warbler',
  unavailable: () =>
    existsSync(join(ROOT, 'dist/src/cli.js')) ? undefined : 'dist/src/cli.js is missing; run npm run build',
  version: () => {
    try {
      return execFileSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'version'], { encoding: 'utf8' })
        .trim()
        .replace(/^warbler /, '');
    } catch {
      return 'unknown';
    }
  },

  async prepare(ctx) {
    const config = join(ctx.dir, 'warbler.toml');
    writeFileSync(
      config,
      [
        `hosts = ["${ctx.domain}"]`,
        'data_dir = "data"',
        '[log]',
        'level = "warn"',
        '[s2s]',
        'enabled = false',
        '[c2s]',
        'addresses = ["127.0.0.1"]',
        `port = ${ctx.port}`,
        'direct_tls = false',
        'require_encryption = true',
        // Every benchmark connection comes from 127.0.0.1.
        'max_connections_per_ip = 100000',
        'auth_failures_per_ip = 10000',
        '[tls]',
        `certificate = "${ctx.certificate}"`,
        `key = "${ctx.key}"`,
        '[auth]',
        `scram_iterations = ${SCRAM_ITERATIONS}`,
        '[modules]',
        `disabled = ${JSON.stringify(ctx.warblerModules === 'all' ? [] : WARBLER_MODULES_NOT_COMPARED)}`,
        '',
      ].join('\n'),
    );
    const list = join(ctx.dir, 'accounts.txt');
    const lines: string[] = [];
    for (let i = 0; i < ctx.accounts; i++) {
      const a = benchAccount(i);
      lines.push(`${a.username}@${ctx.domain} ${a.password}`);
    }
    writeFileSync(list, lines.join('\n') + '\n');
    const out = execFileSync(
      process.execPath,
      [join(ROOT, 'dist/src/cli.js'), 'adduser', '--bulk', list, '--config', config],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    ctx.progress(out.trim());
  },

  start: (ctx) =>
    startPinned(ctx, process.execPath, [
      ...shippedNodeFlags(),
      ...ctx.nodeArgs,
      join(ROOT, 'dist/src/cli.js'),
      'start',
      '--config',
      join(ctx.dir, 'warbler.toml'),
    ]),
};

// ---- Prosody ----

function lua(s: string): string {
  return JSON.stringify(s);
}

export const prosody: ServerUnderTest = {
  name: 'prosody',
  unavailable: () => (which('prosody') ? undefined : 'prosody is not installed (apt-get install prosody)'),
  version: () => debianVersion('prosody'),

  async prepare(ctx) {
    const data = join(ctx.dir, 'data');
    mkdirSync(data, { recursive: true });
    // Prosody's own documentation on prosody.cfg.lua: global section, then the VirtualHost.
    writeFileSync(
      join(ctx.dir, 'prosody.cfg.lua'),
      [
        `data_path = ${lua(data)}`,
        // The benchmark runs as root on a throwaway machine; Prosody refuses root without this.
        'run_as_root = true',
        'network_backend = "epoll"',
        // The same accept queue as the other servers (Prosody's default is 128).
        'network_settings = { tcp_backlog = 1024 }',
        `interfaces = { "127.0.0.1" }`,
        `c2s_ports = { ${ctx.port} }`,
        's2s_ports = { }',
        'c2s_direct_tls_ports = { }',
        'c2s_require_encryption = true',
        'allow_registration = false',
        'authentication = "internal_hashed"',
        `default_iteration_count = ${SCRAM_ITERATIONS}`,
        'storage = "internal"',
        // The modules Warbler has an equivalent of; s2s off, no rate limits, no smacks/carbons/MAM.
        'modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "version", "time" }',
        'modules_disabled = { "s2s", "offline" }',
        `ssl = { certificate = ${lua(ctx.certificate)}; key = ${lua(ctx.key)}; }`,
        `log = { warn = ${lua(join(ctx.dir, 'prosody.log'))} }`,
        `VirtualHost ${lua(ctx.domain)}`,
        '',
      ].join('\n'),
    );
    // prosodyctl register costs a Lua start per account (minutes for 10,000), so the accounts
    // are written straight into Prosody's internal storage, in the format
    // mod_auth_internal_hashed keeps: data/<host>/accounts/<user>.dat, a Lua table holding the
    // SCRAM-SHA-1 StoredKey and ServerKey in hex, the salt and the iteration count.
    const dir = join(data, encodeProsodyPath(ctx.domain), 'accounts');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < ctx.accounts; i++) {
      const a = benchAccount(i);
      const salt = randomBytes(16).toString('hex');
      const { storedKey, serverKey } = scramKeys(a.password, Buffer.from(salt), SCRAM_ITERATIONS);
      writeFileSync(
        join(dir, `${encodeProsodyPath(a.username)}.dat`),
        'return {\n' +
          `\t["iteration_count"] = ${SCRAM_ITERATIONS};\n` +
          `\t["salt"] = ${lua(salt)};\n` +
          `\t["server_key"] = ${lua(serverKey.toString('hex'))};\n` +
          `\t["stored_key"] = ${lua(storedKey.toString('hex'))};\n` +
          '};\n',
      );
    }
    ctx.progress(`wrote ${ctx.accounts} Prosody account files`);
  },

  start: (ctx) => startPinned(ctx, 'prosody', ['--config', join(ctx.dir, 'prosody.cfg.lua'), '-F']),
};

/** Prosody's datamanager escapes every non-alphanumeric character of a path part as %xx. */
function encodeProsodyPath(part: string): string {
  return part.replace(/\W/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function scramKeys(password: string, salt: Buffer, iterations: number) {
  const salted = pbkdf2Sync(password, salt, iterations, 20, 'sha1');
  const clientKey = createHmac('sha1', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha1').update(clientKey).digest(),
    serverKey: createHmac('sha1', salted).update('Server Key').digest(),
  };
}

// ---- ejabberd ----

const EJABBERD_USER = 'ejabberd';

function ejabberdctl(ctx: BenchContext, ...args: string[]): string[] {
  return [
    '--config-dir',
    ctx.dir,
    '--config',
    join(ctx.dir, 'ejabberd.yml'),
    '--ctl-config',
    join(ctx.dir, 'ejabberdctl.cfg'),
    '--logs',
    join(ctx.dir, 'logs'),
    '--spool',
    join(ctx.dir, 'spool'),
    ...args,
  ];
}

function httpPort(ctx: BenchContext): number {
  return ctx.auxPort;
}

/** ejabberdctl runs ejabberd as the ejabberd user, which must own the directory. */
function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory())
    for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
  return { uid, gid };
}

async function startEjabberd(ctx: BenchContext, cpu = SERVER_CPU): Promise<RunningServer> {
  const node = `warbler-bench-${process.pid}@localhost`;
  return startPinned(ctx, 'ejabberdctl', ejabberdctl(ctx, '--node', node, 'foreground'), {
    cpu,
    startMs: 120_000,
    // ejabberdctl → su → erl → beam.smp: the virtual machine is what holds the sessions.
    measured: (child) => findDescendant(child.pid!, 'beam.smp'),
  });
}

export const ejabberd: ServerUnderTest = {
  name: 'ejabberd',
  unavailable: () =>
    which('ejabberdctl') ? undefined : 'ejabberd is not installed (apt-get install ejabberd)',
  version: () => debianVersion('ejabberd'),

  async prepare(ctx) {
    for (const sub of ['logs', 'spool']) mkdirSync(join(ctx.dir, sub), { recursive: true });
    // ejabberd reads one PEM file holding both the certificate and its key.
    const pem = join(ctx.dir, 'ejabberd.pem');
    execFileSync('sh', ['-c', `cat "${ctx.certificate}" "${ctx.key}" > "${pem}"`]);
    if (existsSync('/etc/ejabberd/inetrc')) copyFileSync('/etc/ejabberd/inetrc', join(ctx.dir, 'inetrc'));
    // ejabberdctl starts erl through su, which resets the soft limit on open files to 1024;
    // this wrapper raises it again (to the hard limit) before the VM starts.
    const erl = join(ctx.dir, 'erl-with-limits.sh');
    writeFileSync(erl, '#!/bin/sh\nulimit -n "$(ulimit -Hn)"\nexec /usr/bin/erl "$@"\n', { mode: 0o755 });
    writeFileSync(
      join(ctx.dir, 'ejabberdctl.cfg'),
      [
        `ERL=${erl}`,
        'POLL=true',
        'ERL_MAX_PORTS=65536',
        'ERL_PROCESSES=250000',
        'EJABBERD_BYPASS_WARNINGS=true',
        '',
      ].join('\n'),
    );
    // ejabberd.yml, from ejabberd's configuration documentation: hosts, certfiles, one c2s
    // listener with STARTTLS required, an HTTP listener for provisioning through mod_http_api,
    // SCRAM-SHA-1 credentials in Mnesia (in the spool directory).
    writeFileSync(
      join(ctx.dir, 'ejabberd.yml'),
      [
        'loglevel: warning',
        'log_rotate_count: 0',
        'hosts:',
        `  - ${JSON.stringify(ctx.domain)}`,
        'certfiles:',
        `  - ${JSON.stringify(pem)}`,
        'auth_method: internal',
        'auth_password_format: scram',
        'auth_scram_hash: sha',
        'default_db: mnesia',
        'listen:',
        `  - port: ${ctx.port}`,
        '    ip: "127.0.0.1"',
        '    module: ejabberd_c2s',
        // The default accept queue is 5 connections; Warbler's and Prosody's are set to 1024.
        '    backlog: 1024',
        '    starttls_required: true',
        '    max_stanza_size: 262144',
        `  - port: ${httpPort(ctx)}`,
        '    ip: "127.0.0.1"',
        '    module: ejabberd_http',
        '    request_handlers:',
        '      /api: mod_http_api',
        'acl:',
        '  loopback:',
        '    ip:',
        '      - 127.0.0.0/8',
        'api_permissions:',
        '  "benchmark provisioning":',
        '    from:',
        '      - mod_http_api',
        '    who:',
        '      access:',
        '        allow:',
        '          - acl: loopback',
        '    what:',
        '      - register',
        'modules:',
        '  mod_roster: {}',
        '  mod_disco: {}',
        '  mod_ping: {}',
        '  mod_version: {}',
        '  mod_time: {}',
        '  mod_http_api: {}',
        '',
      ].join('\n'),
    );
    const { uid, gid } = userIds(EJABBERD_USER);
    chownTree(ctx.dir, uid, gid);

    // ejabberdctl register costs an Erlang start per account; the HTTP API does not.
    // Provisioning is not measured: it may use every CPU.
    const running = await startEjabberd(ctx, '0,1');
    try {
      await waitForPort(httpPort(ctx), 60_000, () => isAlive(running.pid));
      await registerOverHttp(ctx);
    } finally {
      await running.stop();
    }
  },

  start: (ctx) => startEjabberd(ctx),
};

async function registerOverHttp(ctx: BenchContext): Promise<void> {
  const url = `http://127.0.0.1:${httpPort(ctx)}/api/register`;
  let next = 0;
  let failed = 0;
  let firstFailure = '';
  const worker = async () => {
    while (next < ctx.accounts) {
      const a = benchAccount(next++);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: a.username, host: ctx.domain, password: a.password }),
      });
      const text = await response.text();
      if (!response.ok) {
        failed++;
        firstFailure ||= `${response.status} ${text}`;
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 32 }, worker));
  if (failed > 0) throw new Error(`ejabberd: ${failed} registrations failed, e.g. ${firstFailure}`);
  ctx.progress(
    `registered ${ctx.accounts} ejabberd accounts in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  // Give Mnesia a moment to write its log before the node stops.
  await sleep(1000);
}

export const SERVERS: readonly ServerUnderTest[] = [warbler, prosody, ejabberd];

/**
 * One ECDSA P-256 self-signed certificate for `domain` and its subdomains (the MUC service), made
 * with openssl so that no server's own tooling is favoured; every server under test gets it.
 */
export function benchCertificate(dir: string, domain: string): { certificate: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '7',
      '-subj',
      `/CN=${domain}`,
      '-addext',
      `subjectAltName=DNS:${domain},DNS:*.${domain}`,
    ],
    { stdio: 'ignore' },
  );
  return { certificate: cert, key };
}
