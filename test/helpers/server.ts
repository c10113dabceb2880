// A real Warbler on loopback for integration tests: a temporary directory with its own
// SQLite file and generated certificate, listeners on free ports, the built-in modules.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { jid } from '../../src/jid.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { BUILTIN_MODULES, moduleSections } from '../../src/modules.js';
import { Server } from '../../src/server.js';

export interface TestServer {
  server: Server;
  dir: string;
  configFile: string;
  /** Port of the STARTTLS listener. */
  port: number;
  /** Port of the direct TLS listener. */
  tlsPort: number;
  /** Port of the server-to-server STARTTLS listener (0 when s2s is disabled). */
  s2sPort: number;
  /** Port of the server-to-server direct TLS listener (0 when off). */
  s2sTlsPort: number;
  domain: string;
  addUser(username: string, password: string, host?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  hosts?: string[];
  /** Extra TOML appended to the generated config (sections must not repeat [c2s]). */
  extraToml?: string;
  /** Extra keys inside [c2s]. */
  c2s?: string;
  /** Extra keys inside [s2s] (which listens on free loopback ports unless they set port / direct_tls_port). */
  s2s?: string;
  /** Reuse a directory (for restart tests). */
  dir?: string;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'warbler-test-'));
  const hosts = options.hosts ?? ['localhost'];
  const configFile = join(dir, 'warbler.toml');
  const toml = [
    `hosts = [${hosts.map((h) => JSON.stringify(h)).join(', ')}]`,
    'data_dir = "data"',
    '[auth]',
    // The minimum RFC 7677 allows; keeps account creation fast in tests.
    'scram_iterations = 4096',
    '[c2s]',
    'addresses = ["127.0.0.1"]',
    'port = 0',
    'direct_tls_port = 0',
    options.c2s ?? '',
    '[s2s]',
    'addresses = ["127.0.0.1"]',
    // Free ports unless the test names its own.
    /^port\s*=/m.test(options.s2s ?? '') ? '' : 'port = 0',
    /^direct_tls_port\s*=/m.test(options.s2s ?? '') ? '' : 'direct_tls_port = 0',
    options.s2s ?? '',
    options.extraToml ?? '',
  ].join('\n');
  writeFileSync(configFile, toml);
  const config = loadConfig({ file: configFile }, moduleSections());
  const log = process.env.WARBLER_TEST_LOG
    ? createLogger({ level: process.env.WARBLER_TEST_LOG as 'debug', format: 'text' })
    : silentLogger;
  const server = await Server.start(config, { modules: BUILTIN_MODULES, log });
  return {
    server,
    dir,
    configFile,
    port: server.listening.c2s[0]!.port,
    tlsPort: server.listening.c2sDirectTls[0]?.port ?? 0,
    s2sPort: server.federation?.listening.s2s[0]?.port ?? 0,
    s2sTlsPort: server.federation?.listening.s2sDirectTls[0]?.port ?? 0,
    domain: hosts[0]!,
    addUser: (username, password, host = hosts[0]!) => server.accounts.create(jid(username, host), password),
    async stop() {
      await server.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
