// `warbler check`: everything that would stop the server from starting, or make clients
// refuse it, found before it matters — each problem with what to do about it.

import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import type { CoreConfig } from '../config/options.js';
import { readComponentSecret } from '../core/components.js';
import { silentLogger } from '../log.js';
import { formatAddress } from '../net/listener.js';
import { dnsServerResolver, type Resolver } from '../net/resolve.js';
import { certificateStore, databasePath } from '../server.js';
import { openDatabase } from '../storage/db.js';
import { checkDns } from './check-dns.js';

interface Output {
  write(s: string): unknown;
}

export interface CheckOptions {
  /** Where SRV records are read (default: the system's nameservers, a short timeout). */
  resolver?: Resolver;
}

export async function checkInstallation(
  config: CoreConfig,
  out: Output,
  options: CheckOptions = {},
): Promise<number> {
  let problems = 0;
  const ok = (msg: string) => out.write(`ok      ${msg}\n`);
  const bad = (msg: string) => {
    problems++;
    out.write(`PROBLEM ${msg}\n`);
  };
  const note = (msg: string) => out.write(`note    ${msg}\n`);

  ok(`config: hosts ${config.hosts.join(', ')}`);

  try {
    mkdirSync(config.data_dir, { recursive: true });
    accessSync(config.data_dir, constants.W_OK);
    ok(`data_dir ${config.data_dir} is writable`);
  } catch (err) {
    bad(
      `data_dir ${config.data_dir} is not writable (${(err as NodeJS.ErrnoException).code}): fix its permissions or set data_dir`,
    );
  }

  try {
    const db = openDatabase(databasePath(config));
    const versions = db
      .prepare('SELECT concern, version FROM schema_versions ORDER BY concern')
      .all() as Array<{
      concern: string;
      version: number;
    }>;
    db.close();
    ok(
      `database ${databasePath(config)} (schema: ${versions.map((v) => `${v.concern} ${v.version}`).join(', ')})`,
    );
  } catch (err) {
    bad((err as Error).message);
  }

  const store = certificateStore(config, silentLogger);
  try {
    for (const report of await store.check()) {
      if (report.source === 'generated' && !existsSync(report.path)) {
        note(
          `${report.host} has no certificate yet: a self-signed one will be generated at start in ${report.path}`,
        );
        continue;
      }
      const label =
        report.names.length === 0
          ? `certificate for ${report.host}: ${report.path}`
          : `certificate for ${report.host}: ${report.path} (${report.names.join(', ')}; until ${report.notAfter.toISOString().slice(0, 10)})`;
      if (report.problems.length > 0) {
        bad(`${label}: ${report.problems.join('; ')}: ${certificateAdvice(report.host, report.source)}`);
      } else ok(label);
      if (report.selfSigned) {
        note(
          `${report.host} uses a self-signed certificate: clients will ask users to trust it; other servers will use dialback`,
        );
      }
    }
  } catch (err) {
    bad((err as Error).message);
  }

  // A component's secret that cannot be read stops the server at start; say so now.
  for (const [domain, entry] of Object.entries(config.components)) {
    try {
      readComponentSecret(domain, entry);
      ok(`component ${domain}: secret found`);
    } catch (err) {
      bad((err as Error).message);
    }
  }

  const { c2s, s2s, component } = config;
  const ports = [{ key: 'c2s.port', name: 'c2s', port: c2s.port, addresses: c2s.addresses, section: 'c2s' }];
  if (c2s.direct_tls) {
    ports.push({
      key: 'c2s.direct_tls_port',
      name: 'c2s direct TLS',
      port: c2s.direct_tls_port,
      addresses: c2s.addresses,
      section: 'c2s',
    });
  }
  if (s2s.enabled) {
    ports.push({ key: 's2s.port', name: 's2s', port: s2s.port, addresses: s2s.addresses, section: 's2s' });
    if (s2s.direct_tls) {
      ports.push({
        key: 's2s.direct_tls_port',
        name: 's2s direct TLS',
        port: s2s.direct_tls_port,
        addresses: s2s.addresses,
        section: 's2s',
      });
    }
  }
  // The component listener opens only when some component may connect (server.ts).
  if (Object.keys(config.components).length > 0 || config.bot.enabled) {
    ports.push({
      key: 'component.port',
      name: 'component',
      port: component.port,
      addresses: component.addresses,
      section: 'component',
    });
  }
  for (const { key, name, port, addresses, section } of ports) {
    for (const address of addresses) {
      const where = `${name} ${formatAddress(address, port)}`;
      if (port === 0) {
        note(`${where}: ${key} is 0, so a free port is picked at every start`);
        continue;
      }
      const problem = await tryListen(address, port, addresses, key, `${section}.addresses`);
      if (problem) bad(`${where}: ${problem}`);
      else ok(`${where} is free`);
    }
  }
  if (!c2s.require_encryption) note('c2s.require_encryption is off: clients may log in without TLS');
  const findings = await checkDns(
    config.hosts,
    {
      c2s: c2s.port,
      c2sDirectTls: c2s.direct_tls ? c2s.direct_tls_port : undefined,
      s2s: s2s.enabled ? s2s.port : undefined,
      s2sDirectTls: s2s.enabled && s2s.direct_tls ? s2s.direct_tls_port : undefined,
    },
    // One short try per query: a machine without a network must not make the check hang.
    options.resolver ?? dnsServerResolver([], { timeoutMs: 3000, tries: 1 }),
  );
  for (const { level, message } of findings) {
    if (level === 'ok') ok(message);
    else if (level === 'note') note(message);
    else bad(message);
  }

  out.write(problems === 0 ? 'all checks passed\n' : `${problems} problem(s) found\n`);
  return problems === 0 ? 0 : 1;
}

function tryListen(
  address: string,
  port: number,
  all: readonly string[],
  key: string,
  addressesKey: string,
): Promise<string | undefined> {
  const ipv6Only = net.isIPv6(address) && all.some((a) => net.isIPv4(a));
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      resolve(
        err.code === 'EADDRINUSE'
          ? `in use by another program: stop it or change ${key} (if it is this Warbler, already running, all is well)`
          : err.code === 'EACCES'
            ? `permission denied: set ${key} above 1023, or grant node CAP_NET_BIND_SERVICE`
            : err.code === 'EADDRNOTAVAIL'
              ? `no such address on this machine: fix ${addressesKey}`
              : `${err.code}: ${err.message}`,
      );
    });
    server.listen({ host: address, port, ipv6Only }, () => server.close(() => resolve(undefined)));
  });
}

/** What to do about a certificate that has problems, by where it comes from. */
function certificateAdvice(host: string, source: 'file' | 'generated'): string {
  return source === 'file'
    ? `configure a valid certificate that names ${host} ([tls] certificate/key, or [tls.hosts."${host}"]), ` +
        'then restart Warbler or send it SIGHUP'
    : 'run "warbler cert generate" to replace it, then send a running Warbler SIGHUP';
}
