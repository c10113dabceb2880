// Where to connect for a server-to-server stream to a domain.
//
// RFC 6120 §3.2 (resolution of fully qualified domain names: §3.2.1 the SRV process, §3.2.2
// the fallback to the domain's own addresses on port 5269), RFC 2782 (priority, then a
// weighted random choice among equal priorities; a target of "." means the service is
// decidedly not available), XEP-0368 §3 (`_xmpps-server._tcp` records for direct TLS, mixed
// with `_xmpp-server._tcp` records as if they were one set; "." on the direct TLS service
// means "use the STARTTLS records", never "fall back to A/AAAA"), RFC 5890 (names go to DNS
// as A-labels).

import type { SrvRecord } from 'node:dns';
import { Resolver as DnsResolver, lookup as dnsLookup, resolveSrv as dnsResolveSrv } from 'node:dns/promises';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export type { SrvRecord };

/** One place to try: a host name (or address literal) and port, with or without TLS from the first byte. */
export interface ConnectTarget {
  host: string;
  port: number;
  directTls: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** DNS as resolution needs it; tests inject a fake, the server uses {@link systemResolver}. */
export interface Resolver {
  /** The SRV records at a name; an empty list when there are none (NXDOMAIN, NODATA). */
  resolveSrv(name: string): Promise<SrvRecord[]>;
  /** The IPv4 and IPv6 addresses of a host name. */
  lookup(host: string): Promise<ResolvedAddress[]>;
}

/** RFC 6120 §3.2.2: the port a server listens on when DNS says nothing else. */
export const DEFAULT_S2S_PORT = 5269;

const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

/**
 * The operating system's resolver: SRV records from DNS, addresses through getaddrinfo (so
 * /etc/hosts applies, as it does for every other program on the machine).
 */
export const systemResolver: Resolver = {
  async resolveSrv(name) {
    try {
      return await dnsResolveSrv(name);
    } catch (err) {
      if (NO_RECORDS.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  },
  async lookup(host) {
    const all = await dnsLookup(host, { all: true, verbatim: true });
    return all.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
  },
};

export interface DnsServerOptions {
  /** How long one query may take (default 2000 ms). */
  timeoutMs?: number;
  /** How many times a query is sent before giving up (default 2). */
  tries?: number;
}

/**
 * A resolver asking DNS servers directly (`address` or `address:port`; none: the system's
 * nameservers), bypassing /etc/hosts and getaddrinfo: for a private DNS, tests with their own
 * server, and `warbler check`, which must not hang on a machine without a network.
 */
export function dnsServerResolver(servers: string[] = [], opts: DnsServerOptions = {}): Resolver {
  const dns = new DnsResolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
  if (servers.length > 0) dns.setServers(servers);
  const noRecords = <T>(err: unknown): T[] => {
    if (NO_RECORDS.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  };
  return {
    resolveSrv: (name) => dns.resolveSrv(name).catch(noRecords<SrvRecord>),
    async lookup(host) {
      const [v6, v4] = await Promise.all([
        dns.resolve6(host).catch(noRecords<string>),
        dns.resolve4(host).catch(noRecords<string>),
      ]);
      return [
        ...v6.map((address) => ({ address, family: 6 as const })),
        ...v4.map((address) => ({ address, family: 4 as const })),
      ];
    },
  };
}

export interface ResolveOptions {
  resolver?: Resolver;
  service?: 'server';
  /** A number in [0, 1), for RFC 2782's weighted choice; tests make it predictable. */
  random?: () => number;
}

/** A domain as DNS wants it: A-labels, lower case, no trailing dot. */
export function dnsName(domain: string): string {
  const trimmed = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  const ascii = domainToASCII(trimmed);
  if (ascii === '') throw new RangeError(`not a domain name that DNS can look up: ${JSON.stringify(domain)}`);
  return ascii.toLowerCase();
}

/**
 * The places to try, in order, for a stream to `domain`. An empty list means DNS says the
 * domain has no XMPP server ("." targets): the caller must not connect anywhere.
 * A failing SRV query (other than "no such record") counts as no records, as RFC 6120 §3.2.1
 * step 2 lets the initiating entity fall back; an address literal domain is used as it is.
 */
export async function resolveServerTargets(
  domain: string,
  opts: ResolveOptions = {},
): Promise<ConnectTarget[]> {
  const resolver = opts.resolver ?? systemResolver;
  const random = opts.random ?? Math.random;
  const bracketless = domain.startsWith('[') && domain.endsWith(']') ? domain.slice(1, -1) : domain;
  if (isIP(bracketless)) return [{ host: bracketless, port: DEFAULT_S2S_PORT, directTls: false }];

  const name = dnsName(domain);
  const [direct, starttls] = await Promise.all([
    querySrv(resolver, `_xmpps-server._tcp.${name}`),
    querySrv(resolver, `_xmpp-server._tcp.${name}`),
  ]);
  const records = [
    ...usable(direct).map((record) => ({ record, directTls: true })),
    ...usable(starttls).map((record) => ({ record, directTls: false })),
  ];
  if (records.length > 0) {
    return orderSrv(records, random).map(({ record, directTls }) => ({
      host: stripDot(record.name),
      port: record.port,
      directTls,
    }));
  }
  // Some answer, but nothing usable: the domain said "not here" (a "." target).
  if (direct.length > 0 || starttls.length > 0) return [];
  return [{ host: name, port: DEFAULT_S2S_PORT, directTls: false }];
}

async function querySrv(resolver: Resolver, name: string): Promise<SrvRecord[]> {
  try {
    return await resolver.resolveSrv(name);
  } catch {
    // SERVFAIL, timeouts, refused: nothing learnt, the same as no records.
    return [];
  }
}

/** RFC 2782: a single record whose target is "." says the service is decidedly not available. */
function usable(records: SrvRecord[]): SrvRecord[] {
  return records.filter((r) => stripDot(r.name) !== '');
}

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * RFC 2782's ordering: lowest priority first; within one priority, repeatedly pick a record
 * at random with probability proportional to its weight (weight-0 records placed first in the
 * running sum, so they are chosen only rarely when others have weight).
 */
export function orderSrv<T extends { record: SrvRecord }>(entries: readonly T[], random: () => number): T[] {
  const byPriority = new Map<number, T[]>();
  for (const entry of entries) {
    const group = byPriority.get(entry.record.priority);
    if (group === undefined) byPriority.set(entry.record.priority, [entry]);
    else group.push(entry);
  }
  const ordered: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const remaining = [...byPriority.get(priority)!].sort(
      (a, b) => Number(a.record.weight !== 0) - Number(b.record.weight !== 0),
    );
    while (remaining.length > 0) {
      const total = remaining.reduce((sum, e) => sum + e.record.weight, 0);
      // A number in [0, total]: inclusive, as the RFC has it, so weight-0 records can come first.
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let running = 0;
      let index = remaining.findIndex((e) => {
        running += e.record.weight;
        return running >= pick;
      });
      if (index < 0) index = remaining.length - 1;
      ordered.push(remaining[index]!);
      remaining.splice(index, 1);
    }
  }
  return ordered;
}
