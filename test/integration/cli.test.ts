// The `warbler` command end to end: the built CLI spawned as an operator would run it, each
// test in its own directory with its own config file, and the results checked the way an
// operator would see them — a real client logging in, a TLS client looking at the certificate.

import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { client } from '@xmpp/client';
import { expect } from 'chai';
import { writeSelfSigned } from '../../src/tls/store.js';
import { connect, header, RawClient } from '../helpers/client.js';
import { startTestServer } from '../helpers/server.js';

// dist/test/integration/cli.test.js → the repository root.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli.js');
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Written to standard input, which is then closed. */
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs the CLI to completion. */
function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: options.env ?? withoutConfigEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The test runner's environment without a WARBLER_CONFIG that would change what runs. */
function withoutConfigEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('WARBLER_CONFIG' in extra)) delete env.WARBLER_CONFIG;
  return env;
}

const BASE_TOML = [
  'hosts = ["localhost"]',
  'data_dir = "data"',
  '[auth]',
  'scram_iterations = 4096',
  // Federation on free loopback ports, so that servers started side by side never collide.
  '[s2s]',
  'addresses = ["127.0.0.1"]',
  'port = 0',
  'direct_tls_port = 0',
  '[c2s]',
  'addresses = ["127.0.0.1"]',
  'port = 0',
  'direct_tls_port = 0',
].join('\n');

const dirs: string[] = [];

/** A fresh directory holding warbler.toml (BASE_TOML plus `extra`). */
function makeDir(extra = ''): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'warbler-cli-'));
  dirs.push(dir);
  const config = join(dir, 'warbler.toml');
  writeFileSync(config, `${BASE_TOML}\n${extra}\n`);
  return { dir, config };
}

/** The lines of an output, without the final newline. */
function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

async function addUser(config: string, account: string, password: string): Promise<void> {
  const result = await run(['adduser', account, '--password-stdin', '--config', config], {
    input: `${password}\n`,
  });
  expect(result, result.stderr).to.deep.equal({ code: 0, stdout: `created ${account}\n`, stderr: '' });
}

/**
 * Whether `username` can log in with `password` (over STARTTLS, with the client's preferred
 * SASL mechanism). The helper's connect() cannot be used for the failing case: after a SASL
 * failure it would leave the connection open, as RFC 6120 §6.4.5 lets a client retry.
 */
async function canLogin(port: number, username: string, password: string): Promise<boolean> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: 'localhost',
    timeout: 10_000,
    credentials: async (authenticate, mechanisms) => {
      await authenticate({ username, password }, mechanisms[0]!);
    },
  });
  xmpp.reconnect.stop();
  xmpp.on('error', () => {});
  try {
    const bound = await xmpp.start();
    expect(bound.bare().toString()).to.equal(`${username}@localhost`);
    return true;
  } catch (err) {
    if ((err as Error).name === 'SASLError') return false;
    throw err;
  } finally {
    await xmpp.stop().catch(() => {});
  }
}

