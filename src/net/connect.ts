// Opening a TCP connection to the first reachable of several targets.
//
// RFC 6120 §3.2.1 steps 7–9 (try the SRV targets in order until one connects), RFC 8305
// (happy eyeballs v2: §4 interleave the address families, IPv6 first; §5 start the next
// attempt after a connection attempt delay of 250 ms if the previous one has neither
// succeeded nor failed, and at once when it fails; the first to connect wins and the rest are
// cancelled). TLS for direct TLS targets is the caller's: it knows the server name and ALPN.

import net from 'node:net';
import { formatAddress } from './listener.js';
import { type ConnectTarget, type ResolvedAddress, type Resolver, systemResolver } from './resolve.js';

/** RFC 8305 §5: the recommended connection attempt delay. */
export const CONNECTION_ATTEMPT_DELAY_MS = 250;

export interface ConnectOptions {
  /** How long one TCP connection attempt (one address) may take before it counts as failed. */
  timeoutMs: number;
  resolver?: Resolver;
  /** Aborting stops every attempt and rejects. */
  signal?: AbortSignal;
  /** Overrides {@link CONNECTION_ATTEMPT_DELAY_MS} (tests). */
  attemptDelayMs?: number;
  /** Opens one TCP connection (default net.connect); tests stand in an address that never answers. */
  openSocket?: (address: string, port: number) => net.Socket;
}

export interface Connected {
  /** Connected, with no 'error' listener left: the caller must add one at once. */
  socket: net.Socket;
  target: ConnectTarget;
  /** The address the socket connected to. */
  address: string;
}

/** Every target failed; the message says what was tried and why each attempt failed. */
export class ConnectError extends Error {
  override name = 'ConnectError';
  constructor(
    message: string,
    readonly attempts: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Connects to the first target that answers, trying them in order; within a target, races its
 * addresses per happy eyeballs. The socket has TCP_NODELAY set; nothing has been written on it.
 */
export async function connectFirst(
  targets: readonly ConnectTarget[],
  opts: ConnectOptions,
): Promise<Connected> {
  const resolver = opts.resolver ?? systemResolver;
  const attempts: string[] = [];
  for (const target of targets) {
    opts.signal?.throwIfAborted();
    let addresses: ResolvedAddress[];
    try {
      addresses = await addressesOf(target.host, resolver);
    } catch (err) {
      attempts.push(`${target.host}: address lookup failed (${errorText(err)})`);
      continue;
    }
    if (addresses.length === 0) {
      attempts.push(`${target.host}: no addresses`);
      continue;
    }
    const connected = await raceAddresses(target, addresses, opts, attempts);
    if (connected !== undefined) return connected;
  }
  opts.signal?.throwIfAborted();
  const tried = attempts.length === 0 ? 'no targets to try' : attempts.join('; ');
  throw new ConnectError(`could not connect: ${tried}`, attempts);
}

async function addressesOf(host: string, resolver: Resolver): Promise<ResolvedAddress[]> {
  const family = net.isIP(host);
  if (family !== 0) return [{ address: host, family: family === 6 ? 6 : 4 }];
  return resolver.lookup(host);
}

/** RFC 8305 §4: alternate the families, starting with IPv6; duplicates once. */
export function interleaveFamilies(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  const seen = new Set<string>();
  const unique = addresses.filter((a) => !seen.has(a.address) && seen.add(a.address));
  const v6 = unique.filter((a) => a.family === 6);
  const v4 = unique.filter((a) => a.family === 4);
  const out: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]!);
    if (i < v4.length) out.push(v4[i]!);
  }
  return out;
}

/** Resolves to the winning connection, or undefined when every address failed (each noted in `attempts`). */
function raceAddresses(
  target: ConnectTarget,
  addresses: readonly ResolvedAddress[],
  opts: ConnectOptions,
  attempts: string[],
): Promise<Connected | undefined> {
  const queue = interleaveFamilies(addresses);
  const delay = opts.attemptDelayMs ?? CONNECTION_ATTEMPT_DELAY_MS;
  // Each attempt in flight, with its timeout.
  const pending = new Map<net.Socket, NodeJS.Timeout>();
  return new Promise((resolve, reject) => {
    let done = false;
    let next = 0;
    let timer: NodeJS.Timeout | undefined;

    const finish = (result: Connected | undefined, error?: unknown) => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const [socket, attemptTimer] of pending) {
        clearTimeout(attemptTimer);
        if (socket !== result?.socket) socket.destroy();
      }
      pending.clear();
      if (error !== undefined) reject(error);
      else resolve(result);
    };
    const onAbort = () => finish(undefined, opts.signal?.reason ?? new Error('aborted'));

    const startNext = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (done) return;
      if (next >= queue.length) {
        if (pending.size === 0) finish(undefined);
        return;
      }
      const { address } = queue[next++]!;
      const label = `${target.host} ${formatAddress(address, target.port)}`;
      const socket = (opts.openSocket ?? openTcp)(address, target.port);
      const fail = (err: Error) => {
        clearTimeout(pending.get(socket));
        socket.removeAllListeners('connect');
        socket.destroy();
        if (!pending.delete(socket) || done) return;
        attempts.push(`${label} ${errorText(err)}`);
        // RFC 8305 §5: a failure starts the next attempt without waiting for the delay.
        startNext();
      };
      pending.set(
        socket,
        setTimeout(() => fail(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs),
      );
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(pending.get(socket));
        socket.removeListener('error', fail);
        pending.delete(socket);
        socket.setNoDelay(true);
        finish({ socket, target, address });
      });
      if (next < queue.length) timer = setTimeout(startNext, delay);
    };

    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    startNext();
  });
}

function openTcp(address: string, port: number): net.Socket {
  return net.connect({ host: address, port, noDelay: true });
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(err);
}
