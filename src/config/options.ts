// The core options: every key Warbler itself reads, declared once. Modules declare their own
// sections beside their code and hand them to loadConfig.

import { isIP } from 'node:net';
import { botSchema } from '../bot/config.js';
import { prepareDomainpart } from '../jid.js';
import { bool, type ConfigOf, type ItemRule, int, path, section, str, strList, table } from './schema.js';

// Loose on purpose: the domain syntax an operator can get wrong by typing, not full IDNA
// (RFC 5890) — labels of letters, digits and hyphens, not starting or ending with a hyphen.
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

function parseDomain(value: string): string | undefined {
  if (value.length === 0 || value.length > 253) return undefined;
  const domain = value.toLowerCase();
  for (const label of domain.split('.')) if (label.length > 63 || !LABEL.test(label)) return undefined;
  // Kept in the form JID domainparts take (RFC 7622 §3.2: lower case, U-labels), so that every
  // lookup of a stanza's domain is exact: an A-label host would otherwise match no client.
  try {
    return prepareDomainpart(domain);
  } catch {
    return undefined;
  }
}

export const domainName: ItemRule = {
  expected: 'a domain name (dot-separated labels of letters, digits and hyphens, or localhost)',
  parse: parseDomain,
};

const ipAddress: ItemRule = {
  expected: 'an IPv4 or IPv6 address such as 0.0.0.0 or ::',
  parse: (value) => (isIP(value) === 0 ? undefined : value),
};

/** A DNS server: an IP address, with a port after it (`192.0.2.53:5353`, `[2001:db8::53]:53`). */
const dnsServer: ItemRule = {
  expected: 'an IP address, optionally with a port, such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53',
  parse(value) {
    if (isIP(value) !== 0) return value;
    const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value);
    const v4 = /^([0-9.]+):(\d{1,5})$/.exec(value);
    const match = v6 ?? v4;
    if (!match) return undefined;
    const port = Number(match[2]);
    const family = isIP(match[1]!);
    if (port < 1 || port > 65535 || family === 0 || (v6 !== null) !== (family === 6)) return undefined;
    return value;
  },
};

function isHostOrSubdomain(name: string, hosts: readonly string[]): boolean {
  for (const host of hosts) if (name === host || name.endsWith('.' + host)) return true;
  return false;
}

const log = section({
  doc: 'Logging, one line per event on standard error.',
  fields: {
    level: str({
      default: 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
      doc: 'The least severe level that is logged; trace and debug are verbose and meant for troubleshooting.',
    }),
    format: str({
      default: 'text',
      choices: ['text', 'json'],
      doc: 'text writes human-readable lines; json writes one JSON object per line, for log collectors.',
    }),
  },
});

