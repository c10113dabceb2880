// Account management shared by the server (in-band registration, password change) and the
// CLI: passwords are prepared with SASLprep and turned into SCRAM credentials for every
// supported hash; the password itself is never stored or logged.

import { type JID, jid } from '../jid.js';
import { PrecisError, saslprep } from '../precis.js';
import type { ScramHash } from '../sasl/mechanism.js';
import { deriveScramCredential } from '../sasl/scram.js';
import type { AccountStore, CredentialSet } from '../storage/accounts.js';
import type { Hooks } from './hooks.js';

export const SCRAM_HASHES: readonly ScramHash[] = ['SHA-1', 'SHA-256'];

export type AccountErrorCode =
  | 'ACCOUNT_EXISTS'
  | 'NO_SUCH_ACCOUNT'
  | 'BAD_PASSWORD'
  | 'UNKNOWN_HOST'
  | 'BAD_JID';

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** SASLprep the password (RFC 4013, as RFC 5802 §2.2 asks) and derive credentials for every hash. */
export async function deriveCredentials(password: string, iterations: number): Promise<CredentialSet> {
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch (err) {
    const reason = err instanceof PrecisError ? err.reason : String(err);
    throw new AccountError('BAD_PASSWORD', `the password cannot be used: ${reason}`);
  }
  const entries = await Promise.all(
    SCRAM_HASHES.map(
      async (hash) => [hash, await deriveScramCredential(prepared, hash, iterations)] as const,
    ),
  );
  return new Map(entries);
}

export class AccountService {
  constructor(
    readonly store: AccountStore,
    private readonly hosts: ReadonlySet<string>,
    private readonly iterations: number,
    private readonly hooks?: Hooks,
  ) {}

  /** Parses and checks a bare account JID given by an operator or a client. */
  accountJid(input: string): JID {
    let parsed: JID;
    try {
      const at = input.indexOf('@');
      if (at <= 0) throw new Error('no localpart');
      const slash = input.indexOf('/', at);
      if (slash >= 0) throw new Error('an account JID has no resource');
      parsed = jid(input.slice(0, at), input.slice(at + 1));
    } catch (err) {
      throw new AccountError(
        'BAD_JID',
        `"${input}" is not an account JID (user@domain): ${(err as Error).message}`,
      );
    }
    if (!this.hosts.has(parsed.domain)) {
      throw new AccountError(
        'UNKNOWN_HOST',
        `${parsed.domain} is not served here (hosts: ${[...this.hosts].join(', ')}); add it to "hosts" in the config`,
      );
    }
    return parsed;
  }

  exists(account: JID): Promise<boolean> {
    return this.store.exists(account.domain, account.local);
  }

  async create(account: JID, password: string): Promise<void> {
    const credentials = await deriveCredentials(password, this.iterations);
    if (!(await this.store.create(account.domain, account.local, credentials))) {
      throw new AccountError('ACCOUNT_EXISTS', `${account.bare} already exists`);
    }
    await this.hooks?.notify('account/created', { jid: account });
  }

  /** Creates many accounts; existing ones are skipped. Returns how many were created. */
  async createMany(entries: ReadonlyArray<{ account: JID; password: string }>): Promise<number> {
    const prepared = await Promise.all(
      entries.map(async (e) => ({
        host: e.account.domain,
        username: e.account.local,
        credentials: await deriveCredentials(e.password, this.iterations),
      })),
    );
    return this.store.createMany(prepared);
  }

  async setPassword(account: JID, password: string): Promise<void> {
    const credentials = await deriveCredentials(password, this.iterations);
    if (!(await this.store.setCredentials(account.domain, account.local, credentials))) {
      throw new AccountError('NO_SUCH_ACCOUNT', `${account.bare} does not exist`);
    }
  }

  async delete(account: JID): Promise<void> {
    // Before the rows go (the store cascades every module's data with the account), so that the
    // handlers can still read them.
    if (this.hooks?.has('account/deleting') && (await this.store.exists(account.domain, account.local))) {
      await this.hooks.fire('account/deleting', { jid: account });
    }
    if (!(await this.store.delete(account.domain, account.local))) {
      throw new AccountError('NO_SUCH_ACCOUNT', `${account.bare} does not exist`);
    }
    await this.hooks?.notify('account/deleted', { jid: account });
  }
}
