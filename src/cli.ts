#!/usr/bin/env node
// `warbler` — start the server and manage it. Every command takes --config FILE (else
// $WARBLER_CONFIG, else built-in defaults). Errors print one line and exit non-zero.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { type BotConfig, runBot } from './bot/index.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { CoreConfig } from './config/options.js';
import { AccountError, AccountService } from './core/accounts.js';
import { type JID, prepareDomainpart } from './jid.js';
import { createLogger } from './log.js';
import { BUILTIN_MODULES, moduleSections } from './modules.js';
import { checkInstallation } from './ops/check.js';
import { certificateStore, databasePath, Server, VERSION } from './server.js';
import { SqliteAccountStore } from './storage/accounts.js';
import { type Db, openDatabase } from './storage/db.js';
import { writeSelfSigned } from './tls/store.js';

const USAGE = `usage: warbler <command> [--config FILE]

commands:
  start                       run the server (SIGTERM/SIGINT stop it, SIGHUP reloads certificates)
  bot                         run the AI assistant ([bot] section) as a component of a running server
  adduser JID                 create an account; the password is prompted
      --password-stdin        read the password from the first line of standard input
      --bulk FILE             create the accounts listed in FILE, one "jid password" per line
  passwd JID                  change an account's password (prompted, or --password-stdin)
  deluser JID                 delete an account
  users [HOST]                list accounts
  cert generate [HOST...]     write self-signed certificates for the hosts to data_dir/certs
  check                       validate the config, certificates, database and ports
  version                     print the version`;

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'password-stdin': { type: 'boolean' },
        bulk: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // Node's own messages are long and about its API; say it the operator's way.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec((err as Error).message)?.[1] ?? 'an option';
      throw new UsageError(`unknown option ${option}; run "warbler help"`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      throw new UsageError(`${(err as Error).message}; run "warbler help"`);
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !values.help ? 2 : 0;
  }
  const configFile = values.config ?? process.env.WARBLER_CONFIG;
  const load = () => loadConfig(configFile === undefined ? {} : { file: configFile }, moduleSections());

  switch (command) {
    case 'version':
      process.stdout.write(`warbler ${VERSION}\n`);
      return 0;
    case 'start':
      return start(load(), configFile);
    case 'bot':
      return bot(load());
    case 'adduser':
      return withAccounts(load(), async (accounts) => {
        if (values.bulk !== undefined) {
          if (args.length > 0) throw new UsageError('usage: warbler adduser --bulk FILE (without a JID)');
          return bulkAdd(accounts, values.bulk);
        }
        const account = accounts.accountJid(single(args, 'adduser JID'));
        if (await accounts.exists(account))
          throw new AccountError('ACCOUNT_EXISTS', `${account.bare} already exists`);
        await accounts.create(account, await password(values['password-stdin'] === true, true));
        process.stdout.write(`created ${account.bare}\n`);
        return 0;
      });
    case 'passwd':
      return withAccounts(load(), async (accounts) => {
        const account = accounts.accountJid(single(args, 'passwd JID'));
        if (!(await accounts.exists(account)))
          throw new AccountError('NO_SUCH_ACCOUNT', `${account.bare} does not exist`);
        await accounts.setPassword(account, await password(values['password-stdin'] === true, true));
        process.stdout.write(`password changed for ${account.bare}\n`);
        return 0;
      });
    case 'deluser':
      return withAccounts(load(), async (accounts) => {
        const account = accounts.accountJid(single(args, 'deluser JID'));
        await accounts.delete(account);
        process.stdout.write(`deleted ${account.bare}\n`);
        return 0;
      });
    case 'users':
      return withAccounts(load(), async (accounts) => {
        for (const a of await accounts.store.list(args[0])) process.stdout.write(`${a.username}@${a.host}\n`);
        return 0;
      });
    case 'cert':
      return cert(load(), args);
    case 'check':
      return checkInstallation(load(), process.stdout);
    default:
      throw new UsageError(`unknown command "${command}"; run "warbler help"`);
  }
}

async function start(config: CoreConfig, configFile: string | undefined): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const server = await Server.start(config, { modules: BUILTIN_MODULES, log, configFile });
  const stop = (signal: string) => {
    log.info('signal received', { signal });
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('error while stopping', { error: err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('signal received; reloading certificates', { signal: 'SIGHUP' });
    void server.reloadCertificates();
  });
  process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', { error: reason }));
  process.on('uncaughtException', (err) => {
    // The process state is unknown after this; stop cleanly rather than limp on.
    log.error('uncaught exception; stopping', { error: err });
    server.stop().finally(() => process.exit(1));
  });
  // Keep running until a signal stops the server.
  return new Promise<number>(() => {});
}

/**
 * The assistant in a process of its own. Run by `warbler start` ([bot] enabled = true), it is
 * told the listener's address and a secret made for this run in its environment, and stops when
 * the server goes away (its IPC channel closes); run by hand, [bot] says where the server is.
 */
