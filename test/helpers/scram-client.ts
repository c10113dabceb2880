// An XMPP client for the SASL tests, written from the specs and sharing no code with the server
// (it imports nothing from src/): if the server and this client agree, they agree because both
// follow the RFCs, not because they run the same functions.
//
// RFC 5802 §3 (SCRAM's algorithm), §5 (the exchange), §6 (channel binding, the GS2 flag),
//   §7 (syntax: saslname escaping, gs2-header); RFC 7677 (SCRAM-SHA-256);
// RFC 4616 §2 (PLAIN); RFC 5929 §3.1 (tls-unique), §4.1 (tls-server-end-point);
// RFC 9266 §2 (tls-exporter); XEP-0440 (<sasl-channel-binding/>);
// RFC 6120 §4 (stream headers and restarts), §5 (STARTTLS), §6 (SASL), §7 (resource binding);
// XEP-0368 (direct TLS).
//
// Passwords are used as given, without SASLprep: the tests use passwords that SASLprep leaves
// unchanged (ASCII, and composed non-ASCII letters).

import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_CLIENT = 'jabber:client';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SASL_CB = 'urn:xmpp:sasl-cb:0';

// ---------------------------------------------------------------------------------------
// SCRAM, client side, as a pure unit (no socket)

export type ScramHash = 'SHA-1' | 'SHA-256';
export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

const NODE_HASH: Record<ScramHash, { name: 'sha1' | 'sha256'; size: number }> = {
  'SHA-1': { name: 'sha1', size: 20 },
  'SHA-256': { name: 'sha256', size: 32 },
};

export interface ScramClientOptions {
  hash: ScramHash;
  username: string;
  password: string;
  /** Sent in the GS2 header as a=. */
  authzid?: string;
  /** gs2-cbind-flag exactly as sent: 'n', 'y' or 'p=<type>'. */
  gs2Flag: string;
  /** cbind-data, appended to the GS2 header in c=; only sent with a 'p=' flag (RFC 5802 §7). */
  channelBindingData?: Buffer;
  /** The client nonce; random unless a test replays the RFC examples. */
  clientNonce?: string;
}

