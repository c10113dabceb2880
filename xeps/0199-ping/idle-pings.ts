// XEP-0199: XMPP Ping — https://xmpp.org/extensions/xep-0199.html
// §4.1 server-to-client pings, to find connections that died without TCP noticing: a client
// session that has sent nothing for the interval is pinged, and closed with a
// connection-timeout stream error if it stays silent for the timeout. Any answer, result or
// error (§4.1: service-unavailable from a client without ping support), proves it alive.

import { performance } from 'node:perf_hooks';
import { StreamError } from '../../src/core/errors.js';
import type { PendingRequests } from '../../src/core/iq.js';
import type { ClientSession } from '../../src/core/session.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export interface IdlePingOptions {
  /** Silence after which a session is pinged. */
  intervalMs: number;
  /** How long a pinged session has to answer. */
  timeoutMs: number;
}

export interface IdlePingDeps {
  sessions: { all(): Iterable<ClientSession> };
  pending: PendingRequests;
}

/** How often idle sessions are looked for, as a fraction of the interval. */
const SWEEPS_PER_INTERVAL = 4;
const MIN_SWEEP_MS = 250;

export class IdlePinger {
  /** Sessions with a ping in flight: not pinged again (the timeout may exceed the interval). */
  private readonly pinged = new Set<ClientSession>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: IdlePingDeps,
    private readonly options: IdlePingOptions,
  ) {}

  start(): void {
    const period = Math.max(MIN_SWEEP_MS, Math.floor(this.options.intervalMs / SWEEPS_PER_INTERVAL));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.pinged.clear();
  }

  /** The session is gone: the answer to its ping, or the lack of one, no longer matters. */
  forget(session: ClientSession): void {
    this.pinged.delete(session);
  }

  private sweep(): void {
    const quietSince = performance.now() - this.options.intervalMs;
    for (const session of this.deps.sessions.all()) {
      // A hibernating session (XEP-0198) has no connection to test; its resumption timeout rules.
      if (!session.connected) continue;
      if (session.lastActivity <= quietSince && !this.pinged.has(session)) this.ping(session);
    }
  }

  private ping(session: ClientSession): void {
    const { timeoutMs } = this.options;
    this.pinged.add(session);
    const id = this.deps.pending.nextId();
    const sentAt = performance.now();
    this.deps.pending.wait(id, session.jid.full, timeoutMs).then(
      () => this.pinged.delete(session),
      () => {
        if (!this.pinged.delete(session)) return;
        // COMPAT: §6 warns of clients that never answer iqs they do not understand; input
        // since the ping shows their connection alive all the same.
        if (session.lastActivity > sentAt) return;
        // The connection already dropped and the session waits to be resumed: nothing to close.
        if (!session.connected) return;
        session.close(new StreamError('connection-timeout', `no answer to a ping in ${timeoutMs / 1000} s`));
      },
    );
    // Written on the session itself rather than routed to its JID: it is this connection whose
    // life is in question, whatever the routing rules (blocking, a newer session) would pick.
    session.send(
      x('iq', { type: 'get', id, from: session.host, to: session.jid.full }, x('ping', { xmlns: NS.PING })),
    );
  }
}
