// A real Prosody (Debian's package) on loopback, for the tests that prove Warbler's pieces work
// with another server: its own configuration, data and certificate in a temporary directory,
// c2s and the component port (XEP-0114) on free ports, a component domain with a secret, and a
// MUC service. Tests skip, saying why, when /usr/bin/prosody is not installed.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSigned } from '../../src/tls/selfsigned.js';

export const PROSODY = '/usr/bin/prosody';

export interface TestProsody {
  readonly dir: string;
  /** The virtual host: accounts are user@localhost. */
  readonly domain: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  /** The component domain and its secret. */
  readonly componentDomain: string;
  readonly secret: string;
  /** The MUC service. */
  readonly mucDomain: string;
  /** Creates an account (Prosody's internal_plain store, read at each login). */
  addUser(username: string, password: string): void;
  /** Prosody's log so far (warnings and errors; everything with WARBLER_TEST_LOG set). */
  log(): string;
  stop(): Promise<void>;
}

export interface ProsodyOptions {
  readonly componentDomain?: string;
  readonly secret?: string;
}

/** Why Prosody tests cannot run here, or undefined when they can. */
export function prosodyMissing(): string | undefined {
  return existsSync(PROSODY) ? undefined : `${PROSODY} is not installed (apt-get install prosody)`;
}

/** In a mocha before() hook: skips the suite, saying why, when Prosody is not installed. */
export function skipWithoutProsody(ctx: Mocha.Context): void {
  const reason = prosodyMissing();
  if (reason === undefined) return;
  process.stderr.write(`      skipped: ${reason}\n`);
  ctx.skip();
}

/** Prosody's datamanager stores each path part with every non-alphanumeric character as %xx. */
export function storedName(part: string): string {
  return part.replace(/\W/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A Lua string literal (JSON's escapes are valid Lua ones). */
export function lua(s: string): string {
  return JSON.stringify(s);
}

/** A TCP port on loopback nothing listens on right now (bound and released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts connections on the loopback port (Prosody is up). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startProsody(options: ProsodyOptions = {}): Promise<TestProsody> {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-prosody-'));
  const data = join(dir, 'data');
  const domain = 'localhost';
  const componentDomain = options.componentDomain ?? 'ai.localhost';
  const mucDomain = 'conference.localhost';
  const secret = options.secret ?? `secret-${Math.random().toString(36).slice(2)}`;
  mkdirSync(join(data, storedName(domain), 'accounts'), { recursive: true });
  const pem = generateSelfSigned({ hosts: [domain, mucDomain] });
  writeFileSync(join(dir, 'cert.pem'), pem.cert);
  writeFileSync(join(dir, 'key.pem'), pem.key, { mode: 0o600 });
  const c2sPort = await freePort();
  const componentPort = await freePort();
  const logFile = join(dir, 'prosody.log');
  const level = process.env.WARBLER_TEST_LOG ? 'debug' : 'warn';
  // Prosody's documented configuration (prosody.cfg.lua): global options, a VirtualHost, then the
  // components. Everything not needed here (s2s, HTTP, offline storage) is off.
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
      's2s_ports = { }',
      'http_ports = { }',
      'https_ports = { }',
      `component_ports = { ${componentPort} }`,
      'component_interfaces = { "127.0.0.1" }',
      'allow_registration = false',
      'authentication = "internal_plain"',
      'storage = "internal"',
      'modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "presence" }',
      'modules_disabled = { "s2s", "offline", "http" }',
      `ssl = { certificate = ${lua(join(dir, 'cert.pem'))}; key = ${lua(join(dir, 'key.pem'))}; }`,
      `log = { ${level} = ${lua(logFile)} }`,
      `VirtualHost ${lua(domain)}`,
      `Component ${lua(componentDomain)}`,
      `  component_secret = ${lua(secret)}`,
      `Component ${lua(mucDomain)} "muc"`,
      // XEP-0359 stanza ids in rooms, which XEP-0461 replies refer to.
      '  modules_enabled = { "muc_mam" }',
      '  muc_room_locking = false',
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
  while (!((await canConnect(c2sPort)) && (await canConnect(componentPort)))) {
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
    componentPort,
    componentDomain,
    secret,
    mucDomain,
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