/** saslname (RFC 5802 §5.1): ',' and '=' escaped as =2C and =3D. */
function saslname(value: string): string {
  return value.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

/** The value of attribute `name` in a SCRAM message, or undefined. */
function scramAttribute(message: string, name: string): string | undefined {
  for (const part of message.split(',')) {
    if (part.length >= 2 && part[0] === name && part[1] === '=') return part.slice(2);
  }
  return undefined;
}

export class ScramClient {
  readonly gs2Header: string;
  readonly clientFirstBare: string;
  private readonly clientNonce: string;
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly options: ScramClientOptions) {
    this.clientNonce = options.clientNonce ?? randomBytes(18).toString('base64');
    const authzid = options.authzid === undefined ? '' : `a=${saslname(options.authzid)}`;
    this.gs2Header = `${options.gs2Flag},${authzid},`;
    this.clientFirstBare = `n=${saslname(options.username)},r=${this.clientNonce}`;
  }

  /** client-first-message = gs2-header client-first-message-bare. */
  get clientFirst(): string {
    return this.gs2Header + this.clientFirstBare;
  }

  /** client-final-message for a server-first-message; throws when the latter is not acceptable. */
  async clientFinal(serverFirst: string): Promise<string> {
    const nonce = scramAttribute(serverFirst, 'r');
    const salt = scramAttribute(serverFirst, 's');
    const iterations = Number(scramAttribute(serverFirst, 'i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce === this.clientNonce) {
      throw new Error(`server-first-message does not extend our nonce: ${serverFirst}`);
    }
    if (salt === undefined || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error(`server-first-message lacks s= or i=: ${serverFirst}`);
    }
    const { name, size } = NODE_HASH[this.options.hash];
    const salted = await new Promise<Buffer>((resolve, reject) =>
      pbkdf2(this.options.password, Buffer.from(salt, 'base64'), iterations, size, name, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
    const clientKey = createHmac(name, salted).update('Client Key').digest();
    const storedKey = createHash(name).update(clientKey).digest();
    const cbindInput = this.options.gs2Flag.startsWith('p=')
      ? Buffer.concat([Buffer.from(this.gs2Header), this.options.channelBindingData ?? Buffer.alloc(0)])
      : Buffer.from(this.gs2Header);
    const withoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = createHmac(name, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(size);
    for (let i = 0; i < size; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    const serverKey = createHmac(name, salted).update('Server Key').digest();
    this.expectedServerSignature = createHmac(name, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks server-final-message's v= (the server proves it knows the credential); throws if wrong. */
  verifyServerFinal(serverFinal: string): void {
    if (!this.expectedServerSignature) throw new Error('server-final-message before client-final-message');
    const error = scramAttribute(serverFinal, 'e');
    if (error !== undefined) throw new Error(`server-final-message reports an error: ${error}`);
    // Compared as text: decoding would forgive trailing junk.
    if (scramAttribute(serverFinal, 'v') !== this.expectedServerSignature.toString('base64')) {
      throw new Error(`the server signature does not verify: ${serverFinal}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Reading the server's stream: each child of <stream:stream> as a small tree

export interface XmlNode {
  /** As written, with any prefix. */
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** The element's own text, entities decoded. */
  text: string;
  /** The element's source, for error messages and pattern matching. */
  xml: string;
}

/** The first child named `name`, when `xmlns` is given only one declaring that namespace. */
export function childOf(node: XmlNode, name: string, xmlns?: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name && (xmlns === undefined || c.attrs.xmlns === xmlns));
}

const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITY = /&(lt|gt|amp|quot|apos);/g;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.includes('&') ? text.replace(ENTITY, (_, name: string) => ENTITIES[name]!) : text;
}

/** Index of the '>' closing the tag that starts at `from`, skipping quoted attribute values. */
function tagEnd(buffer: string, from: number): number {
  let quote = '';
  for (let i = from + 1; i < buffer.length; i++) {
    const c = buffer[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return i;
    }
  }
  return -1;
}

/**
 * Splits the server's output into the stream header (as a node without children), each
 * top-level element, and '</stream:stream>'. Good for a server's well-formed output, no more.
 */
class StreamReader {
  private buffer = '';
  private stack: XmlNode[] = [];
  /** Where the unread input starts. */
  private scanPos = 0;
  /** Where the open top-level element starts: its source is reported once it is complete. */
  private elementStart = 0;

  constructor(private readonly emit: (node: XmlNode) => void) {}

  feed(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const lt = this.buffer.indexOf('<', this.scanPos);
      if (lt < 0) break;
      const declaration = this.buffer.startsWith('<?', lt);
      const end = declaration ? this.buffer.indexOf('?>', lt) + 1 : tagEnd(this.buffer, lt);
      if (end <= 0) break; // an incomplete tag: wait for more
      const open = this.stack.at(-1);
      if (open) open.text += decodeEntities(this.buffer.slice(this.scanPos, lt));
      if (!declaration) this.tag(lt, end);
      this.scanPos = end + 1;
    }
    const keepFrom = this.stack.length > 0 ? this.elementStart : this.scanPos;
    this.buffer = this.buffer.slice(keepFrom);
    this.scanPos -= keepFrom;
    this.elementStart = 0;
  }

  private tag(lt: number, end: number): void {
    const inner = this.buffer.slice(lt + 1, end);
    if (inner.startsWith('/')) {
      const name = inner.slice(1).trim();
      if (this.stack.length === 0) {
        this.emit({ name: `/${name}`, attrs: {}, children: [], text: '', xml: `</${name}>` });
        return;
      }
      const node = this.stack.pop()!;
      if (this.stack.length === 0) {
        node.xml = this.buffer.slice(this.elementStart, end + 1);
        this.emit(node);
      }
      return;
    }
    const selfClosing = inner.endsWith('/');
    const body = selfClosing ? inner.slice(0, -1) : inner;
    const space = body.search(/\s/);
    const name = space < 0 ? body : body.slice(0, space);
    const attrs: Record<string, string> = {};
    for (const m of body.matchAll(ATTRIBUTE)) attrs[m[1]!] = decodeEntities(m[2] ?? m[3] ?? '');
    const node: XmlNode = { name, attrs, children: [], text: '', xml: '' };
    if (this.stack.length === 0) {
      this.elementStart = lt;
      if (name === 'stream:stream') {
        node.xml = this.buffer.slice(lt, end + 1);
        this.emit(node);
        return;
      }
    } else {
      this.stack.at(-1)!.children.push(node);
    }
    if (selfClosing) {
      if (this.stack.length === 0) {
        node.xml = this.buffer.slice(lt, end + 1);
        this.emit(node);
      }
      return;
    }
    this.stack.push(node);
  }
}

// ---------------------------------------------------------------------------------------
// A connection: stream, STARTTLS or direct TLS, SASL, binding

/** plaintext: no TLS at all, for a server whose c2s.require_encryption is off. */
export type Transport = 'starttls' | 'direct-tls' | 'plaintext';
export type MechanismName =
  | 'PLAIN'
  | 'SCRAM-SHA-1'
  | 'SCRAM-SHA-256'
  | 'SCRAM-SHA-1-PLUS'
  | 'SCRAM-SHA-256-PLUS';

export interface OpenOptions {
  /** The STARTTLS port, or the direct TLS port with transport 'direct-tls'. */
  port: number;
  transport: Transport;
  /** The stream's "to" and the TLS server name; 'localhost' by default. */
  domain?: string;
  /** Caps the TLS version: 'TLSv1.2' gives a connection with tls-unique and without tls-exporter. */
  maxVersion?: tls.SecureVersion;
}

export interface AuthOptions {
  mechanism: MechanismName;
  username: string;
  password: string;
  authzid?: string;
  /** -PLUS only: the channel binding; tls-exporter on TLS 1.3, tls-server-end-point before, by default. */
  channelBinding?: ChannelBindingType;
  /** Negative tests: the GS2 flag to send instead of the right one ('n', 'y' or 'p=<type>'). */
  gs2Flag?: string;
  /** Negative tests: the cbind-data to send instead of the connection's. */
  channelBindingData?: Buffer;
  /** false: send <auth/> empty and give the initial response after the server's empty challenge. */
  initialResponse?: boolean;
}

export type AuthOutcome =
  | {
      kind: 'success';
      /** The additional data of <success/>, decoded: SCRAM's server-final-message, already verified. */
      additionalData: string | undefined;
      /** SCRAM's server-first-message. */
      serverFirst?: string;
    }
  | { kind: 'failure'; condition: string; text: string | undefined; serverFirst?: string };

const SCRAM_HASH: Record<Exclude<MechanismName, 'PLAIN'>, ScramHash> = {
  'SCRAM-SHA-1': 'SHA-1',
  'SCRAM-SHA-256': 'SHA-256',
  'SCRAM-SHA-1-PLUS': 'SHA-1',
  'SCRAM-SHA-256-PLUS': 'SHA-256',
};
const CHANNEL_BINDING_TYPES: ReadonlySet<string> = new Set([
  'tls-exporter',
  'tls-server-end-point',
  'tls-unique',
]);
const DEFAULT_TIMEOUT_MS = 5000;

function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function streamHeader(domain: string): string {
  const attrs = `xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}' to='${domain}' version='1.0'`;
  return `<?xml version='1.0'?><stream:stream ${attrs}>`;
}

interface Waiter {
  resolve(node: XmlNode): void;
  reject(error: Error): void;
}

export class StreamClient {
  /** The features of the current stream. */
  features!: XmlNode;
  /** Everything received, in order, for error messages. */
  readonly transcript: string[] = [];
  private reader: StreamReader;
  private readonly queue: XmlNode[] = [];
  private waiter: Waiter | undefined;
  private closedFlag = false;
  private readonly closeListeners: Array<() => void> = [];

  private constructor(
    private socket: net.Socket | tls.TLSSocket,
    readonly domain: string,
  ) {
    this.reader = new StreamReader((node) => this.received(node));
    this.attach(socket);
  }

  /** Connects, opens the stream and, over STARTTLS, upgrades: ready for SASL. */
  static async open(options: OpenOptions): Promise<StreamClient> {
    const domain = options.domain ?? 'localhost';
    const tlsOptions = { servername: domain, rejectUnauthorized: false, maxVersion: options.maxVersion };
    const direct = options.transport === 'direct-tls';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = direct
        ? tls.connect({
            ...tlsOptions,
            port: options.port,
            host: '127.0.0.1',
            ALPNProtocols: ['xmpp-client'],
          })
        : net.connect({ port: options.port, host: '127.0.0.1' });
      s.once(direct ? 'secureConnect' : 'connect', () => resolve(s));
      s.once('error', reject);
    });
    const client = new StreamClient(socket, domain);
    await client.restart();
    if (options.transport === 'starttls') {
      const starttls = childOf(client.features, 'starttls', NS_TLS);
      if (!starttls) throw new Error(`no STARTTLS offered: ${client.features.xml}`);
      client.send(`<starttls xmlns='${NS_TLS}'/>`);
      await client.expect(/^<proceed[\s/>]/);
      await client.upgrade(tlsOptions);
      await client.restart();
    }
    return client;
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.reader.feed(chunk));
    socket.on('close', () => {
      this.closedFlag = true;
      this.waiter?.reject(new Error(`connection closed; received: ${this.transcript.join('')}`));
      this.waiter = undefined;
      for (const listener of this.closeListeners.splice(0)) listener();
    });
    socket.on('error', () => {});
  }

  private async upgrade(options: tls.ConnectionOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ ...options, socket: plain });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.reader = new StreamReader((node) => this.received(node));
    this.attach(secure);
  }

  private received(node: XmlNode): void {
    this.transcript.push(node.xml);
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(node);
    } else {
      this.queue.push(node);
    }
  }

  private get tlsSocket(): tls.TLSSocket {
    if (!(this.socket instanceof tls.TLSSocket)) throw new Error('the connection is not encrypted');
    return this.socket;
  }

  /** 'TLSv1.3', 'TLSv1.2'; undefined on a plaintext connection. */
  get tlsProtocol(): string | undefined {
    return this.socket instanceof tls.TLSSocket ? (this.socket.getProtocol() ?? undefined) : undefined;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The mechanisms offered in the current features, in the server's order. */
  mechanisms(): string[] {
    const mechanisms = childOf(this.features, 'mechanisms', NS_SASL);
    return mechanisms ? mechanisms.children.filter((c) => c.name === 'mechanism').map((c) => c.text) : [];
  }

  /** The channel-binding types of XEP-0440's <sasl-channel-binding/>, undefined without one. */
  advertisedChannelBindings(): string[] | undefined {
    const list = childOf(this.features, 'sasl-channel-binding', NS_SASL_CB);
    return list?.children.filter((c) => c.name === 'channel-binding').map((c) => c.attrs.type ?? '');
  }

  /** The server's certificate, DER. */
  peerCertificate(): Buffer {
    return this.tlsSocket.getPeerCertificate().raw;
  }

  /** The channel-binding data of this connection, computed on the client's side. */
  channelBinding(type: ChannelBindingType): Buffer {
    const socket = this.tlsSocket;
    switch (type) {
      case 'tls-exporter':
        // RFC 9266 §2: 32 bytes, this label, an empty context.
        return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
      case 'tls-server-end-point':
        // RFC 5929 §4.1: hashed with the certificate's signature hash. The test server's certificate is
        // signed ecdsa-with-SHA256 (sasl-mechanisms.test.ts checks that), so SHA-256.
        return createHash('sha256').update(this.peerCertificate()).digest();
      case 'tls-unique': {
        // RFC 5929 §3.1: the first Finished message of the latest handshake; in a full handshake
        // (we never resume) that is the client's.
        const finished = socket.getFinished();
        if (!finished) throw new Error('no Finished message to bind to');
        return finished;
      }
    }
  }

  send(xml: string): void {
    this.socket.write(xml);
  }

  /** The next element (or stream header, or '</stream:stream>' as a node named '/stream:stream'). */
  next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<XmlNode> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedFlag) {
      return Promise.reject(new Error(`connection closed; received: ${this.transcript.join('')}`));
    }
    if (this.waiter) throw new Error('next() while another next() is waiting');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`nothing more within ${timeoutMs} ms; received: ${this.transcript.join('')}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (node) => {
          clearTimeout(timer);
          resolve(node);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** The next element, which must match `pattern` (tested against its source). */
  async expect(pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<XmlNode> {
    const node = await this.next(timeoutMs);
    if (!pattern.test(node.xml)) throw new Error(`expected ${pattern}, received ${node.xml}`);
    return node;
  }

  /** Opens a stream (at the start, after TLS, after SASL) and reads its header and features. */
  async restart(): Promise<XmlNode> {
    this.send(streamHeader(this.domain));
    const header = await this.next();
    if (header.name !== 'stream:stream' || header.attrs['xmlns:stream'] !== NS_STREAM) {
      throw new Error(`expected a stream header, received ${header.xml}`);
    }
    if (header.attrs.version !== '1.0' || header.attrs.from !== this.domain || !header.attrs.id) {
      throw new Error(`unexpected stream header ${header.xml}`);
    }
    const features = await this.next();
    if (features.name !== 'stream:features') throw new Error(`expected features, received ${features.xml}`);
    this.features = features;
    return header;
  }

  /** One SASL exchange; resolves with the outcome, throws when the server misbehaves. */
  async authenticate(options: AuthOptions): Promise<AuthOutcome> {
    const { mechanism } = options;
    const withInitial = options.initialResponse ?? true;
    if (mechanism === 'PLAIN') {
      const message = Buffer.from(`${options.authzid ?? ''}\0${options.username}\0${options.password}`);
      const reply = await this.startSasl(mechanism, message, withInitial);
      if (reply.name === 'success' && reply.text !== '')
        throw new Error(`PLAIN success with data: ${reply.xml}`);
      return this.outcome(reply, undefined);
    }

    const plus = mechanism.endsWith('-PLUS');
    const type =
      options.channelBinding ?? (this.tlsProtocol === 'TLSv1.3' ? 'tls-exporter' : 'tls-server-end-point');
    const gs2Flag = options.gs2Flag ?? (plus ? `p=${type}` : 'n');
    const flagType = gs2Flag.startsWith('p=') ? gs2Flag.slice(2) : undefined;
    const channelBindingData =
      options.channelBindingData ??
      (flagType && CHANNEL_BINDING_TYPES.has(flagType)
        ? this.channelBinding(flagType as ChannelBindingType)
        : undefined);
    const scram = new ScramClient({
      hash: SCRAM_HASH[mechanism],
      username: options.username,
      password: options.password,
      authzid: options.authzid,
      gs2Flag,
      channelBindingData,
    });

    const challenge = await this.startSasl(mechanism, Buffer.from(scram.clientFirst), withInitial);
    if (challenge.name !== 'challenge') return this.outcome(challenge, undefined);
    const serverFirst = Buffer.from(challenge.text, 'base64').toString('utf8');
    const clientFinal = await scram.clientFinal(serverFirst);
    this.send(`<response xmlns='${NS_SASL}'>${Buffer.from(clientFinal).toString('base64')}</response>`);
    const reply = await this.nextSasl();
    if (reply.name === 'success') {
      // RFC 6120 §6.3.10: the server-final-message travels as additional data with <success/>.
      const serverFinal = Buffer.from(reply.text, 'base64').toString('utf8');
      scram.verifyServerFinal(serverFinal);
    }
    return this.outcome(reply, serverFirst);
  }

  /** Sends <auth/>; without an initial response, answers the empty challenge with it. */
  private async startSasl(mechanism: string, initial: Buffer, withInitial: boolean): Promise<XmlNode> {
    if (withInitial) {
      // RFC 6120 §6.4.2: an empty initial response is a single '='.
      const text = initial.length === 0 ? '=' : initial.toString('base64');
      this.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${text}</auth>`);
      return this.nextSasl();
    }
    this.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'/>`);
    const prompt = await this.nextSasl();
    if (prompt.name !== 'challenge') return prompt;
    if (prompt.text !== '') throw new Error(`expected an empty challenge, received ${prompt.xml}`);
    this.send(`<response xmlns='${NS_SASL}'>${initial.toString('base64')}</response>`);
    return this.nextSasl();
  }

  private async nextSasl(): Promise<XmlNode> {
    const node = await this.next();
    if (node.attrs.xmlns !== NS_SASL || !['challenge', 'success', 'failure'].includes(node.name)) {
      throw new Error(`expected <challenge/>, <success/> or <failure/>, received ${node.xml}`);
    }
    return node;
  }

  private outcome(reply: XmlNode, serverFirst: string | undefined): AuthOutcome {
    const withFirst = serverFirst === undefined ? {} : { serverFirst };
    switch (reply.name) {
      case 'success':
        return {
          kind: 'success',
          additionalData: reply.text === '' ? undefined : Buffer.from(reply.text, 'base64').toString('utf8'),
          ...withFirst,
        };
      case 'failure': {
        const condition = reply.children.find((c) => c.name !== 'text');
        return {
          kind: 'failure',
          condition: condition?.name ?? '',
          text: childOf(reply, 'text')?.text,
          ...withFirst,
        };
      }
      default:
        throw new Error(`unexpected ${reply.xml}`);
    }
  }

  /** After a successful authentication: restarts the stream and binds a resource; returns the full JID. */
  async bind(resource?: string): Promise<string> {
    await this.restart();
    if (!childOf(this.features, 'bind', NS_BIND)) throw new Error(`no bind feature: ${this.features.xml}`);
    const requested = resource === undefined ? '' : `<resource>${escapeText(resource)}</resource>`;
    this.send(`<iq type='set' id='bind-1'><bind xmlns='${NS_BIND}'>${requested}</bind></iq>`);
    const reply = await this.next();
    const jid = childOf(reply, 'bind', NS_BIND) && childOf(childOf(reply, 'bind', NS_BIND)!, 'jid');
    if (reply.name !== 'iq' || reply.attrs.type !== 'result' || reply.attrs.id !== 'bind-1' || !jid) {
      throw new Error(`bind failed: ${reply.xml}`);
    }
    return jid.text;
  }

  /** Resolves once the server has closed the connection. */
  waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`still open after ${timeoutMs} ms; received: ${this.transcript.join('')}`)),
        timeoutMs,
      );
      this.closeListeners.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Opens, authenticates (which must succeed, server signature verified) and binds. */
export async function login(
  open: OpenOptions,
  auth: AuthOptions,
  resource?: string,
): Promise<{ client: StreamClient; jid: string; outcome: AuthOutcome }> {
  const client = await StreamClient.open(open);
  try {
    const outcome = await client.authenticate(auth);
    if (outcome.kind !== 'success') {
      throw new Error(`${auth.mechanism} failed: ${outcome.condition} (${outcome.text ?? 'no text'})`);
    }
    const jid = await client.bind(resource);
    return { client, jid, outcome };
  } catch (err) {
    client.close();
    throw err;
  }
}