const c2s = section({
  doc: 'Client connections (RFC 6120).',
  fields: {
    addresses: strList({
      default: ['0.0.0.0', '::'],
      minItems: 1,
      unique: true,
      item: ipAddress,
      doc: 'IP addresses to listen on for clients; 0.0.0.0 is every IPv4 address and :: every IPv6 address.',
    }),
    port: int({
      default: 5222,
      min: 0,
      max: 65535,
      doc: 'TCP port for client connections that upgrade with STARTTLS; 0 picks any free port (for tests).',
    }),
    direct_tls: bool({
      default: true,
      doc: 'Also listen for direct TLS connections (XEP-0368), which start with the TLS handshake instead of STARTTLS.',
    }),
    direct_tls_port: int({
      default: 5223,
      min: 0,
      max: 65535,
      doc: 'TCP port for direct TLS connections; 0 picks any free port (for tests).',
    }),
    require_encryption: bool({
      default: true,
      doc: 'Require STARTTLS before authentication. Turn off only for local tests: without it, messages travel unencrypted.',
    }),
    allow_plain: bool({
      default: true,
      doc: 'Offer SASL PLAIN, which some older clients need. It is never offered on a connection without TLS.',
    }),
    max_stanza_bytes: int({
      default: 262144,
      min: 10000,
      max: 16777216,
      unit: 'bytes',
      doc: 'The largest stanza accepted from a client; a larger one closes the connection with a stream error.',
    }),
    max_depth: int({
      default: 32,
      min: 8,
      max: 256,
      doc: 'The deepest element nesting accepted in a stanza; deeper input closes the connection with a stream error.',
    }),
    auth_timeout: int({
      default: 60,
      min: 5,
      max: 3600,
      unit: 'seconds',
      doc: 'A connection that has not authenticated this long after it opened is closed.',
    }),
    max_auth_attempts: int({
      default: 3,
      min: 1,
      max: 20,
      doc: 'Failed SASL attempts allowed on one connection before it is closed.',
    }),
    max_connections_per_ip: int({
      default: 100,
      min: 1,
      max: 100000,
      doc: 'Simultaneous client connections allowed from one IP address; further ones are refused.',
    }),
    auth_failures_per_ip: int({
      default: 10,
      min: 1,
      max: 10000,
      doc:
        'Failed authentications from one IP address within auth_failure_window after which every further ' +
        'attempt from it fails with temporary-auth-failure until the window has passed.',
    }),
    auth_failure_window: int({
      default: 60,
      min: 1,
      max: 86400,
      unit: 'seconds',
      doc: 'The sliding window over which auth_failures_per_ip is counted.',
    }),
    resource_conflict: str({
      default: 'replace',
      choices: ['replace', 'refuse'],
      doc:
        'When a client binds a resource its account already uses: replace closes the older session with a ' +
        '<conflict/> stream error (RFC 6120 §7.7.2.2; what Prosody and ejabberd do by default); refuse ' +
        'rejects the new bind with a conflict error.',
    }),
    max_resources: int({
      default: 32,
      min: 1,
      max: 1000,
      doc: 'Simultaneous sessions (resources) allowed per account; binding one more is refused.',
    }),
    whitespace_keepalive: int({
      default: 0,
      min: 0,
      max: 3600,
      unit: 'seconds',
      doc:
        'Interval at which the server sends a single space to every authenticated client, to keep NAT and ' +
        'firewall state alive and notice dead connections; 0 turns it off.',
    }),
    resumption_timeout: int({
      default: 300,
      min: 0,
      max: 86400,
      unit: 'seconds',
      doc:
        'How long a session whose connection dropped stays bound, queueing its stanzas, for the client to ' +
        'resume it (XEP-0198); unacknowledged messages then go to offline storage. 0 disables resumption.',
    }),
    max_unacked: int({
      default: 1000,
      min: 10,
      max: 100000,
      doc:
        'Stanzas a client with stream management may leave unacknowledged (XEP-0198); beyond that its ' +
        'session ends with resource-constraint and the rest goes to offline storage.',
    }),
  },
  check(c2s) {
    if (c2s.direct_tls && c2s.port !== 0 && c2s.port === c2s.direct_tls_port)
      return { at: ['direct_tls_port'], message: `must differ from c2s.port (both are ${c2s.port})` };
    return undefined;
  },
});

const s2sRoute = section({
  doc:
    'A fixed place to reach one remote domain, used instead of DNS: for private deployments, ' +
    'and tests that run two servers on one machine.',
  fields: {
    host: str({ default: '', doc: 'Host name or IP address of the server for that domain.' }),
    port: int({ default: 5269, min: 1, max: 65535, doc: 'Its server-to-server port.' }),
    direct_tls: bool({
      default: false,
      doc: 'Whether that port starts with TLS (XEP-0368) rather than offering STARTTLS.',
    }),
  },
  check(route) {
    if (route.host === '')
      return { at: ['host'], message: 'is missing — add the host name or address to connect to' };
    return undefined;
  },
});

