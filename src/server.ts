// The server: composes config → storage → certificates → router and sessions → modules →
// listeners, and takes them apart again in the reverse order on stop.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { BotSupervisor } from './bot/supervisor.js';
import { assistantDomain, type CoreConfig } from './config/options.js';
import { AccountService } from './core/accounts.js';
import { ComponentRegistry, readComponentSecret } from './core/components.js';
import { DiscoRegistry } from './core/disco.js';
import { StreamError } from './core/errors.js';
import { Hooks } from './core/hooks.js';
import { loadModule, type ModuleContext, type ModuleDefinition, type ServerContext } from './core/module.js';
import { Router } from './core/router.js';
import { ServiceRegistry } from './core/services.js';
import { SessionRegistry } from './core/sessions.js';
import { StreamFeatures } from './core/stream-features.js';
import { AuthFailureThrottle, ConnectionCounter } from './core/throttle.js';
import { createLogger, type Logger } from './log.js';
import { type BoundAddress, Listener, tuneSocket } from './net/listener.js';
import { Federation } from './s2s/federation.js';
import { SqliteAccountStore } from './storage/accounts.js';
import { type Db, openDatabase } from './storage/db.js';
import { type C2SEnvironment, C2SStream } from './streams/c2s.js';
import type { BoundSession, ResumableSessions, SessionEnvironment } from './streams/client-session.js';
import { type ComponentEnvironment, ComponentStream } from './streams/component.js';
import { type CertificateFiles, CertificateStore } from './tls/store.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The database file inside data_dir. */
export function databasePath(config: Pick<CoreConfig, 'data_dir'>): string {
  return join(config.data_dir, 'warbler.sqlite');
}

export function certificateStore(config: CoreConfig, log: Logger): CertificateStore {
  const files = new Map<string, CertificateFiles>();
  for (const [host, entry] of Object.entries(config.tls.hosts)) {
    files.set(host, { certificate: entry.certificate, key: entry.key });
  }
  const { certificate, key } = config.tls;
  return new CertificateStore({
    hosts: [...config.hosts],
    files,
    fallback: certificate !== undefined && key !== undefined ? { certificate, key } : undefined,
    generatedDir: join(config.data_dir, 'certs'),
    log,
  });
}

export interface ServerOptions {
  /** Modules to load (those named in modules.disabled are skipped). */
  modules: readonly ModuleDefinition<unknown>[];
  log?: Logger;
  /**
   * The file the config was loaded from: with [bot] enabled = true, the supervised assistant
   * (`warbler bot --config FILE`) reads its section from it.
   */
  configFile?: string;
}

export interface ListeningAddresses {
  c2s: BoundAddress[];
  c2sDirectTls: BoundAddress[];
  /** Empty unless a component is configured or the assistant enabled. */
  component: BoundAddress[];
}

/** What a component stream has to authenticate in before it is closed. */
const COMPONENT_HANDSHAKE_MS = 30_000;

export class Server implements ServerContext {
  readonly version = VERSION;
  readonly hosts: ReadonlySet<string>;
  readonly hooks: Hooks;
  readonly disco = new DiscoRegistry();
  readonly streamFeatures = new StreamFeatures();
  readonly services = new ServiceRegistry();
  readonly sessions: SessionRegistry;
  readonly router: Router;
  readonly accounts: AccountService;
  readonly log: Logger;
  readonly listening: ListeningAddresses = { c2s: [], c2sDirectTls: [], component: [] };
  readonly components: ComponentRegistry;

  /** Server-to-server connections, when s2s.enabled. */
  federation: Federation | undefined;
  private readonly streams = new Set<C2SStream>();
  /** Client sessions that may be resumed (XEP-0198), by SM-ID. */
  private readonly resumable: ResumableSessions = new Map();
  private readonly connections: ConnectionCounter;
  private readonly throttle: AuthFailureThrottle;
  private readonly listeners: Listener[] = [];
  private readonly loaded: ModuleContext<unknown>[] = [];
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** What every client stream shares, built once rather than per connection. */
  private readonly c2sLog: Logger;
  private readonly c2sAdmitted: C2SEnvironment;
  private readonly c2sRefused: C2SEnvironment;
  private readonly componentStreams = new Set<ComponentStream>();
  private readonly componentEnv: ComponentEnvironment;
  /** The assistant's process, when [bot] enabled = true. */
  private bot: { supervisor: BotSupervisor | undefined; secret: string; domain: string } | undefined;

