import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { parse } from 'smol-toml';
import { REGENERATE_COMMAND, renderExample } from '../../src/config/example.js';
import {
  ConfigError,
  type ConfigErrorCode,
  dotted,
  editDistance,
  loadConfig,
} from '../../src/config/load.js';
import type { CoreConfig } from '../../src/config/options.js';
import { bool, int, path, section, str, strList, table } from '../../src/config/schema.js';
import { moduleSections } from '../../src/modules.js';

const FILE = '/etc/warbler.toml';

/** Loads `text` as if read from /etc/warbler.toml and returns the ConfigError it throws. */
function errorFor(text: string, extra?: Parameters<typeof loadConfig>[1]): ConfigError {
  try {
    loadConfig({ file: FILE, text }, extra);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

const DEFAULTS: CoreConfig = {
  hosts: ['localhost'],
  data_dir: resolve('data'),
  log: { level: 'info', format: 'text' },
  c2s: {
    addresses: ['0.0.0.0', '::'],
    port: 5222,
    direct_tls: true,
    direct_tls_port: 5223,
    require_encryption: true,
    allow_plain: true,
    max_stanza_bytes: 262144,
    max_depth: 32,
    auth_timeout: 60,
    max_auth_attempts: 3,
    max_connections_per_ip: 100,
    auth_failures_per_ip: 10,
    auth_failure_window: 60,
    resource_conflict: 'replace',
    max_resources: 32,
    whitespace_keepalive: 0,
    resumption_timeout: 300,
    max_unacked: 1000,
  },
  s2s: {
    enabled: true,
    addresses: ['0.0.0.0', '::'],
    port: 5269,
    direct_tls: true,
    direct_tls_port: 5270,
    require_encryption: true,
    secure_auth: false,
    bidi: true,
    ca_file: undefined,
    allow: [],
    deny: [],
    routes: {},
    dns_servers: [],
    max_connections_per_ip: 100,
    connect_timeout: 10,
    auth_timeout: 60,
    idle_timeout: 600,
    queue_limit: 500,
    max_stanza_bytes: 262144,
    dialback_secret: '',
  },
  tls: { certificate: undefined, key: undefined, hosts: {} },
  auth: { scram_iterations: 4096 },
  modules: { disabled: [] },
  component: { addresses: ['127.0.0.1', '::1'], port: 5347 },
  components: {},
  // The assistant's defaults are checked in bot-config.test.ts.
  bot: loadConfig({}).bot,
};

describe('config', () => {
  describe('defaults', () => {
    it('applies every default when there is no file', () => {
      expect(loadConfig({})).to.deep.equal(DEFAULTS);
    });

    it('applies every default for an empty file', () => {
      expect(loadConfig({ text: '' })).to.deep.equal(DEFAULTS);
    });

    it('keeps what is set and defaults the rest of the section', () => {
      const config = loadConfig({ text: '[c2s]\nport = 15222\n' });
      expect(config.c2s.port).to.equal(15222);
      expect(config.c2s.direct_tls_port).to.equal(5223);
      expect(config.log).to.deep.equal(DEFAULTS.log);
    });

    it('accepts a byte order mark before the first key', () => {
      expect(loadConfig({ text: '\uFEFFhosts = ["example.org"]\n' }).hosts).to.deep.equal(['example.org']);
    });
  });

  describe('type errors', () => {
    const cases: [string, string][] = [
      ['[c2s]\nport = "abc"', 'c2s.port must be an integer from 0 to 65535 (got "abc")'],
      ['[c2s]\nport = 52.5', 'c2s.port must be an integer from 0 to 65535 (got 52.5)'],
      [
        '[c2s]\nport = "5222"',
        'c2s.port must be an integer from 0 to 65535 (got "5222" — write it without quotes)',
      ],
      [
        '[c2s]\nauth_timeout = true',
        'c2s.auth_timeout must be a whole number of seconds from 5 to 3600 (got true)',
      ],
      ['[c2s]\ndirect_tls = "yes"', 'c2s.direct_tls must be true or false (got "yes")'],
      [
        '[c2s]\ndirect_tls = "true"',
        'c2s.direct_tls must be true or false (got "true" — write it without quotes)',
      ],
      [
        '[log]\nlevel = 3',
        'log.level must be one of "trace", "debug", "info", "warn", "error", "silent" (got 3)',
      ],
      [
        'hosts = "example.org"',
        'hosts must be a list of strings (got "example.org" — write ["example.org"])',
      ],
      ['hosts = 1', 'hosts must be a list of strings (got 1)'],
      ['hosts = ["example.org", 2]', 'hosts[1] must be a string (got 2)'],
      ['data_dir = 1979-05-27', 'data_dir must be a path (a string) (got a date)'],
      ['c2s = 5', 'c2s must be a section, written as a [c2s] line followed by its keys (got 5)'],
      [
        '[log]\nlevel = ["info"]',
        'log.level must be one of "trace", "debug", "info", "warn", "error", "silent" (got a list of 1 value)',
      ],
      ['[c2s]\nport = inf', 'c2s.port must be an integer from 0 to 65535 (got inf)'],
      [
        '[tls]\nhosts = 1',
        'tls.hosts must be a table of sections, each written as [tls.hosts."example.org"] (got 1)',
      ],
      [
        '[tls.hosts]\n"localhost" = 1',
        'tls.hosts.localhost must be a section, written as a [tls.hosts.localhost] line followed by its keys (got 1)',
      ],
    ];
    for (const [text, message] of cases)
      it(`rejects ${JSON.stringify(text)}`, () => {
        const err = errorFor(text);
        expect(err.code).to.equal('CONFIG_TYPE');
        expect(err.message).to.equal(`config ${FILE}: ${message}`);
        expect(err.file).to.equal(FILE);
      });

    it('names the key on the error', () => {
      expect(errorFor('[c2s]\nport = "abc"').key).to.equal('c2s.port');
    });
  });

  describe('range errors', () => {
    const cases: [string, string][] = [
      ['[c2s]\nport = 65536', 'c2s.port must be an integer from 0 to 65535 (got 65536)'],
      ['[c2s]\nport = -1', 'c2s.port must be an integer from 0 to 65535 (got -1)'],
      [
        '[c2s]\nmax_stanza_bytes = 9999',
        'c2s.max_stanza_bytes must be a whole number of bytes from 10000 to 16777216 (got 9999)',
      ],
      ['[c2s]\nmax_depth = 257', 'c2s.max_depth must be an integer from 8 to 256 (got 257)'],
      [
        '[c2s]\nauth_timeout = 4',
        'c2s.auth_timeout must be a whole number of seconds from 5 to 3600 (got 4)',
      ],
      [
        '[c2s]\nwhitespace_keepalive = 3601',
        'c2s.whitespace_keepalive must be a whole number of seconds from 0 to 3600 (got 3601)',
      ],
      [
        '[auth]\nscram_iterations = 1000',
        'auth.scram_iterations must be an integer from 4096 to 1000000 (got 1000)',
      ],
      ['hosts = []', 'hosts must list at least one value (got [])'],
      ['[c2s]\naddresses = []', 'c2s.addresses must list at least one value (got [])'],
    ];
    for (const [text, message] of cases)
      it(`rejects ${JSON.stringify(text)}`, () => {
        const err = errorFor(text);
        expect(err.code).to.equal('CONFIG_RANGE');
        expect(err.message).to.equal(`config ${FILE}: ${message}`);
      });

    it('accepts both ends of a range', () => {
      const config = loadConfig({ text: '[c2s]\nport = 0\ndirect_tls_port = 65535\nmax_depth = 8\n' });
      expect([config.c2s.port, config.c2s.direct_tls_port, config.c2s.max_depth]).to.deep.equal([
        0, 65535, 8,
      ]);
    });

    it('accepts an integer written as a float with no fraction', () => {
      expect(loadConfig({ text: '[c2s]\nport = 5222.0' }).c2s.port).to.equal(5222);
    });
  });

  describe('value errors', () => {
    const cases: [string, string][] = [
      [
        '[log]\nlevel = "verbose"',
        'log.level must be one of "trace", "debug", "info", "warn", "error", "silent" (got "verbose")',
      ],
      [
        '[c2s]\nresource_conflict = "kick"',
        'c2s.resource_conflict must be one of "replace", "refuse" (got "kick")',
      ],
      [
        '[c2s]\naddresses = ["0.0.0.0", "1.2.3"]',
        'c2s.addresses[1] must be an IPv4 or IPv6 address such as 0.0.0.0 or :: (got "1.2.3")',
      ],
      [
        '[c2s]\naddresses = ["::", "::"]',
        'c2s.addresses[1] repeats c2s.addresses[0] ("::") — list each value once',
      ],
      ['[c2s]\ndirect_tls_port = 5222', 'c2s.direct_tls_port must differ from c2s.port (both are 5222)'],
      ['[s2s]\ndirect_tls_port = 5269', 's2s.direct_tls_port must differ from s2s.port (both are 5269)'],
      ['[s2s]\nport = 5222', 's2s.port is 5222, which a client listener uses too — pick another port'],
      [
        '[s2s]\nallow = ["example.net"]\ndeny = ["example.net"]',
        's2s.deny names example.net, which s2s.allow names too — keep it in one list',
      ],
      [
        '[s2s.routes."example.net"]\nport = 5269',
        's2s.routes."example.net".host is missing — add the host name or address to connect to',
      ],
      [
        '[s2s]\ndns_servers = ["127.0.0.1:99999"]',
        's2s.dns_servers[0] must be an IP address, optionally with a port, such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53 (got "127.0.0.1:99999")',
      ],
      [
        '[s2s.routes."localhost"]\nhost = "10.0.0.1"',
        's2s.routes.localhost is one of hosts: a static route is for a remote domain — remove this table',
      ],
      ['data_dir = ""', 'data_dir must be a path, not an empty string — remove the key instead'],
      [
        '[tls]\ncertificate = "cert.pem"',
        'tls.key must be set when tls.certificate is (the private key of that certificate)',
      ],
      ['[tls]\nkey = "key.pem"', 'tls.certificate must be set when tls.key is (the certificate of that key)'],
      [
        '[modules]\ndisabled = ["ping", "ping"]',
        'modules.disabled[1] repeats modules.disabled[0] ("ping") — list each value once',
      ],
    ];
    for (const [text, message] of cases)
      it(`rejects ${JSON.stringify(text)}`, () => {
        const err = errorFor(text);
        expect(err.code).to.equal('CONFIG_VALUE');
        expect(err.message).to.equal(`config ${FILE}: ${message}`);
      });

    it('allows the same port for both listeners when it is 0 (any free port)', () => {
      const config = loadConfig({ text: '[c2s]\nport = 0\ndirect_tls_port = 0\n' });
      expect([config.c2s.port, config.c2s.direct_tls_port]).to.deep.equal([0, 0]);
    });

    it('allows the same port for both when direct TLS is off', () => {
      expect(
        loadConfig({ text: '[c2s]\ndirect_tls = false\ndirect_tls_port = 5222\n' }).c2s.direct_tls,
      ).to.equal(false);
    });

    it('accepts IPv4 and IPv6 literals', () => {
      const text = '[c2s]\naddresses = ["127.0.0.1", "::1", "fe80::1", "192.0.2.10"]\n';
      expect(loadConfig({ text }).c2s.addresses).to.deep.equal(['127.0.0.1', '::1', 'fe80::1', '192.0.2.10']);
    });
  });

  describe('hosts', () => {
    const valid: [string, string][] = [
      ['localhost', 'localhost'],
      ['example.org', 'example.org'],
      ['Example.ORG', 'example.org'],
      // The form of a JID's domainpart, which every stanza's domain is compared with.
      ['xn--bcher-kva.example', 'bücher.example'],
      ['BÜCHER.example', 'bücher.example'],
      ['bücher.example', 'bücher.example'],
      ['a-b.c1.example', 'a-b.c1.example'],
      ['x', 'x'],
    ];
    for (const [host, loaded] of valid)
      it(`accepts ${host}`, () => {
        expect(loadConfig({ text: `hosts = [${JSON.stringify(host)}]` }).hosts).to.deep.equal([loaded]);
      });

    const expected =
      'must be a domain name (dot-separated labels of letters, digits and hyphens, or localhost)';
    const invalid = [
      'exa mple.org',
      'example..org',
      '.example.org',
      'example.org.',
      '-example.org',
      'example-.org',
      'user@example.org',
      'example.org:5222',
      'exam_ple.org',
      '',
      'a'.repeat(64) + '.org',
      `${'a'.repeat(60)}.`.repeat(5) + 'org',
      'xn--zz.example',
    ];
    for (const host of invalid)
      it(`rejects ${JSON.stringify(host)}`, () => {
        const err = errorFor(`hosts = ["example.net", ${JSON.stringify(host)}]`);
        expect(err.code).to.equal('CONFIG_VALUE');
        expect(err.key).to.equal('hosts[1]');
        expect(err.message).to.match(
          new RegExp(`^config /etc/warbler\\.toml: hosts\\[1\\] ${escapeRegExp(expected)} \\(got "`),
        );
      });

    it('rejects a host listed twice, as an A-label and in Unicode', () => {
      const err = errorFor('hosts = ["bücher.example", "xn--bcher-kva.example"]');
      expect(err.message).to.equal(
        `config ${FILE}: hosts[1] repeats hosts[0] ("bücher.example") — list each value once`,
      );
    });

    it('rejects a host listed twice, whatever its case', () => {
      const err = errorFor('hosts = ["example.org", "example.net", "EXAMPLE.org"]');
      expect(err.code).to.equal('CONFIG_VALUE');
      expect(err.message).to.equal(
        `config ${FILE}: hosts[2] repeats hosts[0] ("example.org") — list each value once`,
      );
    });
  });

  describe('unknown keys', () => {
    const cases: [string, string, string][] = [
      ['[c2s]\nprot = 5222', 'c2s.prot', 'unknown key c2s.prot — did you mean c2s.port?'],
      ['[c2s]\nmax-depth = 16', 'c2s.max-depth', 'unknown key c2s.max-depth — did you mean c2s.max_depth?'],
      ['[c2s]\nPort = 1', 'c2s.Port', 'unknown key c2s.Port — did you mean c2s.port?'],
      ['host = ["a.example"]', 'host', 'unknown key host — did you mean hosts?'],
      ['[lgo]\nlevel = "info"', 'lgo', 'unknown section [lgo] — did you mean [log]?'],
      ['port = 5222', 'port', 'unknown key port — did you mean c2s.port?'],
      [
        '[log]\nlevel = "info"\nhosts = ["a.example"]',
        'log.hosts',
        'unknown key log.hosts — hosts is a top-level key: move it above the first [section] header',
      ],
      [
        '[c2s]\nfrobnicate = 1',
        'c2s.frobnicate',
        'unknown key c2s.frobnicate — remove it (config.example.toml lists every option)',
      ],
      [
        '[muc]\nrooms = 1',
        'muc',
        'unknown section [muc] — remove it (config.example.toml lists every option)',
      ],
      [
        '[tls.hosts."localhost"]\ncertificate = "c"\nkye = "k"',
        'tls.hosts.localhost.kye',
        'unknown key tls.hosts.localhost.kye — did you mean tls.hosts.localhost.key?',
      ],
      [
        '[tls.extra]\nx = 1',
        'tls.extra',
        'unknown key tls.extra — remove it (config.example.toml lists every option)',
      ],
    ];
    for (const [text, key, message] of cases)
      it(`rejects ${JSON.stringify(text)}`, () => {
        const err = errorFor(text);
        expect(err.code).to.equal('CONFIG_UNKNOWN_KEY');
        expect(err.key).to.equal(key);
        expect(err.message).to.equal(`config ${FILE}: ${message}`);
      });
  });

  describe('tls.hosts table', () => {
    const entry = (name: string) =>
      `[tls.hosts.${JSON.stringify(name)}]\ncertificate = "c.pem"\nkey = "k.pem"\n`;

    it('loads entries for hosts and their subdomains, with resolved paths', () => {
      const dir = '/srv/warbler';
      const text =
        'hosts = ["example.org", "example.net"]\n' + entry('example.org') + entry('muc.example.net');
      const config = loadConfig({ file: `${dir}/warbler.toml`, text });
      expect({ ...config.tls.hosts }).to.deep.equal({
        'example.org': { certificate: '/srv/warbler/c.pem', key: '/srv/warbler/k.pem' },
        'muc.example.net': { certificate: '/srv/warbler/c.pem', key: '/srv/warbler/k.pem' },
      });
    });

    it('lowercases entry names so they match hosts', () => {
      const config = loadConfig({ text: 'hosts = ["example.org"]\n' + entry('Example.ORG') });
      expect(Object.keys(config.tls.hosts)).to.deep.equal(['example.org']);
    });

    const rejected: [string, string][] = [
      [
        'other.org',
        'tls.hosts."other.org" names neither one of hosts nor a subdomain of one (hosts = ["example.org"]) ' +
          '— add the domain to hosts, or remove this table',
      ],
      [
        'notexample.org',
        'tls.hosts."notexample.org" names neither one of hosts nor a subdomain of one (hosts = ["example.org"]) ' +
          '— add the domain to hosts, or remove this table',
      ],
      [
        'bad name',
        'tls.hosts."bad name" is not a valid name: it must be a domain name (dot-separated labels of letters, ' +
          'digits and hyphens, or localhost)',
      ],
    ];
    for (const [name, message] of rejected)
      it(`rejects an entry named ${JSON.stringify(name)}`, () => {
        const err = errorFor('hosts = ["example.org"]\n' + entry(name));
        expect(err.code).to.equal('CONFIG_VALUE');
        expect(err.message).to.equal(`config ${FILE}: ${message}`);
      });

    it('rejects two entries that differ only in case', () => {
      const err = errorFor('hosts = ["example.org"]\n' + entry('example.org') + entry('EXAMPLE.org'));
      expect(err.code).to.equal('CONFIG_VALUE');
      expect(err.message).to.equal(
        `config ${FILE}: tls.hosts."EXAMPLE.org" is the same name as tls.hosts."example.org" — keep one of them`,
      );
    });

    it('requires both paths in an entry', () => {
      const err = errorFor('[tls.hosts.localhost]\ncertificate = "c.pem"\n');
      expect(err.code).to.equal('CONFIG_MISSING');
      expect(err.key).to.equal('tls.hosts.localhost.key');
      expect(err.message).to.equal(
        `config ${FILE}: tls.hosts.localhost.key is missing — add it (PEM private key of that certificate)`,
      );
    });

    it('gives a table with no entries a prototype-free empty object', () => {
      const hosts = loadConfig({}).tls.hosts;
      expect(Object.getPrototypeOf(hosts)).to.equal(null);
      expect(Object.keys(hosts)).to.deep.equal([]);
    });
  });

  describe('files and paths', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'warbler-config-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it("resolves relative paths against the config file's directory", () => {
      mkdirSync(join(dir, 'etc'));
      const file = join(dir, 'etc', 'warbler.toml');
      writeFileSync(
        file,
        'data_dir = "../var/warbler"\n[tls]\ncertificate = "certs/fullchain.pem"\nkey = "/abs/privkey.pem"\n',
      );
      const config = loadConfig({ file });
      expect(config.data_dir).to.equal(join(dir, 'var', 'warbler'));
      expect(config.tls.certificate).to.equal(join(dir, 'etc', 'certs', 'fullchain.pem'));
      expect(config.tls.key).to.equal('/abs/privkey.pem');
    });

    it("resolves the default data_dir against the config file's directory", () => {
      const file = join(dir, 'warbler.toml');
      writeFileSync(file, '');
      expect(loadConfig({ file }).data_dir).to.equal(join(dir, 'data'));
    });

    it('resolves paths against the current directory when there is no file', () => {
      expect(loadConfig({ text: 'data_dir = "state"' }).data_dir).to.equal(join(process.cwd(), 'state'));
    });

    it('reports a missing file with its path', () => {
      const file = join(dir, 'absent.toml');
      let caught: unknown;
      try {
        loadConfig({ file });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      const err = caught as ConfigError;
      expect(err.code).to.equal('CONFIG_FILE');
      expect(err.file).to.equal(file);
      expect(err.message).to.equal(
        `config ${file}: the file does not exist — check the path, or give none to run with the defaults`,
      );
    });

    it('reports a directory given as the file', () => {
      expect(() => loadConfig({ file: dir }))
        .to.throw(ConfigError)
        .with.property('code', 'CONFIG_FILE');
    });
  });

  describe('syntax errors', () => {
    it('reports the line and column smol-toml found', () => {
      const err = errorFor('hosts = ["localhost"]\n\n[c2s]\nport = 52x2\n');
      expect(err.code).to.equal('CONFIG_SYNTAX');
      expect([err.line, err.column]).to.deep.equal([4, 10]);
      expect(err.message.split('\n')[0]).to.equal(
        `config ${FILE}: TOML syntax error at line 4, column 10: illegal character in numeric literal`,
      );
      expect(err.message).to.contain('4:  port = 52x2');
    });

    it('reports a key defined twice', () => {
      const err = errorFor('[c2s]\nport = 1\nport = 2\n');
      expect(err.code).to.equal('CONFIG_SYNTAX');
      expect(err.line).to.equal(3);
    });

    it('names no file when there is none', () => {
      expect(() => loadConfig({ text: 'a =' })).to.throw(ConfigError, /^config: TOML syntax error at line 1/);
    });
  });

  describe('frozen result', () => {
    const config = loadConfig({
      text: 'hosts = ["example.org"]\n[tls.hosts."example.org"]\ncertificate = "c"\nkey = "k"',
    });

    const assignments: [string, () => void][] = [
      ['a top-level key', () => ((config as { data_dir: string }).data_dir = 'x')],
      ['a section key', () => ((config.c2s as { port: number }).port = 1)],
      ['a section', () => ((config as { log: unknown }).log = {})],
      ['a list item', () => ((config.hosts as string[])[0] = 'evil.example')],
      ['a list push', () => (config.hosts as string[]).push('evil.example')],
      ['a default list', () => (config.c2s.addresses as string[]).push('127.0.0.1')],
      ['a table entry', () => ((config.tls.hosts as Record<string, unknown>)['evil.example'] = {})],
      ['a table entry key', () => ((config.tls.hosts['example.org'] as { key: string }).key = 'x')],
    ];
    for (const [what, assign] of assignments)
      it(`throws when assigning to ${what}`, () => {
        expect(assign).to.throw(TypeError);
      });

    it('is frozen all the way down', () => {
      expect(isDeepFrozen(config)).to.equal(true);
      expect(isDeepFrozen(loadConfig({}))).to.equal(true);
    });
  });

  describe('module sections', () => {
    const extra = {
      muc: section({
        doc: 'Group chat rooms (XEP-0045).',
        fields: {
          max_occupants: int({ default: 100, min: 1, max: 10000, doc: 'Occupants allowed in one room.' }),
          logging: bool({ default: false, doc: 'Archive room messages.' }),
          default_role: str({
            default: 'participant',
            choices: ['participant', 'visitor'],
            doc: 'Role of a newcomer.',
          }),
          admins: strList({ default: [], doc: 'Bare JIDs allowed to administer every room.' }),
          archive_dir: path({ default: 'muc', doc: 'Where exported room archives go.' }),
        },
      }),
      llm: section({
        fields: {
          endpoint: str({ default: 'http://127.0.0.1:11434/v1', doc: 'Chat-completions endpoint.' }),
        },
      }),
    };

    it('fills in defaults for absent module sections', () => {
      const config = loadConfig({}, extra);
      expect(config.muc).to.deep.equal({
        max_occupants: 100,
        logging: false,
        default_role: 'participant',
        admins: [],
        archive_dir: resolve('muc'),
      });
      expect(config.llm.endpoint).to.equal('http://127.0.0.1:11434/v1');
      expect(config.c2s.port).to.equal(5222);
    });

    it('loads module sections and types them precisely', () => {
      const config = loadConfig({ text: '[muc]\nmax_occupants = 20\ndefault_role = "visitor"\n' }, extra);
      const role: 'participant' | 'visitor' = config.muc.default_role;
      const occupants: number = config.muc.max_occupants;
      expect([role, occupants]).to.deep.equal(['visitor', 20]);
      expect(Object.isFrozen(config.muc)).to.equal(true);
    });

    it('validates module sections like core ones', () => {
      const err = errorFor('[muc]\nmax_occupants = 0\n', extra);
      expect(err.code).to.equal('CONFIG_RANGE');
      expect(err.message).to.equal(
        `config ${FILE}: muc.max_occupants must be an integer from 1 to 10000 (got 0)`,
      );
    });

    it('rejects unknown keys in module sections, with a suggestion', () => {
      const err = errorFor('[muc]\nmax_ocupants = 5\n', extra);
      expect(err.code).to.equal('CONFIG_UNKNOWN_KEY');
      expect(err.message).to.equal(
        `config ${FILE}: unknown key muc.max_ocupants — did you mean muc.max_occupants?`,
      );
    });

    it('suggests a module section for a misspelt one', () => {
      expect(errorFor('[mux]\n', extra).message).to.equal(
        `config ${FILE}: unknown section [mux] — did you mean [muc]?`,
      );
    });

    it('refuses a module section named like a core option', () => {
      const clash = { c2s: section({ fields: {} }) };
      expect(() => loadConfig({}, clash))
        .to.throw(ConfigError)
        .with.property('code', 'CONFIG_SCHEMA');
    });

    it('renders module sections in the example after the core ones', () => {
      const text = renderExample(extra);
      expect(text.startsWith(renderExample())).to.equal(true);
      expect(text.slice(renderExample().length)).to.equal(
        [
          '',
          '# Group chat rooms (XEP-0045).',
          '[muc]',
          '# Occupants allowed in one room.',
          '# Range: 1 to 10000.',
          'max_occupants = 100',
          '',
          '# Archive room messages.',
          'logging = false',
          '',
          '# Role of a newcomer.',
          '# One of: participant, visitor.',
          'default_role = "participant"',
          '',
          '# Bare JIDs allowed to administer every room.',
          'admins = []',
          '',
          '# Where exported room archives go.',
          'archive_dir = "muc"',
          '',
          '[llm]',
          '# Chat-completions endpoint.',
          'endpoint = "http://127.0.0.1:11434/v1"',
          '',
        ].join('\n'),
      );
      expect(loadConfig({ text }, extra)).to.deep.equal(loadConfig({}, extra));
    });
  });

  describe('schema declarations', () => {
    const mistakes: [string, () => unknown][] = [
      ['an int default out of range', () => int({ default: 0, min: 1, max: 2, doc: '' })],
      ['an int default that is not an integer', () => int({ default: 1.5, min: 1, max: 2, doc: '' })],
      ['an empty int range', () => int({ default: 1, min: 2, max: 1, doc: '' })],
      ['a str default outside its choices', () => str({ default: 'c' as 'a', choices: ['a', 'b'], doc: '' })],
      ['a list default shorter than minItems', () => strList({ default: [], minItems: 1, doc: '' })],
      [
        'a list default that fails its item rule',
        () =>
          strList({
            default: ['X'],
            item: { expected: 'lowercase', parse: (s) => s.toLowerCase() },
            doc: '',
          }),
      ],
      ['an empty path default', () => path({ default: '', doc: '' })],
      [
        'a table example key that fails its key rule',
        () =>
          table(section({ fields: {} }), { exampleKey: 'x', key: { expected: 'y', parse: () => undefined } }),
      ],
    ];
    for (const [what, declare] of mistakes)
      it(`throws at declaration for ${what}`, () => {
        expect(declare).to.throw(Error, /^schema: /);
      });
  });

  describe('config.example.toml', () => {
    const committed = new URL('../../../config.example.toml', import.meta.url);

    it('is up to date with the option declarations', () => {
      const current = readFileSync(committed, 'utf8');
      const rendered = renderExample(moduleSections());
      if (current !== rendered)
        expect.fail(`config.example.toml is stale; regenerate it with: ${REGENERATE_COMMAND}`);
    });

    it('parses as TOML', () => {
      expect(() => parse(renderExample())).not.to.throw();
    });

    it('loads to exactly the defaults', () => {
      const example = loadConfig({ file: '/srv/warbler/warbler.toml', text: renderExample() });
      expect(example).to.deep.equal(loadConfig({ file: '/srv/warbler/warbler.toml', text: '' }));
      expect(loadConfig({ text: renderExample() })).to.deep.equal(DEFAULTS);
    });

    it('documents every core option', () => {
      const text = renderExample();
      for (const key of [
        'hosts',
        'data_dir',
        'level',
        'format',
        'port',
        'direct_tls_port',
        'whitespace_keepalive',
      ])
        expect(text).to.match(new RegExp(`^${key} = `, 'm'));
      for (const key of ['certificate', 'key'])
        expect(text).to.match(new RegExp(`^# ${key} = "/etc/letsencrypt/`, 'm'));
      expect(text).to.contain('\n# [tls.hosts."example.org"]\n');
    });

    it('loads the commented-out tls example once uncommented', () => {
      const text = renderExample().replace(/^# (\[tls\.hosts\.|certificate = |key = )/gm, '$1');
      const config = loadConfig({ text: text.replace('hosts = ["localhost"]', 'hosts = ["example.org"]') });
      expect(config.tls.certificate).to.equal('/etc/letsencrypt/live/example.org/fullchain.pem');
      expect(config.tls.hosts['example.org']).to.deep.equal({
        certificate: '/etc/letsencrypt/live/example.org/fullchain.pem',
        key: '/etc/letsencrypt/live/example.org/privkey.pem',
      });
    });
  });

  it('infers precise types (checked by the compiler; see TypeChecks below)', () => {
    const checks: TypeChecks = [true, true, true, true, true, true, true, true];
    expect(checks).to.have.length(8);
  });

  describe('helpers', () => {
    const distances: [string, string, number][] = [
      ['port', 'port', 0],
      ['prot', 'port', 1],
      ['por', 'port', 1],
      ['ports', 'port', 1],
      ['pert', 'port', 1],
      ['', 'abc', 3],
      ['kitten', 'sitting', 3],
      ['ca', 'abc', 3],
    ];
    for (const [a, b, d] of distances)
      it(`editDistance(${JSON.stringify(a)}, ${JSON.stringify(b)}) = ${d}`, () => {
        expect(editDistance(a, b)).to.equal(d);
        expect(editDistance(b, a)).to.equal(d);
      });

    const keys: [(string | number)[], string][] = [
      [['c2s', 'port'], 'c2s.port'],
      [['hosts', 1], 'hosts[1]'],
      [['tls', 'hosts', 'example.org', 'key'], 'tls.hosts."example.org".key'],
      [['tls', 'hosts', 'localhost'], 'tls.hosts.localhost'],
      [['a b'], '"a b"'],
    ];
    for (const [at, text] of keys)
      it(`dotted(${JSON.stringify(at)}) = ${text}`, () => {
        expect(dotted(at)).to.equal(text);
      });
  });
});

// Compile-time checks: these lines fail the build if the inferred types drift.
type Expect<T extends true> = T;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type TypeChecks = [
  Expect<Equal<CoreConfig['log']['level'], 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'>>,
  Expect<Equal<CoreConfig['c2s']['resource_conflict'], 'replace' | 'refuse'>>,
  Expect<Equal<CoreConfig['c2s']['port'], number>>,
  Expect<Equal<CoreConfig['hosts'], readonly string[]>>,
  Expect<Equal<CoreConfig['data_dir'], string>>,
  Expect<Equal<CoreConfig['tls']['certificate'], string | undefined>>,
  Expect<Equal<CoreConfig['tls']['hosts'][string]['key'], string>>,
  Expect<Equal<ConfigErrorCode extends string ? true : false, true>>,
];

function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every(isDeepFrozen);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
