// XEP-0077: In-Band Registration — https://xmpp.org/extensions/xep-0077.html
// Before authentication (only when the operator turns it on): §3.1 the registration fields
// and account creation, §3.1.1 registration with a server (here: at most one account per IP
// address per interval), §8 the stream feature. Refused when off with service-unavailable,
// as §3.1 asks of a host without in-band registration.
// After authentication (always): §3.1 the <registered/> answer, §3.2 account removal (the
// result, then the <not-authorized/> stream error that ends every session of the account),
// §3.3 password change (never to an empty password). §10: the disco feature.
// Errors to a set never echo it: it may carry a password. Data forms (§4, optional) are not
// offered: the fixed username and password fields are all this server asks for.

import { bool, type ConfigOf, int, section } from '../../src/config/schema.js';
import { AccountError } from '../../src/core/accounts.js';
import { StanzaError } from '../../src/core/errors.js';
import { type IqRequest, iqResult } from '../../src/core/iq.js';
import { defineModule } from '../../src/core/module.js';
import type { Session } from '../../src/core/session.js';
import type { FeatureContext, PreAuthContext } from '../../src/core/stream-features.js';
import { type JID, JidError, jid, parseJID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { passwordProblem, readRegisterSet } from './request.js';
import { RegistrationThrottle } from './throttle.js';

const configSection = section({
  doc:
    'XEP-0077 in-band registration. Changing the password and deleting the account from a ' +
    'logged-in client are always possible; creating accounts from clients only when allowed here.',
  fields: {
    allow_registration: bool({
      default: false,
      doc: 'Let anyone create an account from a client, over an encrypted connection (open registration: expect spammers).',
    }),
    registration_throttle: int({
      default: 600,
      min: 0,
      max: 604800,
      unit: 'seconds',
      doc: 'Time that must pass between two accounts registered from the same IP address (0: no limit).',
    }),
    min_password_length: int({
      default: 8,
      min: 1,
      max: 1024,
      unit: 'characters',
      doc: 'Shortest password accepted for a new account or a password change.',
    }),
  },
});

/** A removal waiting for its account to be deleted, to be answered before the stream closes. */
interface PendingRemoval {
  request: IqRequest;
  session: Session;
}

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'register',
  implements: [
    {
      spec: { xep: 77 },
      title: 'In-Band Registration',
      version: '2.4',
      status: 'complete',
      note: 'off by default; password change and account removal always on; no data forms (optional)',
      since: '0.1.0',
      tests: ['test/integration/register.test.ts', 'xeps/0077-register/register.test.ts'],
    },
  ],
  features: [NS.REGISTER],
  configSection,
  setup(ctx) {
    const { accounts } = ctx.server;
    const { allow_registration: open, min_password_length: minPasswordLength } = ctx.config;
    const throttle = new RegistrationThrottle(ctx.config.registration_throttle * 1000);
    const removals = new Map<string, PendingRemoval[]>();

    if (open) {
      ctx.addStreamFeature(
        (stream) => (advertised(stream) ? x('register', { xmlns: NS.REGISTER_FEATURE }) : undefined),
        'pre-auth',
      );
    }

    // ---- before authentication (the stream hands these over only once it is encrypted,
    // unless the operator made encryption optional) ----

    ctx.handlePreAuthIq(NS.REGISTER, 'query', (connection, iq, query) => {
      if (iq.attrs.type === 'get') {
        if (!open) throw registrationOff();
        return registrationForm(connection.host);
      }
      return withoutEcho(iq, query, () => register(connection, query));
    });

    async function register(connection: PreAuthContext, query: Element): Promise<undefined> {
      if (!open) throw registrationOff();
      const request = readRegisterSet(query);
      // §3.2's table: an entity that has not logged in is registered with nothing to remove.
      if (request.kind === 'remove')
        throw new StanzaError('unexpected-request', 'log in to remove an account');
      const { username, password } = request;
      if (!username || !password)
        throw new StanzaError('not-acceptable', 'a username and a password are required');
      let account: JID;
      try {
        account = jid(username, connection.host);
      } catch (err) {
        if (!(err instanceof JidError)) throw err;
        throw new StanzaError('not-acceptable', `not a valid username: ${err.reason}`);
      }
      const problem = passwordProblem(password, minPasswordLength);
      if (problem !== undefined) throw new StanzaError('not-acceptable', problem);
      const address = connection.remoteAddress;
      const claim = throttle.claim(address);
      if (claim === undefined) {
        throw new StanzaError(
          'resource-constraint',
          'an account was registered from your address recently; try later',
        );
      }
      try {
        await accounts.create(account, password);
      } catch (err) {
        throttle.release(address, claim);
        throw accountFailure(err);
      }
      ctx.log.info('account registered in-band', { account: account.bare, ip: address });
      return undefined;
    }

    // ---- after authentication: requests to the server, or without `to` ----

    ctx.handleIq('get', NS.REGISTER, 'query', (request) => {
      const account = requesterAccount(request);
      return x(
        'query',
        { xmlns: NS.REGISTER },
        x(
          'instructions',
          null,
          `You are registered as ${account.bare}. Send a new password to change it, or <remove/> to delete the account.`,
        ),
        x('registered'),
        x('username', null, account.local),
      );
    });

    ctx.handleIq('set', NS.REGISTER, 'query', (request) =>
      withoutEcho(request.stanza, request.payload, async () => {
        const account = requesterAccount(request);
        const wanted = readRegisterSet(request.payload);
        if (wanted.kind === 'remove') return removeAccount(request, account, request.origin!);
        return changePassword(account, wanted.username, wanted.password);
      }),
    );

    async function changePassword(
      account: JID,
      username: string | undefined,
      password: string | undefined,
    ): Promise<undefined> {
      if (username !== undefined && !namesAccount(username, account)) {
        throw new StanzaError('forbidden', 'you may change only your own password');
      }
      // §3.3: an empty password never replaces the existing one.
      if (!password) throw new StanzaError('bad-request', 'send the new password');
      const problem = passwordProblem(password, minPasswordLength);
      if (problem !== undefined) throw new StanzaError('not-acceptable', problem);
      try {
        await accounts.setPassword(account, password);
      } catch (err) {
        throw accountFailure(err);
      }
      ctx.log.info('password changed in-band', { account: account.bare });
      return undefined;
    }

    /**
     * §3.2: the result must reach the client before its stream ends, and the account must be
     * gone before the result says so. The core ends the account's sessions on 'account/deleted',
     * after the deletion is committed; the hook below runs just before that and answers first.
     * The handler's own reply then finds no session and is dropped.
     */
    async function removeAccount(request: IqRequest, account: JID, session: Session): Promise<undefined> {
      const pending = { request, session };
      const list = removals.get(account.bare);
      if (list) list.push(pending);
      else removals.set(account.bare, [pending]);
      try {
        await accounts.delete(account);
      } catch (err) {
        throw accountFailure(err);
      } finally {
        const left = removals.get(account.bare)?.filter((p) => p !== pending);
        if (left && left.length > 0) removals.set(account.bare, left);
        else removals.delete(account.bare);
      }
      ctx.log.info('account removed in-band', { account: account.bare });
      return undefined;
    }

    ctx.hook(
      'account/deleted',
      ({ jid: account }) => {
        const list = removals.get(account.bare);
        if (!list) return;
        removals.delete(account.bare);
        for (const { request, session } of list) {
          const result = iqResult(request.stanza);
          result.attrs.from ??= request.to.full;
          session.send(result);
        }
      },
      100,
    );
  },
});