const s2s = section({
  doc: 'Server-to-server connections: federation with other XMPP servers (RFC 6120, XEP-0220, XEP-0178).',
  fields: {
    enabled: bool({
      default: true,
      doc: 'Federate: accept connections from other servers and connect to them for stanzas to their users.',
    }),
    addresses: strList({
      default: ['0.0.0.0', '::'],
      minItems: 1,
      unique: true,
      item: ipAddress,
      doc: 'IP addresses to listen on for other servers.',
    }),
    port: int({
      default: 5269,
      min: 0,
      max: 65535,
      doc: 'TCP port for server connections that upgrade with STARTTLS; 0 picks any free port (for tests).',
    }),
    direct_tls: bool({
      default: true,
      doc: 'Also listen for direct TLS server connections (XEP-0368), advertised with _xmpps-server SRV records.',
    }),
    direct_tls_port: int({
      default: 5270,
      min: 0,
      max: 65535,
      doc: 'TCP port for direct TLS server connections; 0 picks any free port (for tests).',
    }),
    require_encryption: bool({
      default: true,
      doc: 'Require TLS on every server connection, both ways; a peer that cannot do TLS is refused.',
    }),
    secure_auth: bool({
      default: false,
      doc:
        'Accept only peers that prove their domain with a certificate from a trusted CA (SASL EXTERNAL, ' +
        'XEP-0178) and never use dialback; servers with self-signed certificates cannot federate then.',
    }),
    bidi: bool({
      default: true,
      doc:
        'Bidirectional server connections (XEP-0288): a peer that asks may receive our stanzas over the ' +
        'connection it opened, and ours carry its stanzas back, so two servers need one TCP connection.',
    }),
    ca_file: path({
      example: '/etc/warbler/extra-ca.pem',
      doc: 'PEM file of CA certificates trusted for peer certificates, besides the system ones.',
    }),
    allow: strList({
      default: [],
      unique: true,
      item: domainName,
      doc: 'When not empty, the only remote domains this server federates with.',
    }),
    deny: strList({
      default: [],
      unique: true,
      item: domainName,
      doc: 'Remote domains this server never federates with.',
    }),
    routes: table(s2sRoute, { key: domainName, exampleKey: 'example.net' }),
    dns_servers: strList({
      default: [],
      unique: true,
      item: dnsServer,
      doc:
        'DNS servers asked for the SRV and address records of remote domains, instead of the system resolver ' +
        '(which also reads /etc/hosts): for a private DNS.',
    }),
    max_connections_per_ip: int({
      default: 100,
      min: 1,
      max: 100000,
      doc:
        'Simultaneous incoming server connections allowed from one IP address (a server hosting many ' +
        'domains may open one per pair); further ones are refused.',
    }),
    connect_timeout: int({
      default: 10,
      min: 1,
      max: 300,
      unit: 'seconds',
      doc: 'How long one TCP connection attempt to a remote server may take.',
    }),
    auth_timeout: int({
      default: 60,
      min: 5,
      max: 3600,
      unit: 'seconds',
      doc:
        'How long a server connection may take to be authenticated, both ways; stanzas waiting for an ' +
        'outgoing one are then returned with remote-server-timeout.',
    }),
    idle_timeout: int({
      default: 600,
      min: 1,
      max: 86400,
      unit: 'seconds',
      doc: 'An outgoing server connection that has carried nothing this long is closed.',
    }),
    queue_limit: int({
      default: 500,
      min: 1,
      max: 100000,
      doc: 'Stanzas held for a remote domain while its connection comes up; more are returned with an error.',
    }),
    max_stanza_bytes: int({
      default: 262144,
      min: 10000,
      max: 16777216,
      unit: 'bytes',
      doc: 'The largest stanza accepted from another server; a larger one closes its connection.',
    }),
    dialback_secret: str({
      default: '',
      doc:
        'The secret dialback keys are made from (XEP-0185). Empty: one is generated and kept in ' +
        'data_dir/s2s-dialback-secret. Set the same one on every node of a cluster.',
    }),
  },
  check(s2s) {
    if (s2s.direct_tls && s2s.port !== 0 && s2s.port === s2s.direct_tls_port)
      return { at: ['direct_tls_port'], message: `must differ from s2s.port (both are ${s2s.port})` };
    for (const domain of s2s.allow)
      if (s2s.deny.includes(domain))
        return { at: ['deny'], message: `names ${domain}, which s2s.allow names too — keep it in one list` };
    return undefined;
  },
});