  private constructor(
    readonly config: CoreConfig,
    readonly db: Db,
    readonly certificates: CertificateStore,
    log: Logger,
  ) {
    this.log = log;
    this.hooks = new Hooks(log.child({ component: 'hooks' }));
    this.hosts = new Set(config.hosts);
    this.sessions = new SessionRegistry(config.c2s.resource_conflict, config.c2s.max_resources);
    this.accounts = new AccountService(
      new SqliteAccountStore(db),
      this.hosts,
      config.auth.scram_iterations,
      this.hooks,
    );
    this.router = new Router(
      this.hosts,
      this.hooks,
      this.sessions,
      this.accounts,
      log.child({ component: 'router' }),
    );
    this.connections = new ConnectionCounter(config.c2s.max_connections_per_ip);
    this.throttle = new AuthFailureThrottle(
      config.c2s.auth_failures_per_ip,
      config.c2s.auth_failure_window * 1000,
    );
    this.c2sLog = log.child({ stream: 'c2s' });
    const sessions: SessionEnvironment = {
      server: this,
      resumable: this.resumable,
      options: {
        resumptionTimeoutMs: config.c2s.resumption_timeout * 1000,
        maxUnacked: config.c2s.max_unacked,
      },
      log: this.c2sLog,
    };
    this.c2sAdmitted = this.c2sEnvironment(true, sessions);
    this.c2sRefused = this.c2sEnvironment(false, sessions);
    this.components = new ComponentRegistry(this.router, this.disco, log.child({ component: 'components' }));
    this.componentEnv = {
      components: this.components,
      router: this.router,
      limits: { maxStanzaBytes: config.c2s.max_stanza_bytes, maxDepth: config.c2s.max_depth },
      handshakeTimeoutMs: COMPONENT_HANDSHAKE_MS,
      onGone: (stream) => this.componentStreams.delete(stream),
    };
    // A deleted account's sessions end at once: the credentials they authenticated with
    // are gone (RFC 6120 §4.9.3.17).
    this.hooks.on('account/deleted', ({ jid }) => {
      for (const session of this.sessions.resources(jid)) {
        session.close(new StreamError('not-authorized', 'this account has been deleted'));
      }
    });
  }

  /** Opens storage, loads certificates and modules, and starts listening. */
  static async start(config: CoreConfig, options: ServerOptions): Promise<Server> {
    const log = options.log ?? createLogger({ level: config.log.level, format: config.log.format });
    const db = openDatabase(databasePath(config));
    const certificates = certificateStore(config, log.child({ component: 'tls' }));
    const server = new Server(config, db, certificates, log);
    try {
      await certificates.load();
      // Before the modules, so that a component domain a module also wants is reported as such.
      server.allowComponents();
      await server.loadModules(options.modules, config as unknown as Record<string, unknown>);
      await server.listen();
      server.superviseBot(options.configFile);
    } catch (err) {
      await server.stop();
      throw err;
    }
    server.startKeepalives();
    await server.hooks.notify('server/started', {});
    log.info('Warbler started', { version: VERSION, hosts: [...server.hosts].join(','), pid: process.pid });
    return server;
  }

  private async loadModules(modules: readonly ModuleDefinition<unknown>[], config: Record<string, unknown>) {
    const disabled = new Set(this.config.modules.disabled);
    for (const definition of modules) {
      if (disabled.has(definition.name)) continue;
      this.loaded.push(await loadModule(definition, this, config[definition.name]));
    }
  }

  private async listen(): Promise<void> {
    const { c2s } = this.config;
    const c2sListener = new Listener('c2s', this.log);
    this.listeners.push(c2sListener);
    this.listening.c2s = await c2sListener.listenTcp({ addresses: c2s.addresses, port: c2s.port }, (socket) =>
      this.accept(socket),
    );
    if (c2s.direct_tls) {
      const tlsListener = new Listener('c2s-direct-tls', this.log);
      this.listeners.push(tlsListener);
      this.listening.c2sDirectTls = await tlsListener.listenTls(
        { addresses: c2s.addresses, port: c2s.direct_tls_port },
        // A direct TLS connection becomes a stream, with its deadline and its place in the
        // per-address count, only once its handshake is done: until then Node's own deadline
        // (two minutes by default) is all that ends a client that never finishes it.
        { ...this.certificates.serverOptions(['xmpp-client']), handshakeTimeout: c2s.auth_timeout * 1000 },
        (socket) => this.accept(socket),
      );
    }
    await this.listenForComponents();
    if (this.config.s2s.enabled)
      this.federation = await Federation.start({
        server: this,
        config: this.config,
        certificates: this.certificates,
        log: this.log,
      });
  }

  /** The configured components, and the assistant with a secret made for this run. */
  private allowComponents(): void {
    for (const [domain, entry] of Object.entries(this.config.components))
      this.components.allow(domain, readComponentSecret(domain, entry), entry.name);
    if (this.config.bot.enabled) {
      const domain = assistantDomain(this.config);
      const secret = randomBytes(24).toString('base64url');
      this.components.allow(domain, secret, 'Warbler assistant');
      this.bot = { supervisor: undefined, secret, domain };
    }
  }

  /** The component listener, only when some component may connect. */
  private async listenForComponents(): Promise<void> {
    if (this.components.domains().length === 0) return;
    const { component } = this.config;
    const listener = new Listener('component', this.log);
    this.listeners.push(listener);
    const log = this.log.child({ stream: 'component' });
    this.listening.component = await listener.listenTcp(
      { addresses: component.addresses, port: component.port },
      (socket) => {
        tuneSocket(socket);
        const stream = new ComponentStream(socket, this.componentEnv, log);
        this.componentStreams.add(stream);
        if (this.stopping) stream.fail(new StreamError('system-shutdown'));
      },
    );
  }

