// Federation as the server runs it: the [s2s] options turned into a policy, TLS contexts and
// the dialback secret; listeners for other servers (5269 with STARTTLS, 5270 with direct TLS
// per XEP-0368); the outgoing connection manager plugged into the router's 'route/remote'.

import type net from 'node:net';
import type tls from 'node:tls';
import type { CoreConfig } from '../config/options.js';
import { StreamError } from '../core/errors.js';
import type { Hooks } from '../core/hooks.js';
import type { ServerContext } from '../core/module.js';
import { ConnectionCounter } from '../core/throttle.js';
import type { Logger } from '../log.js';
import { type BoundAddress, Listener, tuneSocket } from '../net/listener.js';
import { dnsServerResolver, type Resolver } from '../net/resolve.js';
import type { CertificateStore } from '../tls/store.js';
import { loadDialbackSecret } from './dialback-key.js';
import { type S2SInEnvironment, S2SInStream } from './inbound.js';
import { S2SManager } from './manager.js';
import { S2SPolicy } from './policy.js';
import { emptyStats, type S2SStats } from './stats.js';
import { S2STls, trustedCAs } from './tls.js';

/** Where the manager takes remote stanzas among the 'route/remote' handlers. */
const ROUTE_REMOTE_PRIORITY = -100;

export interface FederationContext {
  server: ServerContext & { readonly hooks: Hooks };
  config: CoreConfig;
  certificates: CertificateStore;
  log: Logger;
  resolver?: Resolver;
}

export class Federation {
  readonly stats: S2SStats = emptyStats();
  readonly listening: { s2s: BoundAddress[]; s2sDirectTls: BoundAddress[] } = { s2s: [], s2sDirectTls: [] };
  readonly manager: S2SManager;
  private readonly streams = new Set<S2SInStream>();
  private readonly listeners: Listener[] = [];
  private readonly inbound: S2SInEnvironment;
  /** For a connection refused for its address's count: its end must not release a count. */
  private readonly uncounted: S2SInEnvironment;
  private readonly connections: ConnectionCounter;
  private readonly inboundLog: Logger;
  private readonly tls: S2STls;
  private readonly log: Logger;
  private stopping = false;

  private constructor(
    private readonly ctx: FederationContext,
    secret: string,
  ) {
    const { config, server } = ctx;
    const { s2s } = config;
    this.log = ctx.log.child({ stream: 's2s' });
    this.tls = new S2STls(ctx.certificates, trustedCAs(s2s.ca_file));
    const policy = new S2SPolicy(s2s);
    const limits = { maxStanzaBytes: s2s.max_stanza_bytes, maxDepth: config.c2s.max_depth };
    const isLocalDomain = (domain: string) => server.hosts.has(domain) || server.router.hasService(domain);
    this.manager = new S2SManager({
      router: server.router,
      tls: this.tls,
      policy,
      secret,
      stats: this.stats,
      log: this.log.child({ direction: 'out' }),
      limits,
      connectTimeoutMs: s2s.connect_timeout * 1000,
      authTimeoutMs: s2s.auth_timeout * 1000,
      idleTimeoutMs: s2s.idle_timeout * 1000,
      queueLimit: s2s.queue_limit,
      isLocalDomain,
      ...resolverOf(ctx),
    });
    this.inbound = {
      server,
      tls: this.tls,
      policy,
      secret,
      stats: this.stats,
      authTimeoutMs: s2s.auth_timeout * 1000,
      limits,
      isLocalDomain,
      verifyDialback: (local, remote, streamId, key) =>
        this.manager.verifyDialback(local, remote, streamId, key),
      carriesBack: (stream, local, remote) => this.manager.addReturnRoute(stream, local, remote),
      forgetReturnRoutes: (stream) => this.manager.removeReturnRoutes(stream),
      onGone: (stream) => {
        this.streams.delete(stream);
        this.manager.removeReturnRoutes(stream);
        // The stream's address is the one accept() counted: both read it from the fresh socket.
        this.connections.release(stream.remoteAddress);
      },
    };
    this.uncounted = {
      ...this.inbound,
      onGone: (stream) => {
        this.streams.delete(stream);
      },
    };
    this.connections = new ConnectionCounter(s2s.max_connections_per_ip);
    this.inboundLog = this.log.child({ direction: 'in' });
    // Below the modules' hooks (blocking drops stanzas to blocked JIDs there first), above the
    // router's own fallback, which bounces everything when federation is off.
    server.hooks.on('route/remote', (event) => this.manager.route(event), ROUTE_REMOTE_PRIORITY);
  }

  /** Loads the dialback secret, and listens when s2s.enabled. */
  static async start(ctx: FederationContext): Promise<Federation> {
    const secret = await loadDialbackSecret(ctx.config.s2s.dialback_secret, ctx.config.data_dir);
    const federation = new Federation(ctx, secret);
    await federation.listen();
    return federation;
  }

  /** The incoming streams now open (for tests and diagnostics). */
  get incoming(): readonly S2SInStream[] {
    return [...this.streams];
  }

  private async listen(): Promise<void> {
    const { s2s } = this.ctx.config;
    // Each context parses every trusted CA (tens of milliseconds): made now, not while a peer waits.
    for (const host of this.ctx.config.hosts) this.tls.contextFor(host);
    const primary = this.ctx.config.hosts[0];
    const plain = new Listener('s2s', this.log);
    this.listeners.push(plain);
    this.listening.s2s = await plain.listenTcp({ addresses: s2s.addresses, port: s2s.port }, (socket) =>
      this.accept(socket),
    );
    if (s2s.direct_tls) {
      const direct = new Listener('s2s-direct-tls', this.log);
      this.listeners.push(direct);
      this.listening.s2sDirectTls = await direct.listenTls(
        { addresses: s2s.addresses, port: s2s.direct_tls_port },
        { ...this.tls.serverOptions(primary), handshakeTimeout: s2s.auth_timeout * 1000 },
        (socket) => this.accept(socket),
      );
    }
  }

  private accept(socket: net.Socket | tls.TLSSocket): void {
    tuneSocket(socket);
    const ip = socket.remoteAddress ?? 'unknown';
    const counted = this.connections.acquire(ip);
    const stream = new S2SInStream(socket, counted ? this.inbound : this.uncounted, this.inboundLog);
    this.streams.add(stream);
    if (this.stopping) stream.fail(new StreamError('system-shutdown'));
    else if (!counted)
      stream.fail(new StreamError('policy-violation', 'too many connections from your address'));
  }

  /** After a certificate reload: new direct TLS handshakes present the new certificates. */
  certificatesReloaded(): void {
    for (const listener of this.listeners)
      listener.setSecureContext(this.tls.serverOptions(this.ctx.config.hosts[0]));
  }

  /** Stops listening, closes every server connection (bouncing what waits), waits a moment. */
  async stop(): Promise<void> {
    this.stopping = true;
    const closed = Promise.all(this.listeners.map((l) => l.close()));
    this.manager.stop();
    for (const stream of [...this.streams])
      stream.fail(new StreamError('system-shutdown', 'the server is stopping'));
    const deadline = Date.now() + 2_000;
    while (this.streams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const stream of this.streams) stream.destroy();
    await closed;
  }
}

/** The resolver given (tests), else the configured DNS servers, else the system's (the manager's default). */
function resolverOf(ctx: FederationContext): { resolver?: Resolver } {
  if (ctx.resolver) return { resolver: ctx.resolver };
  const servers = ctx.config.s2s.dns_servers;
  return servers.length > 0 ? { resolver: dnsServerResolver([...servers]) } : {};
}
