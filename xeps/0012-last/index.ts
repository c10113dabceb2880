// XEP-0012: Last Activity — https://xmpp.org/extensions/xep-0012.html
//
// §3 offline user query: to an account's bare JID, the seconds since it last logged out and
// the status of its last unavailable presence, or 0 while a resource is connected; only for
// the account itself and those allowed to see its presence (a subscription 'from' or 'both'),
// everyone else gets forbidden. §4 online user query: a query to a full JID goes to the client,
// except from those not allowed to see the presence, who get forbidden instead (a presence
// leak otherwise, §9). §5 server query: the seconds since the server started. §6: the
// jabber:iq:last feature.

import { StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import type { IqRequest } from '../../src/core/iq.js';
import { defineModule, type ModuleContext } from '../../src/core/module.js';
import type { ClientSession } from '../../src/core/session.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { LAST_ACTIVITY_MIGRATIONS, type LastActivityStore, SqliteLastActivityStore } from './store.js';

export default defineModule({
  name: 'last_activity',
  implements: [
    {
      spec: { xep: 12 },
      title: 'Last Activity',
      version: '2.0',
      status: 'complete',
      note:
        'server uptime; last logout and status of accounts for their subscribers; queries to full JIDs ' +
        'from non-subscribers refused, others passed to the client',
      since: '0.1.0',
      tests: ['test/integration/last-activity.test.ts'],
    },
  ],
  features: [NS.LAST],
  storage: LAST_ACTIVITY_MIGRATIONS,
  setup(ctx) {
    const startedAt = Date.now();
    const store = new SqliteLastActivityStore(ctx.server.db);
    // The <status/> of each connected account's latest unavailable presence, until it logs out.
    const leavingStatus = new Map<string, string | undefined>();

    ctx.handleIq('get', NS.LAST, 'query', () => lastQuery(secondsSince(startedAt), undefined));
    ctx.handleIq('get', NS.LAST, 'query', (req) => accountActivity(ctx, store, req), 'account');

    ctx.hook('iq/full', (event) => refuseUnauthorizedQuery(ctx, event));

    ctx.hook('presence/broadcast', ({ stanza, from }) => {
      if (stanza.attrs.type === 'unavailable') leavingStatus.set(from.bare, stanza.getChildText('status'));
    });

    ctx.hook('session/closed', ({ session }) => recordLogout(ctx, store, leavingStatus, session));
  },
});

function lastQuery(seconds: number, status: string | undefined): Element {
  return x('query', { xmlns: NS.LAST, seconds }, status || undefined);
}

function secondsSince(ms: number): number {
  return Math.max(0, Math.floor((Date.now() - ms) / 1000));
}

/** Whether `requester` may learn about `account`'s presence: itself, or a subscriber. */
function maySeePresence(ctx: ModuleContext, requester: JID, account: JID): boolean | Promise<boolean> {
  if (requester.bare === account.bare) return true;
  // Without the roster module nobody is subscribed to anyone.
  const roster = ctx.server.services.get('roster');
  return roster ? roster.isSubscriber(account.bareJID(), requester.bareJID()) : false;
}

/** §3: on behalf of the account (its bare JID). */
async function accountActivity(
  ctx: ModuleContext,
  store: LastActivityStore,
  req: IqRequest,
): Promise<Element> {
  const account = req.to;
  if (!(await maySeePresence(ctx, req.from, account))) throw new StanzaError('forbidden');
  if (ctx.server.sessions.hasResources(account)) return lastQuery(0, undefined);
  const logout = await store.get(account);
  if (!logout) throw new StanzaError('item-not-found', 'no logout of this account has been recorded');
  return lastQuery(secondsSince(logout.at), logout.status);
}

/** §4: a query to a full JID reaches the client only from those who may see its presence. */
function refuseUnauthorizedQuery(
  ctx: ModuleContext,
  event: StanzaEvent,
): true | undefined | Promise<true | undefined> {
  const { stanza } = event;
  if (stanza.attrs.type !== 'get' || stanza.getChild('query', NS.LAST) === undefined) return undefined;
  const allowed = maySeePresence(ctx, event.from, event.to);
  const decide = (ok: boolean): true | undefined => {
    if (ok) return undefined;
    ctx.server.router.bounce(stanza, 'forbidden');
    return true;
  };
  return allowed instanceof Promise ? allowed.then(decide) : decide(allowed);
}

/** §3: the account's last resource is gone, so it has logged out now. */
function recordLogout(
  ctx: ModuleContext,
  store: LastActivityStore,
  leavingStatus: Map<string, string | undefined>,
  session: ClientSession,
): Promise<void> | undefined {
  const account = session.jid.bareJID();
  if (ctx.server.sessions.hasResources(account)) return undefined;
  const status = leavingStatus.get(account.bare);
  leavingStatus.delete(account.bare);
  return store.set(account, { at: Date.now(), status }).catch((err: unknown) => {
    ctx.log.error('could not record a logout', { user: account.bare, error: err });
  });
}
