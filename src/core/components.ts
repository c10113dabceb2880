// The components a server accepts (XEP-0114): which domains may connect, with which secret,
// and which of them are connected now. The streams (src/streams/component.ts) authenticate
// against this registry and attach themselves; the router reaches a component only through it.
//
// Every configured domain keeps its route while its component is away, so that stanzas for it
// are answered here (service-unavailable, type wait, as Prosody answers) rather than taken for
// a remote domain and sent to federation. Only its disco item comes and goes with the
// connection: the host lists what can answer now.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { Logger } from '../log.js';
import type { DiscoRegistry } from './disco.js';
import { errorReply, StanzaError } from './errors.js';
import type { StanzaEvent } from './hooks.js';
import type { Router } from './router.js';
import type { Session } from './session.js';

/** The connection serving a component domain, as the registry sees it. */
export interface ComponentSession extends Session {
  readonly kind: 'component';
  /** The domain it serves. */
  readonly domain: string;
}

interface ComponentEntry {
  readonly domain: string;
  readonly name: string;
  /** SHA-1 is keyed by the stream id, so the secret itself must stay; it is never logged. */
  readonly secret: string;
  session: ComponentSession | undefined;
  removeDiscoItem: (() => void) | undefined;
  removeRoute: () => void;
}

export type AttachResult = 'attached' | 'conflict';

/** XEP-0114 §3: lowercase hex SHA-1 of the stream id followed by the secret (UTF-8). */
export function componentHandshake(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret, 'utf8')
    .digest('hex');
}

/** Where a component's secret comes from: one of the three is set (the config check sees to it). */
export interface SecretSource {
  readonly secret_file: string | undefined;
  readonly secret_env: string;
  readonly secret: string;
}

/**
 * Reads the secret of [components."domain"]. Errors name the key and the file or variable,
 * never the secret.
 */
export function readComponentSecret(
  domain: string,
  source: SecretSource,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const key = `components."${domain}"`;
  if (source.secret_file !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.secret_file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError(
        'CONFIG_VALUE',
        `${key}.secret_file: cannot read ${source.secret_file} (${code}); create it or fix the path`,
        { key: `${key}.secret_file` },
      );
    }
    const secret = text.trim();
    if (secret === '')
      throw new ConfigError('CONFIG_VALUE', `${key}.secret_file: ${source.secret_file} is empty`, {
        key: `${key}.secret_file`,
      });
    return secret;
  }
  if (source.secret_env !== '') {
    const secret = env[source.secret_env];
    if (secret === undefined || secret === '')
      throw new ConfigError(
        'CONFIG_VALUE',
        `${key}.secret_env: the environment variable ${source.secret_env} is not set or empty`,
        { key: `${key}.secret_env` },
      );
    return secret;
  }
  return source.secret;
}

export class ComponentRegistry {
  private readonly entries = new Map<string, ComponentEntry>();

  constructor(
    private readonly router: Router,
    private readonly disco: DiscoRegistry,
    private readonly log: Logger,
  ) {}

  /** Allows a component to connect for `domain`; returns the function that forbids it again. */
  allow(domain: string, secret: string, name = ''): () => void {
    if (this.entries.has(domain)) throw new Error(`component ${domain} is already configured`);
    const entry: ComponentEntry = {
      domain,
      name,
      secret,
      session: undefined,
      removeDiscoItem: undefined,
      removeRoute: () => {},
    };
    entry.removeRoute = this.router.registerService(domain, (event) => this.deliver(entry, event));
    this.entries.set(domain, entry);
    return () => {
      if (this.entries.get(domain) !== entry) return;
      this.entries.delete(domain);
      entry.removeRoute();
      entry.removeDiscoItem?.();
      entry.session?.close();
    };
  }

  /** Whether a component may connect for this domain. */
  knows(domain: string): boolean {
    return this.entries.has(domain);
  }

  domains(): string[] {
    return [...this.entries.keys()];
  }

  /** Whether `digest` is the handshake of the domain's secret for this stream id (in constant time). */
  verify(domain: string, streamId: string, digest: string): boolean {
    const entry = this.entries.get(domain);
    if (!entry) return false;
    const expected = Buffer.from(componentHandshake(streamId, entry.secret), 'utf8');
    // Hex is case-insensitive; XEP-0114 asks for lower case, and some libraries send upper.
    const given = Buffer.from(digest.trim().toLowerCase(), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Makes `session` the one serving its domain. A second connection is refused while the first
   * is up (what Prosody does by default): a component that restarts is let in as soon as its
   * old connection is seen to be gone, and a stolen secret cannot silently take a domain over.
   */
  attach(session: ComponentSession): AttachResult {
    const entry = this.entries.get(session.domain);
    if (!entry) throw new Error(`component ${session.domain} is not configured`);
    if (entry.session !== undefined) return 'conflict';
    entry.session = session;
    entry.removeDiscoItem = this.disco.addItem(
      entry.name === '' ? { jid: entry.domain } : { jid: entry.domain, name: entry.name },
    );
    this.log.info('component connected', { domain: entry.domain, session: session.id });
    return 'attached';
  }

  /** The session is gone; its domain waits for the next connection. */
  detach(session: ComponentSession): void {
    const entry = this.entries.get(session.domain);
    if (!entry || entry.session !== session) return;
    entry.session = undefined;
    entry.removeDiscoItem?.();
    entry.removeDiscoItem = undefined;
    this.log.info('component disconnected', { domain: entry.domain, session: session.id });
  }

  /** The session serving a domain now, if any. */
  session(domain: string): ComponentSession | undefined {
    return this.entries.get(domain)?.session;
  }

  private deliver(entry: ComponentEntry, event: StanzaEvent): void {
    if (entry.session) {
      entry.session.send(event.stanza);
      return;
    }
    const { stanza } = event;
    // Presence to an absent component is dropped: a contact's every broadcast would otherwise
    // come back as an error.
    if (stanza.name === 'presence') return;
    const reply = errorReply(
      stanza,
      new StanzaError('service-unavailable', `${entry.domain} is not connected`, { type: 'wait' }),
    );
    if (reply) {
      reply.attrs.from ??= event.to.full;
      this.router.send(reply);
    }
  }
}
