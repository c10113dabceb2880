// XEP-0280 §4, §5, §10.1: which sessions enabled carbons. The state belongs to the bound session
// object, not to its connection: a session that hibernates (XEP-0198) keeps it and gets its
// copies queued; a new session for the same resource starts without it. Kept by account, so
// that a message for an account without carbons costs one map lookup.

import type { ClientSession } from '../../src/core/session.js';

export class EnabledSessions {
  private readonly byAccount = new Map<string, Set<ClientSession>>();

  /** §10.1: enabling twice is no error. */
  enable(session: ClientSession): void {
    const account = session.jid.bare;
    let sessions = this.byAccount.get(account);
    if (!sessions) {
      sessions = new Set();
      this.byAccount.set(account, sessions);
    }
    sessions.add(session);
  }

  /** §10.1: disabling twice, or without enabling, is no error. Also for a session that ended. */
  disable(session: ClientSession): void {
    const account = session.jid.bare;
    const sessions = this.byAccount.get(account);
    if (!sessions?.delete(session)) return;
    if (sessions.size === 0) this.byAccount.delete(account);
  }

  isEnabled(session: ClientSession): boolean {
    return this.byAccount.get(session.jid.bare)?.has(session) ?? false;
  }

  /** The account's sessions with carbons enabled; undefined when there are none. */
  of(account: string): ReadonlySet<ClientSession> | undefined {
    return this.byAccount.get(account);
  }
}