async function bot(config: CoreConfig): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const supervised = process.send !== undefined;
  let botConfig: BotConfig = config.bot;
  let secret: string | undefined;
  const host = process.env.WARBLER_BOT_SERVER_HOST;
  const port = Number.parseInt(process.env.WARBLER_BOT_SERVER_PORT ?? '', 10);
  if (supervised && host !== undefined && Number.isInteger(port)) {
    botConfig = { ...botConfig, server_host: host, server_port: port };
    // The secret made for this run, over any bot.secret_file meant for running it by hand.
    secret = process.env.WARBLER_BOT_SECRET;
  }
  const handle = await runBot({
    config: botConfig,
    serverDomain: config.hosts[0]!,
    dataDir: config.data_dir,
    secret,
    log,
  });
  // Run by hand, say so where the operator looks; supervised, the log line is enough.
  if (!supervised) process.stdout.write(`warbler bot: ${handle.jid} is online\n`);
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the assistant', { why });
    handle.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('error while stopping the assistant', { error: err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (supervised) process.once('disconnect', () => stop('the server went away'));
  process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', { error: reason }));
  return new Promise<number>(() => {});
}

async function withAccounts(
  config: CoreConfig,
  fn: (accounts: AccountService) => Promise<number>,
): Promise<number> {
  const db: Db = openDatabase(databasePath(config));
  try {
    return await fn(
      new AccountService(new SqliteAccountStore(db), new Set(config.hosts), config.auth.scram_iterations),
    );
  } finally {
    db.close();
  }
}

async function bulkAdd(accounts: AccountService, file: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const entries: Array<{ account: JID; password: string }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    if (space < 0) throw new UsageError(`${file}:${i + 1}: expected "jid password"`);
    try {
      entries.push({
        account: accounts.accountJid(line.slice(0, space)),
        password: line.slice(space).trim(),
      });
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  }
  const started = Date.now();
  // Credentials are derived on the thread pool in chunks, so that memory stays flat and
  // each chunk is stored in one transaction.
  const CHUNK = 500;
  let created = 0;
  for (let i = 0; i < entries.length; i += CHUNK)
    created += await accounts.createMany(entries.slice(i, i + CHUNK));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `created ${created} accounts (${entries.length - created} already existed) in ${seconds} s\n`,
  );
  return 0;
}

async function cert(config: CoreConfig, args: string[]): Promise<number> {
  const [sub, ...given] = args;
  if (sub !== 'generate') throw new UsageError('usage: warbler cert generate [HOST...]');
  // In the form the config keeps hosts in (Example.ORG, or an A-label, names a configured host).
  const hosts = given.map((host) => {
    try {
      return prepareDomainpart(host);
    } catch {
      return host;
    }
  });
  for (const host of hosts) {
    // A certificate for a host the server does not serve would never be used.
    if (!config.hosts.includes(host))
      throw new UsageError(
        `${host} is not served here (hosts: ${config.hosts.join(', ')}); add it to "hosts" in the config first`,
      );
  }
  const targets = hosts.length > 0 ? hosts : [...config.hosts];
  const dir = join(config.data_dir, 'certs');
  for (const host of targets) {
    const files = await writeSelfSigned(dir, [host]);
    process.stdout.write(`${host}: ${files.certificate} ${files.key}\n`);
  }
  // Make sure the result is what the server will load.
  await certificateStore(config, createLogger({ level: 'silent' })).load();
  return 0;
}

function single(args: string[], usage: string): string {
  if (args.length !== 1) throw new UsageError(`usage: warbler ${usage}`);
  return args[0]!;
}

/** Reads a password: the first line of stdin, or prompted twice without echo on a terminal. */
async function password(fromStdin: boolean, confirm: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const line = await firstLine();
    if (!line) throw new UsageError('no password on standard input');
    return line;
  }
  const first = await prompt('Password: ');
  if (!first) throw new UsageError('the password is empty');
  if (confirm && (await prompt('Repeat password: ')) !== first) throw new UsageError('the passwords differ');
  return first;
}

function firstLine(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let done = false;
    rl.once('line', (line) => {
      done = true;
      resolve(line);
      rl.close();
    });
    rl.once('close', () => {
      if (!done) resolve('');
    });
  });
}

function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _encoding, callback) {
        if (!muted) process.stdout.write(chunk);
        callback();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const known =
      err instanceof UsageError ||
      err instanceof ConfigError ||
      err instanceof AccountError ||
      isOperatorError(err);
    process.stderr.write(
      `warbler: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`,
    );
    process.exitCode = known ? 1 : 70;
  },
);

/** Errors whose message is already meant for the operator (storage, TLS, listening). */
function isOperatorError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (String((err as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS')) return true;
  return ['StorageError', 'CertificateError', 'ListenError', 'BotError'].includes(err.name);
}
