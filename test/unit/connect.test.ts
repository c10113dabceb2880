// Connecting to the first reachable target (RFC 6120 §3.2.1, RFC 8305 happy eyeballs), with
// real listeners on 127.0.0.1 and ::1 and a fake resolver naming them.

import net from 'node:net';
import { expect } from 'chai';
import { ConnectError, connectFirst, interleaveFamilies } from '../../src/net/connect.js';
import type { ResolvedAddress, Resolver } from '../../src/net/resolve.js';

/** Longer than mocha's timeout: a test that waits for the attempt delay fails instead. */
const NEVER_MS = 60_000;

function fakeResolver(hosts: Record<string, ResolvedAddress[] | Error>): Resolver {
  return {
    async resolveSrv() {
      return [];
    },
    async lookup(host) {
      const answer = hosts[host];
      if (answer instanceof Error) throw answer;
      if (answer === undefined) throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
      return answer;
    },
  };
}

async function listen(host: string, port = 0): Promise<net.Server> {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host === '::1' }, resolve);
  });
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(host: string): Promise<number> {
  const server = await listen(host);
  const port = portOf(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function hasIpv6(): Promise<boolean> {
  try {
    const server = await listen('::1');
    server.close();
    return true;
  } catch {
    return false;
  }
}

describe('connectFirst', () => {
  const servers: net.Server[] = [];
  let ipv6 = false;

  before(async () => {
    ipv6 = await hasIpv6();
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) server.close();
  });

  async function server(host: string, port?: number): Promise<number> {
    const s = await listen(host, port);
    servers.push(s);
    return portOf(s);
  }

  function skipWithoutIpv6(ctx: Mocha.Context): void {
    if (ipv6) return;
    process.stderr.write('      skipped: this machine has no ::1\n');
    ctx.skip();
  }

  it('connects over IPv6 first when a name has both families', async function () {
    skipWithoutIpv6(this);
    const port = await server('127.0.0.1');
    await server('::1', port);
    const resolver = fakeResolver({
      'dual.test': [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    const target = { host: 'dual.test', port, directTls: false };
    // With the attempt delay out of reach, only the first attempt can have connected.
    const {
      socket,
      address,
      target: chosen,
    } = await connectFirst([target], { timeoutMs: 5000, resolver, attemptDelayMs: NEVER_MS });
    const remote = socket.remoteAddress;
    socket.destroy();
    expect(address).to.equal('::1');
    expect(remote).to.equal('::1');
    expect(chosen).to.deep.equal(target);
  });

  it('moves to the other family at once when an attempt is refused, without waiting for the delay', async function () {
    skipWithoutIpv6(this);
    const port = await server('127.0.0.1');
    const resolver = fakeResolver({
      'dual.test': [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    const { socket, address } = await connectFirst([{ host: 'dual.test', port, directTls: false }], {
      timeoutMs: 5000,
      resolver,
      attemptDelayMs: NEVER_MS,
    });
    socket.destroy();
    expect(address).to.equal('127.0.0.1');
  });

  it('starts the other family after the attempt delay while the first address stays silent (RFC 8305 §5)', async () => {
    const port = await server('127.0.0.1');
    const opened: string[] = [];
    const silent = new net.Socket();
    // 2001:db8::/32 is for documentation: this socket is never connected, so it never answers.
    const openSocket = (address: string, p: number) => {
      opened.push(address);
      return address === '2001:db8::1' ? silent : net.connect({ host: address, port: p });
    };
    const resolver = fakeResolver({
      'slow.test': [
        { address: '2001:db8::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    const { socket, address } = await connectFirst([{ host: 'slow.test', port, directTls: false }], {
      timeoutMs: NEVER_MS,
      resolver,
      attemptDelayMs: 1,
      openSocket,
    });
    socket.destroy();
    expect(opened).to.deep.equal(['2001:db8::1', '127.0.0.1']);
    expect(address).to.equal('127.0.0.1');
    // The loser of the race is cancelled.
    expect(silent.destroyed).to.equal(true);
  });

  it('gives up on an address that stays silent past the timeout, naming it', async () => {
    let silent: net.Socket | undefined;
    const openSocket = () => {
      silent = new net.Socket();
      return silent;
    };
    let error: unknown;
    try {
      await connectFirst([{ host: '192.0.2.9', port: 5269, directTls: false }], { timeoutMs: 1, openSocket });
    } catch (err) {
      error = err;
    }
    expect((error as ConnectError).attempts).to.deep.equal([
      '192.0.2.9 192.0.2.9:5269 no answer within 1 ms',
    ]);
    expect(silent?.destroyed).to.equal(true);
  });

  it('tries the next target when the first refuses, and says which target answered', async () => {
    const refusing = await closedPort('127.0.0.1');
    const port = await server('127.0.0.1');
    const first = { host: '127.0.0.1', port: refusing, directTls: true };
    const second = { host: 'ok.test', port, directTls: false };
    const { socket, target, address } = await connectFirst([first, second], {
      timeoutMs: 5000,
      resolver: fakeResolver({ 'ok.test': [{ address: '127.0.0.1', family: 4 }] }),
    });
    socket.destroy();
    expect(target).to.deep.equal(second);
    expect(address).to.equal('127.0.0.1');
  });

  it('fails with every attempt in the message when nothing answers', async () => {
    const refusing = await closedPort('127.0.0.1');
    let error: unknown;
    try {
      await connectFirst(
        [
          { host: '127.0.0.1', port: refusing, directTls: false },
          { host: 'gone.test', port: 5269, directTls: false },
          { host: 'empty.test', port: 5269, directTls: false },
        ],
        { timeoutMs: 5000, resolver: fakeResolver({ 'empty.test': [] }) },
      );
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConnectError);
    expect((error as ConnectError).attempts).to.deep.equal([
      `127.0.0.1 127.0.0.1:${refusing} ECONNREFUSED`,
      'gone.test: address lookup failed (ENOTFOUND)',
      'empty.test: no addresses',
    ]);
    expect((error as Error).message).to.equal(
      `could not connect: 127.0.0.1 127.0.0.1:${refusing} ECONNREFUSED; ` +
        'gone.test: address lookup failed (ENOTFOUND); empty.test: no addresses',
    );
  });

  it('fails saying so when there are no targets', async () => {
    let error: unknown;
    try {
      await connectFirst([], { timeoutMs: 1000 });
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.equal('could not connect: no targets to try');
  });

  it('stops when aborted before it starts', async () => {
    const port = await server('127.0.0.1');
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    let error: unknown;
    try {
      await connectFirst([{ host: '127.0.0.1', port, directTls: false }], {
        timeoutMs: 1000,
        signal: controller.signal,
      });
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.equal('shutting down');
  });

  it('stops when aborted while looking addresses up', async () => {
    const controller = new AbortController();
    const resolver: Resolver = {
      async resolveSrv() {
        return [];
      },
      async lookup() {
        controller.abort(new Error('shutting down'));
        return [{ address: '127.0.0.1', family: 4 }];
      },
    };
    let error: unknown;
    try {
      await connectFirst([{ host: 'slow.test', port: 5269, directTls: false }], {
        timeoutMs: 1000,
        resolver,
        signal: controller.signal,
      });
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).to.equal('shutting down');
  });
});

describe('interleaveFamilies (RFC 8305 §4)', () => {
  it('alternates families starting with IPv6, dropping duplicates', () => {
    const a = (address: string): ResolvedAddress => ({ address, family: net.isIPv6(address) ? 6 : 4 });
    expect(
      interleaveFamilies([a('192.0.2.1'), a('192.0.2.2'), a('192.0.2.3'), a('2001:db8::1'), a('192.0.2.1')]),
    ).to.deep.equal([a('2001:db8::1'), a('192.0.2.1'), a('192.0.2.2'), a('192.0.2.3')]);
    expect(interleaveFamilies([a('192.0.2.1')])).to.deep.equal([a('192.0.2.1')]);
    expect(interleaveFamilies([])).to.deep.equal([]);
  });
});
