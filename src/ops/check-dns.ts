// `warbler check`, DNS part: the SRV records that tell clients and other servers where each
// host's XMPP service is, read the way they read them, with what to do when they lead nowhere.
//
// RFC 6120 §3.2 (`_xmpp-client._tcp` and `_xmpp-server._tcp` SRV records; without any, peers
// try the domain itself on 5222 / 5269), RFC 2782 (a target of "." says the service is not
// offered), XEP-0368 §3 (`_xmpps-client._tcp` / `_xmpps-server._tcp` for direct TLS, where "."
// only says there is no direct TLS), RFC 6761 §6 (names that never reach the public DNS).

import { isIP } from 'node:net';
import { dnsName, type Resolver, type SrvRecord } from '../net/resolve.js';

export type Finding = { level: 'ok' | 'note' | 'problem'; message: string };

/** The ports this configuration listens on; undefined for a service that is off. */
export interface ServicePorts {
  c2s: number;
  c2sDirectTls: number | undefined;
  s2s: number | undefined;
  s2sDirectTls: number | undefined;
}

interface Service {
  /** The SRV service label, `_xmpp-client` etc. */
  label: string;
  /** The config key of the port it leads to. */
  key: string;
  /** The config key that turns it on. */
  switchKey: string;
  /** Undefined when the service is off; 0 when a free port is picked at start. */
  port: number | undefined;
  /** The port peers use without any SRV record (RFC 6120 §3.2.2), for the STARTTLS services. */
  fallbackPort: number | undefined;
  who: string;
}

/** RFC 6761 §6 and RFC 2606 names: the public DNS holds no records for them. */
const RESERVED = ['localhost', 'test', 'invalid', 'example', 'local', 'home.arpa'];

export function isReservedName(domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  if (isIP(name) || (name.startsWith('[') && name.endsWith(']'))) return true;
  return RESERVED.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
}

/** What DNS says about each host's XMPP services. */
export async function checkDns(
  hosts: readonly string[],
  ports: ServicePorts,
  resolver: Resolver,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const services: Service[] = [
    {
      label: '_xmpp-client',
      key: 'c2s.port',
      switchKey: 'c2s',
      port: ports.c2s,
      fallbackPort: 5222,
      who: 'clients',
    },
    {
      label: '_xmpps-client',
      key: 'c2s.direct_tls_port',
      switchKey: 'c2s.direct_tls',
      port: ports.c2sDirectTls,
      fallbackPort: undefined,
      who: 'clients',
    },
  ];
  if (ports.s2s !== undefined) {
    services.push(
      {
        label: '_xmpp-server',
        key: 's2s.port',
        switchKey: 's2s.enabled',
        port: ports.s2s,
        fallbackPort: 5269,
        who: 'other servers',
      },
      {
        label: '_xmpps-server',
        key: 's2s.direct_tls_port',
        switchKey: 's2s.direct_tls',
        port: ports.s2sDirectTls,
        fallbackPort: undefined,
        who: 'other servers',
      },
    );
  }
  for (const host of hosts) {
    if (isReservedName(host)) {
      findings.push({
        level: 'note',
        message: `DNS: ${host} is not a public DNS name, so clients and servers elsewhere cannot find it; SRV records not checked`,
      });
      continue;
    }
    let domain: string;
    try {
      domain = dnsName(host);
    } catch (err) {
      findings.push({ level: 'problem', message: `DNS: ${(err as Error).message}` });
      continue;
    }
    for (const service of services) findings.push(...(await checkService(domain, service, resolver)));
  }
  return findings;
}

async function checkService(domain: string, service: Service, resolver: Resolver): Promise<Finding[]> {
  const name = `${service.label}._tcp.${domain}`;
  let records: SrvRecord[];
  try {
    records = await resolver.resolveSrv(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return [{ level: 'note', message: `DNS: cannot look up ${name} (${code}); SRV records not checked` }];
  }
  const direct = service.fallbackPort === undefined;
  // A port picked at every start cannot be compared with DNS (`warbler check` notes it above).
  const fixedPort = service.port !== undefined && service.port !== 0;
  if (records.length === 0) {
    if (direct) {
      return !fixedPort
        ? []
        : [
            {
              level: 'note',
              message: `DNS: no ${name} record: ${service.who} will not know of direct TLS on port ${service.port}; publish one to offer it (XEP-0368)`,
            },
          ];
    }
    const fallback = service.fallbackPort!;
    if (fixedPort && service.port !== fallback) {
      return [
        {
          level: 'problem',
          message:
            `DNS: no ${name} record, so ${service.who} will connect to ${domain}:${fallback}, but ${service.key} is ${service.port}: ` +
            `publish "${name}. SRV 0 5 ${service.port} <this host>." or set ${service.key} = ${fallback}`,
        },
      ];
    }
    return [
      { level: 'ok', message: `DNS: no ${name} record: ${service.who} will use ${domain}:${fallback}` },
    ];
  }
  const targets = records.filter((r) => r.name !== '' && r.name !== '.');
  if (targets.length === 0) {
    if (direct) return [{ level: 'ok', message: `DNS: ${name} says "." (no direct TLS offered)` }];
    if (service.port === undefined) return [{ level: 'ok', message: `DNS: ${name} says "." (not offered)` }];
    return [
      {
        level: 'problem',
        message: `DNS: ${name} says "." (no service), so ${service.who} will not connect at all: remove that record, or publish one naming this host and port ${service.port}`,
      },
    ];
  }
  const findings: Finding[] = [];
  const listed = targets
    .map((r) => `${r.name}:${r.port} (priority ${r.priority}, weight ${r.weight})`)
    .join(', ');
  findings.push({ level: 'ok', message: `DNS: ${name} → ${listed}` });
  if (service.port === undefined) {
    findings.push({
      level: 'note',
      message: `DNS: ${name} is published but ${service.switchKey} is off here: ${service.who} will fail there and try the next record`,
    });
  }
  for (const target of new Set(targets.map((r) => r.name))) {
    try {
      const addresses = await resolver.lookup(target);
      if (addresses.length === 0) {
        findings.push({
          level: 'problem',
          message: `DNS: ${target}, named by ${name}, has no A or AAAA record: ${service.who} cannot reach it; add one`,
        });
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      findings.push({ level: 'note', message: `DNS: cannot look up ${target} (${code})` });
    }
  }
  if (fixedPort && !targets.some((r) => r.port === service.port)) {
    findings.push({
      level: 'note',
      message: `DNS: ${name} names port ${[...new Set(targets.map((r) => r.port))].join(', ')} but ${service.key} is ${service.port}: fine behind a port forward or proxy, otherwise fix one of them`,
    });
  }
  return findings;
}