  /** [bot] enabled = true: runs `warbler bot` as a child process, restarted when it dies. */
  private superviseBot(configFile: string | undefined): void {
    const bot = this.bot;
    if (!bot) return;
    if (configFile === undefined)
      throw new Error('bot.enabled = true needs a config file: start the server with --config FILE');
    const bound = this.listening.component[0]!;
    // A wildcard address is reached through loopback.
    const host = bound.address === '0.0.0.0' ? '127.0.0.1' : bound.address === '::' ? '::1' : bound.address;
    bot.supervisor = new BotSupervisor({
      module: fileURLToPath(new URL('./cli.js', import.meta.url)),
      args: ['bot', '--config', configFile],
      env: {
        ...process.env,
        WARBLER_BOT_SECRET: bot.secret,
        WARBLER_BOT_SERVER_HOST: host,
        WARBLER_BOT_SERVER_PORT: String(bound.port),
      },
      log: this.log.child({ component: 'bot-supervisor' }),
    });
    bot.supervisor.start();
  }

  /** The assistant's supervisor, when [bot] enabled = true (for tests and status). */
  get botSupervisor(): BotSupervisor | undefined {
    return this.bot?.supervisor;
  }

  private accept(socket: net.Socket | tls.TLSSocket): void {
    tuneSocket(socket);
    const ip = socket.remoteAddress ?? 'unknown';
    const admitted = this.connections.acquire(ip);
    const stream = new C2SStream(
      socket,
      admitted ? this.c2sAdmitted : this.c2sRefused,
      this.c2sLog,
      admitted ? undefined : new StreamError('policy-violation', 'too many connections from your address'),
    );
    this.streams.add(stream);
    if (this.stopping) stream.fail(new StreamError('system-shutdown'));
  }

  /** counted: the stream holds one of its address's connections (max_connections_per_ip). */
  private c2sEnvironment(counted: boolean, sessions: SessionEnvironment): C2SEnvironment {
    const { c2s } = this.config;
    return {
      server: this,
      certificates: this.certificates,
      throttle: this.throttle,
      options: {
        requireEncryption: c2s.require_encryption,
        allowPlain: c2s.allow_plain,
        authTimeoutMs: c2s.auth_timeout * 1000,
        maxAuthAttempts: c2s.max_auth_attempts,
        scramIterations: this.config.auth.scram_iterations,
        limits: { maxStanzaBytes: c2s.max_stanza_bytes, maxDepth: c2s.max_depth },
      },
      resumable: this.resumable,
      sessions,
      onGone: (stream) => {
        this.streams.delete(stream);
        // The stream's address is the one accept() counted: both read it from the fresh socket.
        if (counted) this.connections.release(stream.remoteAddress);
      },
    };
  }

  private startKeepalives(): void {
    const seconds = this.config.c2s.whitespace_keepalive;
    if (seconds === 0) return;
    this.keepaliveTimer = setInterval(() => {
      for (const session of this.sessions.all()) (session as BoundSession).keepalive();
    }, seconds * 1000);
    this.keepaliveTimer.unref();
  }

  /** SIGHUP: reread certificates; on failure the old ones stay in use. */
  async reloadCertificates(): Promise<boolean> {
    const ok = await this.certificates.reload();
    if (ok) {
      const options = this.certificates.serverOptions(['xmpp-client']);
      for (const listener of this.listeners) listener.setSecureContext(options);
      this.federation?.certificatesReloaded();
      this.log.info('certificates reloaded');
    }
    return ok;
  }

  /**
   * Graceful stop: stop accepting, tell every session `system-shutdown`, give the streams a
   * moment to close, unload modules, close the database.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.log.info('stopping');
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    // net.Server.close() settles only once every connection is gone, so it is awaited last.
    const listenersClosed = Promise.all(this.listeners.map((l) => l.close()));
    // The assistant says goodbye while its component stream is still up.
    await this.bot?.supervisor?.stop();
    await this.hooks.notify('server/stopping', {});
    const federationStopped = this.federation?.stop();
    const streams = [...this.streams, ...this.componentStreams];
    for (const stream of streams) stream.fail(new StreamError('system-shutdown', 'the server is stopping'));
    await waitUntil(() => this.streams.size === 0 && this.componentStreams.size === 0, 2_000);
    for (const stream of this.streams) stream.destroy();
    for (const stream of this.componentStreams) stream.destroy();
    await federationStopped;
    // Sessions waiting for their clients to resume end now; what they held goes offline.
    for (const session of [...this.sessions.all()]) session.close(new StreamError('system-shutdown'));
    await listenersClosed;
    while (this.loaded.length > 0) this.loaded.pop()!.unload();
    this.router.pending.clear();
    this.throttle.stop();
    this.db.close();
    this.log.info('stopped');
  }
}

function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      if (condition() || Date.now() >= deadline) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
}