const hostCertificate = section({
  doc:
    'A certificate for one host or one of its subdomains (a MUC or upload service), ' +
    'used instead of the default one above.',
  fields: {
    certificate: path({
      required: true,
      example: '/etc/letsencrypt/live/example.org/fullchain.pem',
      doc: 'PEM certificate chain, leaf first.',
    }),
    key: path({
      required: true,
      example: '/etc/letsencrypt/live/example.org/privkey.pem',
      doc: 'PEM private key of that certificate.',
    }),
  },
});

const tls = section({
  doc:
    'Certificates. Without any, a self-signed certificate is generated for each host under data_dir/certs: ' +
    "fine for tests, but clients will warn. Use certificates from a CA (e.g. Let's Encrypt) in production.",
  fields: {
    certificate: path({
      example: '/etc/letsencrypt/live/example.org/fullchain.pem',
      doc: 'PEM certificate chain, leaf first, for every host that has no entry of its own in tls.hosts.',
    }),
    key: path({
      example: '/etc/letsencrypt/live/example.org/privkey.pem',
      doc: 'PEM private key of that certificate.',
    }),
    hosts: table(hostCertificate, { key: domainName, exampleKey: 'example.org' }),
  },
  check(tls) {
    if (tls.certificate !== undefined && tls.key === undefined)
      return {
        at: ['key'],
        message: 'must be set when tls.certificate is (the private key of that certificate)',
      };
    if (tls.key !== undefined && tls.certificate === undefined)
      return { at: ['certificate'], message: 'must be set when tls.key is (the certificate of that key)' };
    return undefined;
  },
});

const auth = section({
  doc: 'Authentication.',
  fields: {
    scram_iterations: int({
      default: 4096,
      min: 4096,
      max: 1000000,
      doc:
        'PBKDF2 iterations for passwords set from now on (existing ones keep theirs until changed); ' +
        'more iterations slow down password guessing, and every login.',
    }),
  },
});

const component = section({
  doc:
    'The listener for components (XEP-0114): bots and gateways that serve a domain of their own. It is ' +
    'opened only when [components] names at least one component or the assistant is enabled ([bot]).',
  fields: {
    addresses: strList({
      default: ['127.0.0.1', '::1'],
      minItems: 1,
      unique: true,
      item: ipAddress,
      doc:
        'IP addresses to listen on for components. Loopback by default: a component speaks for its whole ' +
        'domain, so only expose this port to machines you trust.',
    }),
    port: int({
      default: 5347,
      min: 0,
      max: 65535,
      doc: 'TCP port for component connections; 0 picks any free port (for tests).',
    }),
  },
});

const externalComponent = section({
  doc:
    'A component allowed to connect (XEP-0114), keyed by the domain it serves: it authenticates with the ' +
    'secret given here, then receives every stanza for that domain and may send from any address at it. ' +
    'Give the secret with exactly one of secret_file, secret_env or secret.',
  fields: {
    secret_file: path({
      example: '/etc/warbler/bot.example.org.secret',
      doc: 'A file holding the shared secret (surrounding whitespace is ignored). Keep it readable only by Warbler.',
    }),
    secret_env: str({
      default: '',
      doc: 'The name of an environment variable holding the shared secret.',
    }),
    secret: str({
      default: '',
      doc:
        'The shared secret itself. Discouraged: configuration files get copied, shared and committed; ' +
        'prefer secret_file or secret_env.',
    }),
    name: str({
      default: '',
      doc: 'The name shown for the component in service discovery (the disco#items of its host).',
    }),
  },
  check(entry) {
    const given = [
      entry.secret_file !== undefined && 'secret_file',
      entry.secret_env !== '' && 'secret_env',
      entry.secret !== '' && 'secret',
    ].filter((name) => name !== false);
    if (given.length === 0)
      return { at: ['secret_file'], message: 'is missing: set one of secret_file, secret_env or secret' };
    if (given.length > 1)
      return { at: [given[1]!], message: `must not be set together with ${given[0]}: keep one of them` };
    return undefined;
  },
});