/**
 * Registration sends the password inside the stream, so it is advertised on encrypted streams
 * only. (The stream lets registration through before TLS when the operator made encryption
 * optional; a feature provider cannot tell that case apart, and stays on the safe side.)
 */
function advertised(stream: FeatureContext): boolean {
  return stream.secure;
}

function registrationForm(host: string): Element {
  return x(
    'query',
    { xmlns: NS.REGISTER },
    x('instructions', null, `Choose a username and a password for your account on ${host}.`),
    x('username'),
    x('password'),
  );
}

/**
 * The account the request acts on: the requester's own, asked of its own server by a client of
 * ours. Anyone else (another server's users, another host's) cannot register here in-band.
 */
function requesterAccount({ from, to, origin }: IqRequest): JID {
  if (origin?.kind !== 'c2s' || from.local === '' || from.domain !== to.domain) {
    throw new StanzaError('service-unavailable');
  }
  return from.bareJID();
}

/** Whether a <username/> names the account: its localpart, or (as some clients send) its bare JID. */
function namesAccount(username: string, account: JID): boolean {
  try {
    if (username.includes('@')) return parseJID(username).bare === account.bare;
    return jid(username, account.domain).bare === account.bare;
  } catch (err) {
    if (err instanceof JidError) return false;
    throw err;
  }
}

function accountFailure(err: unknown): StanzaError {
  if (!(err instanceof AccountError)) throw err;
  switch (err.code) {
    case 'ACCOUNT_EXISTS':
      return new StanzaError('conflict', 'that username is taken');
    case 'BAD_PASSWORD':
      return new StanzaError('not-acceptable', err.message);
    case 'NO_SUCH_ACCOUNT':
      return new StanzaError('registration-required', 'there is no such account');
    case 'BAD_JID':
    case 'UNKNOWN_HOST':
      return new StanzaError('not-acceptable', err.message);
  }
}

/**
 * Runs the handling of a set whose errors must not echo its payload: it may hold a password
 * (§3.3 asks this for password changes; a registration's password deserves the same).
 */
async function withoutEcho<T>(stanza: Element, payload: Element, handle: () => Promise<T>): Promise<T> {
  try {
    return await handle();
  } catch (err) {
    if (err instanceof StanzaError) stanza.remove(payload);
    throw err;
  }
}

function registrationOff(): StanzaError {
  return new StanzaError('service-unavailable', 'in-band registration is off on this server');
}
