// TCP listeners for client connections: plain TCP for STARTTLS on 5222 and direct TLS on
// 5223 (XEP-0368, ALPN "xmpp-client"), on every configured address, IPv4 and IPv6.

import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';

export interface ListenSpec {
  addresses: readonly string[];
  port: number;
}

export interface BoundAddress {
  address: string;
  port: number;
}

export type SocketHandler = (socket: net.Socket | tls.TLSSocket) => void;

/** Tunes a freshly accepted socket for an interactive protocol. */
export function tuneSocket(socket: net.Socket): void {
  // Nagle's algorithm holds small writes back ~40 ms waiting for an ACK; XMPP is all small writes.
  socket.setNoDelay(true);
  // Dead peers behind NATs are found by the kernel without a packet of ours.
  socket.setKeepAlive(true, 60_000);
}

export class Listener {
  private readonly servers: net.Server[] = [];

  constructor(
    readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Listens on plain TCP; the handler gets each accepted socket. */
  async listenTcp(spec: ListenSpec, onSocket: SocketHandler): Promise<BoundAddress[]> {
    return this.listenAll(spec, () => net.createServer({ noDelay: true }, onSocket));
  }

  /** Listens with TLS from the first byte; the handler gets each socket after its handshake. */
  async listenTls(
    spec: ListenSpec,
    options: tls.TlsOptions,
    onSocket: SocketHandler,
  ): Promise<BoundAddress[]> {
    return this.listenAll(spec, () => {
      const server = tls.createServer(options, onSocket);
      server.on('tlsClientError', (err, socket) => {
        this.log.debug('TLS handshake failed', {
          listener: this.name,
          ip: socket.remoteAddress,
          error: err.message,
        });
        // Node reports a handshake that timed out here but leaves the connection open, for as
        // long as the peer likes: nobody else holds this socket to end it.
        socket.destroy();
      });
      server.on('connection', (socket: net.Socket) => tuneSocket(socket));
      return server;
    });
  }

  private async listenAll(spec: ListenSpec, create: () => net.Server): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = [];
    const both = spec.addresses.some((a) => net.isIPv4(a)) && spec.addresses.some((a) => net.isIPv6(a));
    let port = spec.port;
    for (const address of spec.addresses) {
      const server = create();
      server.on('error', (err) =>
        this.log.error('listener error', { listener: this.name, address, error: err }),
      );
      // With both families listed, '::' must not also claim IPv4 (the 0.0.0.0 socket has it).
      const ipv6Only = both && net.isIPv6(address);
      const actual = await listen(server, address, port, ipv6Only, this.name);
      // With port 0 the first address picks a free port; the others use the same one.
      port = actual.port;
      this.servers.push(server);
      bound.push(actual);
      this.log.info('listening', { listener: this.name, address: actual.address, port: actual.port });
    }
    return bound;
  }

  /** Gives direct-TLS listeners new certificates (after a reload); new handshakes use them. */
  setSecureContext(options: tls.TlsOptions): void {
    for (const server of this.servers) if (server instanceof tls.Server) server.setSecureContext(options);
  }

  /**
   * Stops accepting; existing connections are left to their owners. Not awaiting close()'s
   * callback on purpose: it only runs once every connection has ended, and the owners end them
   * after this returns (a graceful stop first tells each stream system-shutdown).
   */
  async close(): Promise<void> {
    for (const server of this.servers) server.close();
    this.servers.length = 0;
  }
}

function listen(
  server: net.Server,
  host: string,
  port: number,
  ipv6Only: boolean,
  name: string,
): Promise<BoundAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      const hint =
        err.code === 'EADDRINUSE'
          ? 'another process uses this port (is Warbler already running?); stop it or change the port'
          : err.code === 'EACCES'
            ? 'this user may not bind that port; choose a port above 1023 or grant CAP_NET_BIND_SERVICE'
            : err.code === 'EADDRNOTAVAIL'
              ? 'this machine has no such address; fix the addresses list'
              : err.message;
      reject(new ListenError(`cannot listen for ${name} on ${formatAddress(host, port)}: ${hint}`, err.code));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      const addr = server.address() as net.AddressInfo;
      resolve({ address: addr.address, port: addr.port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, ipv6Only, backlog: 1024 });
  });
}

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