const modules = section({
  doc: 'Extension modules.',
  fields: {
    disabled: strList({
      default: [],
      unique: true,
      doc: 'Names of modules not to load, e.g. ["ping"].',
    }),
  },
});

export const coreSchema = section({
  fields: {
    hosts: strList({
      default: ['localhost'],
      minItems: 1,
      unique: true,
      item: domainName,
      doc: 'The domains this server hosts (virtual hosts): accounts are user@host for each of them.',
    }),
    data_dir: path({
      default: 'data',
      doc: 'Where Warbler keeps its SQLite database and generated certificates; back this directory up.',
    }),
    log,
    c2s,
    s2s,
    tls,
    auth,
    modules,
    component,
    components: table(externalComponent, { key: domainName, exampleKey: 'bot.example.org' }),
    bot: botSchema,
  },
  check(config) {
    for (const name of Object.keys(config.tls.hosts))
      if (!isHostOrSubdomain(name, config.hosts))
        return {
          at: ['tls', 'hosts', name],
          message:
            `names neither one of hosts nor a subdomain of one (hosts = [${config.hosts.map((h) => JSON.stringify(h)).join(', ')}]) ` +
            '— add the domain to hosts, or remove this table',
        };
    for (const name of Object.keys(config.components))
      if (config.hosts.includes(name))
        return {
          at: ['components', name],
          message: 'is one of hosts: a component serves a domain of its own, such as bot.' + name,
        };
    if (config.bot.enabled) {
      const domain = assistantDomain(config);
      if (config.hosts.includes(domain))
        return {
          at: ['bot', 'component'],
          message: `is one of hosts (${domain}); choose a domain of its own`,
        };
      if (domain in config.components)
        return {
          at: ['components', domain],
          message:
            'is the domain of the assistant, which warbler start runs itself (bot.enabled = true) with a ' +
            'secret of its own: remove this table, or set bot.enabled = false and run warbler bot yourself',
        };
    }
    if (config.s2s.enabled) {
      const clientPorts = [config.c2s.port, ...(config.c2s.direct_tls ? [config.c2s.direct_tls_port] : [])];
      const serverPorts: Array<['port' | 'direct_tls_port', number]> = [['port', config.s2s.port]];
      if (config.s2s.direct_tls) serverPorts.push(['direct_tls_port', config.s2s.direct_tls_port]);
      for (const [key, port] of serverPorts)
        if (port !== 0 && clientPorts.includes(port))
          return {
            at: ['s2s', key],
            message: `is ${port}, which a client listener uses too — pick another port`,
          };
    }
    for (const domain of Object.keys(config.s2s.routes))
      if (config.hosts.includes(domain))
        return {
          at: ['s2s', 'routes', domain],
          message: 'is one of hosts: a static route is for a remote domain — remove this table',
        };
    return undefined;
  },
});

export type CoreConfig = ConfigOf<typeof coreSchema>;

/** The component domain of the assistant: bot.component, else ai.<the first host>. */
export function assistantDomain(config: Pick<CoreConfig, 'hosts' | 'bot'>): string {
  return config.bot.component === '' ? `ai.${config.hosts[0]}` : config.bot.component.toLowerCase();
}