/** A `warbler start` process, with its listening ports read from its log. */
interface RunningServer {
  child: ChildProcess;
  port: number;
  tlsPort: number;
  /** Everything it has logged so far. */
  log(): string;
  waitForLog(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running: ChildProcess[] = [];

async function startServer(config: string): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
    env: withoutConfigEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let log = '';
  let exited = false;
  const waiters: Array<() => void> = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    log += s;
    notify();
  });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    log += s;
    notify();
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = true;
      notify();
      resolve(code);
    }),
  );
  const waitForLog = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    for (;;) {
      const match = log.match(pattern);
      if (match) return match;
      if (exited) throw new Error(`warbler exited before logging ${pattern}; log:\n${log}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  await waitForLog(/Warbler started/);
  const port = Number((await waitForLog(/listening listener=c2s address=\S+ port=(\d+)/))[1]);
  const tlsPort = Number((await waitForLog(/listening listener=c2s-direct-tls address=\S+ port=(\d+)/))[1]);
  return {
    child,
    port,
    tlsPort,
    log: () => log,
    waitForLog,
    stop: () => {
      child.kill('SIGTERM');
      return exit;
    },
  };
}

/** SHA-256 fingerprint of a PEM certificate file, in the form TLS peer certificates report it. */
function fileFingerprint(path: string): string {
  return new X509Certificate(readFileSync(path)).fingerprint256;
}

/** Fingerprint of the certificate served on a direct TLS port, with or without SNI. */
function directTlsFingerprint(port: number, servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ALPNProtocols: ['xmpp-client'],
      ...(servername === undefined ? {} : { servername }),
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** Fingerprint of the certificate served after STARTTLS (with SNI "localhost"). */
async function startTlsFingerprint(port: number): Promise<string> {
  const raw = await RawClient.connect(port);
  try {
    raw.send(header());
    await raw.expect(/<starttls xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]/);
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await raw.expect(/<proceed /);
    await raw.startTls();
    return (raw.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
  } finally {
    raw.close();
  }
}

describe('warbler CLI', () => {
  afterEach(async () => {
    for (const child of running.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  describe('accounts', () => {
    it('adduser --password-stdin creates an account that logs in on a server started with the same config', async () => {
      const { dir, config } = makeDir();
      await addUser(config, 'alice@localhost', 'alice-secret');
      const ts = await startTestServer({ dir });
      try {
        expect(await canLogin(ts.port, 'alice', 'alice-secret')).to.equal(true);
        expect(await canLogin(ts.port, 'alice', 'wrong')).to.equal(false);
      } finally {
        await ts.stop();
      }
    });

    it('start: a spawned server logs "Warbler started", sees an account added while it runs, and exits 0 on SIGTERM', async () => {
      const { config } = makeDir();
      const server = await startServer(config);
      expect(server.port).to.be.above(0);
      expect(server.tlsPort).to.be.above(0);
      expect(server.log()).to.match(new RegExp(`Warbler started version=${PACKAGE_VERSION} hosts=localhost`));

      await addUser(config, 'bob@localhost', 'bob-secret');
      expect(await canLogin(server.port, 'bob', 'bob-secret')).to.equal(true);

      expect(await server.stop()).to.equal(0);
      const log = server.log();
      expect(log).to.match(/signal received signal=SIGTERM/);
      expect(log).to.match(/ INFO {2}stopping\n/);
      expect(log).to.match(/ INFO {2}stopped\n/);
      expect(log.indexOf('stopping')).to.be.below(log.indexOf('stopped'));
    });

    it('SIGTERM with a client connected: the client is told system-shutdown and the process exits 0', async () => {
      const { config } = makeDir();
      await addUser(config, 'carol@localhost', 'carol-secret');
      const server = await startServer(config);
      const carol = await connect({
        port: server.port,
        domain: 'localhost',
        username: 'carol',
        password: 'carol-secret',
      });
      const streamError = new Promise<string>((resolve) =>
        carol.on('error', (err: Error & { condition?: string }) => resolve(err.condition ?? err.message)),
      );
      try {
        expect(await server.stop()).to.equal(0);
        expect(await streamError).to.equal('system-shutdown');
        expect(server.log()).to.match(/ INFO {2}stopped\n/);
      } finally {
        await carol.stop().catch(() => {});
      }
    });

    it('adduser of an existing account fails with one line and exit 1', async () => {
      const { config } = makeDir();
      await addUser(config, 'alice@localhost', 'first');
      const again = await run(['adduser', 'alice@localhost', '--password-stdin', '--config', config], {
        input: 'second\n',
      });
      expect(again).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'warbler: alice@localhost already exists\n',
      });
    });

    const badJids: Array<[string, string]> = [
      ['alice', 'warbler: "alice" is not an account JID (user@domain): no localpart\n'],
      ['@localhost', 'warbler: "@localhost" is not an account JID (user@domain): no localpart\n'],
      [
        'alice@localhost/phone',
        'warbler: "alice@localhost/phone" is not an account JID (user@domain): an account JID has no resource\n',
      ],
      [
        'a b@localhost',
        'warbler: "a b@localhost" is not an account JID (user@domain): localpart: disallowed character U+0020\n',
      ],
    ];
    for (const [account, message] of badJids) {
      it(`adduser rejects the malformed JID ${JSON.stringify(account)} with one line`, async () => {
        const { config } = makeDir();
        const result = await run(['adduser', account, '--password-stdin', '--config', config], {
          input: 'secret\n',
        });
        expect(result).to.deep.equal({ code: 1, stdout: '', stderr: message });
      });
    }

    it('adduser on a host that is not served names the hosts and says to add it', async () => {
      const { config } = makeDir();
      const result = await run(['adduser', 'alice@example.org', '--password-stdin', '--config', config], {
        input: 'secret\n',
      });
      expect(result).to.deep.equal({
        code: 1,
        stdout: '',
        stderr:
          'warbler: example.org is not served here (hosts: localhost); add it to "hosts" in the config\n',
      });
    });

    it('passwd changes the password of a running server: the old one fails, the new one works', async () => {
      const { dir, config } = makeDir();
      await addUser(config, 'alice@localhost', 'old-secret');
      const ts = await startTestServer({ dir });
      try {
        expect(await canLogin(ts.port, 'alice', 'old-secret')).to.equal(true);
        const result = await run(['passwd', 'alice@localhost', '--password-stdin', '--config', config], {
          input: 'new-secret\n',
        });
        expect(result).to.deep.equal({
          code: 0,
          stdout: 'password changed for alice@localhost\n',
          stderr: '',
        });
        expect(await canLogin(ts.port, 'alice', 'old-secret')).to.equal(false);
        expect(await canLogin(ts.port, 'alice', 'new-secret')).to.equal(true);
      } finally {
        await ts.stop();
      }
    });

    it('passwd of an account that does not exist fails with one line', async () => {
      const { config } = makeDir();
      const result = await run(['passwd', 'nobody@localhost', '--password-stdin', '--config', config], {
        input: 'secret\n',
      });
      expect(result).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'warbler: nobody@localhost does not exist\n',
      });
    });

    it('deluser removes the account (login fails) and a second deluser fails', async () => {
      const { dir, config } = makeDir();
      await addUser(config, 'alice@localhost', 'alice-secret');
      const ts = await startTestServer({ dir });
      try {
        expect(await canLogin(ts.port, 'alice', 'alice-secret')).to.equal(true);
        const first = await run(['deluser', 'alice@localhost', '--config', config]);
        expect(first).to.deep.equal({ code: 0, stdout: 'deleted alice@localhost\n', stderr: '' });
        expect(await canLogin(ts.port, 'alice', 'alice-secret')).to.equal(false);
        const second = await run(['deluser', 'alice@localhost', '--config', config]);
        expect(second).to.deep.equal({
          code: 1,
          stdout: '',
          stderr: 'warbler: alice@localhost does not exist\n',
        });
      } finally {
        await ts.stop();
      }
    });

    it('users lists every account, or those of one host, sorted', async () => {
      const { config } = makeDir();
      writeFileSync(config, `${BASE_TOML.replace('["localhost"]', '["localhost", "example.org"]')}\n`);
      await addUser(config, 'carol@localhost', 'c');
      await addUser(config, 'alice@localhost', 'a');
      await addUser(config, 'dave@example.org', 'd');
      expect(await run(['users', '--config', config])).to.deep.equal({
        code: 0,
        stdout: 'dave@example.org\nalice@localhost\ncarol@localhost\n',
        stderr: '',
      });
      expect(await run(['users', 'localhost', '--config', config])).to.deep.equal({
        code: 0,
        stdout: 'alice@localhost\ncarol@localhost\n',
        stderr: '',
      });
    });

    it('adduser --bulk creates 10,000 accounts from a file', async function () {
      this.timeout(180_000);
      const { dir, config } = makeDir();
      const file = join(dir, 'accounts.txt');
      const entries: string[] = ['# generated for the test', ''];
      for (let i = 0; i < 10_000; i++) entries.push(`user${i}@localhost password-${i}`);
      writeFileSync(file, entries.join('\n') + '\n');

      const started = process.hrtime.bigint();
      const result = await run(['adduser', '--bulk', file, '--config', config]);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(
        `      bulk adduser of 10,000 accounts: ${seconds.toFixed(1)} s (CLI says: ${result.stdout.trim()})`,
      );

      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      expect(result.stdout).to.match(/^created 10000 accounts \(0 already existed\) in \d+\.\d s\n$/);
      const users = await run(['users', '--config', config]);
      expect(users.code).to.equal(0);
      const listed = lines(users.stdout);
      expect(listed).to.have.length(10_000);
      expect(new Set(listed).size).to.equal(10_000);
      expect(listed).to.include('user0@localhost');
      expect(listed).to.include('user9999@localhost');

      // A few of them log in with the password from the file.
      const ts = await startTestServer({ dir });
      try {
        expect(await canLogin(ts.port, 'user0', 'password-0')).to.equal(true);
        expect(await canLogin(ts.port, 'user9999', 'password-9999')).to.equal(true);
      } finally {
        await ts.stop();
      }
    });

    const malformedBulk: Array<[string, string[], (file: string) => string]> = [
      [
        'a line without a password',
        ['alice@localhost one', 'bob@localhost two', 'carol@localhost'],
        (file) => `warbler: ${file}:3: expected "jid password"\n`,
      ],
      [
        'a malformed JID',
        ['alice@localhost one', '', 'not a jid'],
        (file) => `warbler: ${file}:3: "not" is not an account JID (user@domain): no localpart\n`,
      ],
      [
        'a host that is not served',
        ['alice@example.org one'],
        (file) =>
          `warbler: ${file}:1: example.org is not served here (hosts: localhost); add it to "hosts" in the config\n`,
      ],
    ];
    for (const [what, content, message] of malformedBulk) {
      it(`adduser --bulk reports FILE:LINE for ${what} and creates nothing`, async () => {
        const { dir, config } = makeDir();
        const file = join(dir, 'accounts.txt');
        writeFileSync(file, content.join('\n') + '\n');
        const result = await run(['adduser', '--bulk', file, '--config', config]);
        expect(result).to.deep.equal({ code: 1, stdout: '', stderr: message(file) });
        expect(await run(['users', '--config', config])).to.deep.equal({ code: 0, stdout: '', stderr: '' });
      });
    }

    it('adduser --bulk with a file that does not exist fails with one line', async () => {
      const { dir, config } = makeDir();
      const file = join(dir, 'missing.txt');
      const result = await run(['adduser', '--bulk', file, '--config', config]);
      expect(result).to.deep.equal({ code: 1, stdout: '', stderr: `warbler: cannot read ${file}: ENOENT\n` });
    });
  });

  describe('configuration', () => {
    it('an unknown key fails with one line naming it, and exit 1', async () => {
      // Appended to the [c2s] section: a typo of "port".
      const { config } = makeDir('prot = 5222');
      const result = await run(['users', '--config', config]);
      expect(result.code).to.equal(1);
      expect(result.stdout).to.equal('');
      expect(lines(result.stderr)).to.have.length(1);
      expect(result.stderr).to.equal(
        `warbler: config ${config}: unknown key c2s.prot — did you mean c2s.port?\n`,
      );
    });

    it('a missing config file fails with one line', async () => {
      const { dir } = makeDir();
      const missing = join(dir, 'nope.toml');
      const result = await run(['users', '--config', missing]);
      expect(result).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: `warbler: config ${missing}: the file does not exist — check the path, or give none to run with the defaults\n`,
      });
    });

    it('a relative data_dir is resolved against the config file, not the working directory', async () => {
      const { dir, config } = makeDir();
      const elsewhere = mkdtempSync(join(tmpdir(), 'warbler-cwd-'));
      dirs.push(elsewhere);
      await run(['adduser', 'alice@localhost', '--password-stdin', '--config', config], {
        cwd: elsewhere,
        input: 'secret\n',
      });
      expect(existsSync(join(dir, 'data', 'warbler.sqlite'))).to.equal(true);
      expect(existsSync(join(elsewhere, 'data'))).to.equal(false);
      const listed = await run(['users', '--config', config]);
      expect(listed.stdout).to.equal('alice@localhost\n');
    });

    it('$WARBLER_CONFIG names the config file when --config is not given', async () => {
      const { dir, config } = makeDir();
      const elsewhere = mkdtempSync(join(tmpdir(), 'warbler-cwd-'));
      dirs.push(elsewhere);
      const env = withoutConfigEnv({ WARBLER_CONFIG: config });
      const added = await run(['adduser', 'alice@localhost', '--password-stdin'], {
        cwd: elsewhere,
        env,
        input: 'secret\n',
      });
      expect(added).to.deep.equal({ code: 0, stdout: 'created alice@localhost\n', stderr: '' });
      expect(existsSync(join(dir, 'data', 'warbler.sqlite'))).to.equal(true);
      expect(await run(['users'], { cwd: elsewhere, env })).to.deep.equal({
        code: 0,
        stdout: 'alice@localhost\n',
        stderr: '',
      });
      // --config wins over the environment.
      const other = makeDir();
      expect(await run(['users', '--config', other.config], { cwd: elsewhere, env })).to.deep.equal({
        code: 0,
        stdout: '',
        stderr: '',
      });
    });
  });

  describe('certificates', () => {
    it('cert generate writes data_dir/certs/<host>.crt and .key, and the server serves that certificate', async () => {
      const { dir, config } = makeDir();
      const crt = join(dir, 'data', 'certs', 'localhost.crt');
      const key = join(dir, 'data', 'certs', 'localhost.key');
      const result = await run(['cert', 'generate', '--config', config]);
      expect(result).to.deep.equal({ code: 0, stdout: `localhost: ${crt} ${key}\n`, stderr: '' });
      const certificate = new X509Certificate(readFileSync(crt));
      expect(certificate.subjectAltName).to.equal('DNS:localhost, DNS:*.localhost');
      expect(certificate.checkPrivateKey(createPrivateKey(readFileSync(key)))).to.equal(true);

      const ts = await startTestServer({ dir });
      try {
        expect(await directTlsFingerprint(ts.tlsPort, 'localhost')).to.equal(certificate.fingerprint256);
        expect(await startTlsFingerprint(ts.port)).to.equal(certificate.fingerprint256);
      } finally {
        await ts.stop();
      }
    });

    it('cert generate refuses a host the server does not serve', async () => {
      const { dir, config } = makeDir();
      const result = await run(['cert', 'generate', 'other.example', '--config', config]);
      expect(result).to.deep.equal({
        code: 1,
        stdout: '',
        stderr:
          'warbler: other.example is not served here (hosts: localhost); add it to "hosts" in the config first\n',
      });
      expect(existsSync(join(dir, 'data', 'certs', 'other.example.crt'))).to.equal(false);
    });

    it('cert generate takes a host in any case, as the config does', async () => {
      const { dir, config } = makeDir();
      const crt = join(dir, 'data', 'certs', 'localhost.crt');
      const key = join(dir, 'data', 'certs', 'localhost.key');
      const result = await run(['cert', 'generate', 'LocalHost', '--config', config]);
      expect(result).to.deep.equal({ code: 0, stdout: `localhost: ${crt} ${key}\n`, stderr: '' });
      expect(existsSync(crt)).to.equal(true);
    });

    it('SIGHUP makes a running server serve a regenerated certificate on STARTTLS and direct TLS', async () => {
      const { dir, config } = makeDir();
      const crt = join(dir, 'data', 'certs', 'localhost.crt');
      const server = await startServer(config);
      const before = fileFingerprint(crt);
      expect(await startTlsFingerprint(server.port)).to.equal(before);
      expect(await directTlsFingerprint(server.tlsPort, 'localhost')).to.equal(before);
      expect(await directTlsFingerprint(server.tlsPort, undefined)).to.equal(before);

      expect((await run(['cert', 'generate', '--config', config])).code).to.equal(0);
      const after = fileFingerprint(crt);
      expect(after).to.not.equal(before);
      // Until the signal, the server keeps what it loaded.
      expect(await directTlsFingerprint(server.tlsPort, 'localhost')).to.equal(before);

      server.child.kill('SIGHUP');
      await server.waitForLog(/INFO {2}certificates reloaded/);
      expect(await startTlsFingerprint(server.port)).to.equal(after);
      expect(await directTlsFingerprint(server.tlsPort, 'localhost')).to.equal(after);
      expect(await directTlsFingerprint(server.tlsPort, undefined)).to.equal(after);
      expect(await server.stop()).to.equal(0);
    });
  });

  describe('check', () => {
    it('passes on a fresh directory: every line ok or a note, exit 0', async () => {
      const { dir, config } = makeDir();
      const result = await run(['check', '--config', config]);
      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      const out = lines(result.stdout);
      expect(out.filter((l) => !/^(ok|note) {4}/.test(l))).to.deep.equal(['all checks passed']);
      expect(out).to.include(`ok      data_dir ${join(dir, 'data')} is writable`);
      expect(out).to.include(
        `note    localhost has no certificate yet: a self-signed one will be generated at start in ${join(dir, 'data', 'certs', 'localhost.crt')}`,
      );
    });

    it('passes after cert generate, naming the certificate and what it covers', async () => {
      const { dir, config } = makeDir();
      await run(['cert', 'generate', '--config', config]);
      const result = await run(['check', '--config', config]);
      expect(result.code).to.equal(0);
      const crt = join(dir, 'data', 'certs', 'localhost.crt');
      expect(lines(result.stdout).find((l) => l.startsWith('ok      certificate'))).to.match(
        new RegExp(
          `^ok {6}certificate for localhost: ${crt} \\(localhost, \\*\\.localhost; until \\d{4}-\\d\\d-\\d\\d\\)$`,
        ),
      );
    });

    it('reports a port another program listens on, says what to do, and exits 1', async () => {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
      const taken = (blocker.address() as net.AddressInfo).port;
      try {
        const { config } = makeDir();
        // The client port (the [s2s] section, before [c2s], has a port too).
        writeFileSync(
          config,
          `${BASE_TOML.replace('[c2s]\naddresses = ["127.0.0.1"]\nport = 0', `[c2s]\naddresses = ["127.0.0.1"]\nport = ${taken}`)}\n`,
        );
        const result = await run(['check', '--config', config]);
        expect(result.code).to.equal(1);
        const problems = lines(result.stdout).filter((l) => l.startsWith('PROBLEM'));
        expect(problems).to.deep.equal([
          `PROBLEM c2s 127.0.0.1:${taken}: in use by another program: stop it or change c2s.port (if it is this Warbler, already running, all is well)`,
        ]);
        expect(lines(result.stdout).at(-1)).to.equal('1 problem(s) found');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it('reports a configured certificate that does not cover the host, and exits 1', async () => {
      const { dir, config } = makeDir();
      const files = await writeSelfSigned(join(dir, 'other'), ['other.example']);
      writeFileSync(
        config,
        `${BASE_TOML}\n[tls]\ncertificate = "other/other.example.crt"\nkey = "other/other.example.key"\n`,
      );
      const result = await run(['check', '--config', config]);
      expect(result.code).to.equal(1);
      const problems = lines(result.stdout).filter((l) => l.startsWith('PROBLEM'));
      expect(problems).to.have.length(1);
      expect(problems[0]).to.match(
        new RegExp(
          `^PROBLEM certificate for localhost: ${files.certificate} \\(other\\.example, \\*\\.other\\.example; until [\\d-]+\\): ` +
            'does not cover localhost \\(it names other\\.example, \\*\\.other\\.example\\): ' +
            'configure a valid certificate that names localhost \\(\\[tls\\] certificate/key, or \\[tls\\.hosts\\."localhost"\\]\\), ' +
            'then restart Warbler or send it SIGHUP$',
        ),
      );
    });
  });

  describe('commands', () => {
    it('version prints the version from package.json', async () => {
      expect(await run(['version'])).to.deep.equal({
        code: 0,
        stdout: `warbler ${PACKAGE_VERSION}\n`,
        stderr: '',
      });
    });

    it('help prints the usage and exits 0', async () => {
      const result = await run(['help']);
      expect(result.code).to.equal(0);
      expect(result.stderr).to.equal('');
      expect(lines(result.stdout)[0]).to.equal('usage: warbler <command> [--config FILE]');
      for (const command of [
        'start',
        'adduser JID',
        'passwd JID',
        'deluser JID',
        'users',
        'cert generate',
        'check',
        'version',
      ])
        expect(result.stdout).to.include(`\n  ${command}`);
    });

    it('an unknown command fails with one line', async () => {
      expect(await run(['frobnicate'])).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'warbler: unknown command "frobnicate"; run "warbler help"\n',
      });
    });

    it('an unknown option fails with one line', async () => {
      expect(await run(['users', '--verbose'])).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'warbler: unknown option --verbose; run "warbler help"\n',
      });
    });

    it('`npx warbler version` works from the repository root', async function () {
      this.timeout(60_000);
      const result = await new Promise<RunResult>((resolve, reject) => {
        const child = spawn('npx', ['--no-install', 'warbler', 'version'], {
          cwd: REPO_ROOT,
          env: withoutConfigEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
        child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(result).to.deep.equal({ code: 0, stdout: `warbler ${PACKAGE_VERSION}\n`, stderr: '' });
    });
  });
});
