// XEP-0114 from the component's side, against a minimal accepting server written here: the
// handshake digest, stanzas both ways, reconnection after the stream drops, and the stream
// errors that end the first attempt.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { expect } from 'chai';
import { ComponentConnection, ComponentError, handshakeDigest } from '../../src/bot/component.js';
import { silentLogger } from '../../src/log.js';
import { type Element, x } from '../../src/xml/element.js';

const STREAM_ERROR = (condition: string) =>
  `<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`;

/** Accepts component streams; `behave` decides what each connection does after the header. */
async function acceptor(behave: (socket: net.Socket, received: string[], n: number) => void) {
  const received: string[] = [];
  const sockets: net.Socket[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8');
    const n = ++connections;
    let opened = false;
    socket.on('data', (data: string) => {
      received.push(data);
      if (!opened && data.includes('<stream:stream')) {
        opened = true;
        socket.write(
          `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='ai.example' id='stream-${n}'>`,
        );
      }
      behave(socket, received, n);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    sockets,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function waitUntil(check: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - started > 5000) reject(new Error('timed out'));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('XEP-0114 component connection', () => {
  it('the handshake is lowercase hex SHA-1 of the stream id and the secret', () => {
    expect(handshakeDigest('3BF96D32', 'secret')).to.equal('b09ea9b3b7f586be8a08d0a3dd7466f110aeb136');
    expect(handshakeDigest('id', 'sécret')).to.equal(
      createHash('sha1').update('idsécret', 'utf8').digest('hex'),
    );
  });

  it('opens the stream, hands shakes, and exchanges stanzas; reconnects when the stream drops', async () => {
    const server = await acceptor((socket, received, n) => {
      const all = received.join('');
      if (
        all.includes(`<handshake>${handshakeDigest(`stream-${n}`, 's3cret')}</handshake>`) &&
        !(socket as { shook?: boolean }).shook
      ) {
        (socket as { shook?: boolean }).shook = true;
        socket.write(
          "<handshake/><message from='a@example' to='bot@ai.example' id='m1'><body>hi</body></message>",
        );
      }
    });
    const stanzas: Element[] = [];
    let onlines = 0;
    const conn = new ComponentConnection({
      host: '127.0.0.1',
      port: server.port,
      domain: 'ai.example',
      secret: 's3cret',
      log: silentLogger,
      onStanza: (el) => stanzas.push(el),
      onOnline: () => onlines++,
      initialBackoffMs: 10,
    });
    try {
      await conn.start();
      expect(conn.online).to.equal(true);
      expect(server.received.join('')).to.contain(
        "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='ai.example'>",
      );
      await waitUntil(() => stanzas.length === 1);
      expect(stanzas[0]!.toString()).to.equal(
        '<message from="a@example" to="bot@ai.example" id="m1"><body>hi</body></message>',
      );
      expect(
        conn.send(x('message', { from: 'bot@ai.example', to: 'a@example' }, x('body', null, 'yo'))),
      ).to.equal(true);
      await waitUntil(() => server.received.join('').includes('<body>yo</body>'));

      server.sockets[0]!.destroy();
      await waitUntil(() => onlines === 2);
      expect(server.connections).to.equal(2);
      expect(conn.online).to.equal(true);
    } finally {
      await conn.stop();
      await server.close();
    }
    expect(server.received.join('')).to.match(/<\/stream:stream>$/);
  });

  const fatal: ReadonlyArray<[string, string]> = [
    ['not-authorized', 'not-authorized'],
    ['host-unknown', 'host-unknown'],
    ['conflict', 'conflict'],
    ['undefined-condition', 'stream-error'],
  ];
  for (const [condition, code] of fatal)
    it(`a <${condition}/> stream error on the first connection fails start() with ${code}`, async () => {
      const server = await acceptor((socket, received) => {
        if (received.join('').includes('<handshake>')) socket.end(STREAM_ERROR(condition));
      });
      const conn = new ComponentConnection({
        host: '127.0.0.1',
        port: server.port,
        domain: 'ai.example',
        secret: 'wrong',
        log: silentLogger,
        onStanza: () => {},
      });
      try {
        const error = await conn.start().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).to.be.instanceOf(ComponentError);
        expect((error as ComponentError).code).to.equal(code);
        expect(server.connections).to.equal(1);
      } finally {
        await conn.stop();
        await server.close();
      }
    });

  it('keeps trying while nothing listens, and gives up when its signal aborts', async () => {
    const server = await acceptor(() => {});
    const port = server.port;
    await server.close();
    const controller = new AbortController();
    const conn = new ComponentConnection({
      host: '127.0.0.1',
      port,
      domain: 'ai.example',
      secret: 's',
      log: silentLogger,
      onStanza: () => {},
      initialBackoffMs: 5,
    });
    const outcome = conn.start(controller.signal).then(
      () => 'connected',
      (err: ComponentError) => err.code,
    );
    setTimeout(() => controller.abort(), 50);
    expect(await outcome).to.equal('stopped');
  });

  it('drops stanzas while offline', () => {
    const conn = new ComponentConnection({
      host: '127.0.0.1',
      port: 1,
      domain: 'ai.example',
      secret: 's',
      log: silentLogger,
      onStanza: () => {},
    });
    expect(conn.send('<message/>')).to.equal(false);
  });
});
