// XEP-0280: Message Carbons — https://xmpp.org/extensions/xep-0280.html
// with XEP-0297 (Stanza Forwarding) for the copies and XEP-0334 (Message Processing Hints) <no-copy/>.
//
// §3 the disco features, urn:xmpp:carbons:rules:0 included: the rules of §6.1 are followed as
// written (eligibility.ts). §4, §5, §10.1 enable and disable, per bound session
// (enabled-sessions.ts). §7 received copies: after the router delivered a message to some of
// an account's resources ('message/delivered'), every other enabled resource gets a copy of
// the message as delivered (decorations such as a XEP-0359 stanza-id included). §8 sent copies:
// a message a client sends goes, before routing and after the modules that may refuse it, in
// copies to the account's other enabled resources, with its id in the account's archive
// (XEP-0313 §3.5) when the archive module is loaded. §9 <private/> and <no-copy/> stop copies;
// <private/> stays in the message (the requirement to strip it was lifted). §10.3 copies go
// straight to the sessions, never through the router, so they neither bounce nor get copied.
// §11 copies only ever come from the server: a message that carries one as a direct child
// from anyone else is refused, which also keeps clients open to CVE-2017-5589 safe.

import { errorReply, StanzaError } from '../../src/core/errors.js';
import type { StanzaEvent } from '../../src/core/hooks.js';
import type { IqRequest } from '../../src/core/iq.js';
import { defineModule, type ModuleContext } from '../../src/core/module.js';
import type { ClientSession, Session } from '../../src/core/session.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { carbonCopy } from './copy.js';
import { type CarbonDirection, carbonVerdict, carriesCarbon } from './eligibility.js';
import { EnabledSessions } from './enabled-sessions.js';
import { RecentMessages } from './recent-messages.js';

/** Ahead of blocking (500) and of everything that delivers or stores: a forged copy goes nowhere. */
const FORGERY_PRIORITY = 900;
/** After every module that may refuse or decorate a client's message. */
const SENT_COPY_PRIORITY = -100;
/** Copied messages an error reply may still answer, and for how long (§6.1, errors). */
const REMEMBERED_MESSAGES = 10_000;
const ANSWER_WINDOW_MS = 5 * 60_000;

export default defineModule({
  name: 'carbons',
  implements: [
    {
      spec: { xep: 280 },
      title: 'Message Carbons',
      version: '1.0.1',
      status: 'complete',
      note:
        'the §6.1 rules, advertised as urn:xmpp:carbons:rules:0; XEP-0334 <no-copy/> stops copies as ' +
        '<private/> does; errors are copied when they answer a copied message by id within 5 minutes; ' +
        'private messages to MUC occupants go to every enabled resource (no multi-session nick ' +
        'tracking); messages carrying a carbon copy from anyone but the server are refused',
      since: '0.1.0',
      tests: ['test/integration/carbons.test.ts', 'test/unit/carbons.test.ts'],
    },
  ],
  features: [NS.CARBONS, NS.CARBONS_RULES],
  setup(ctx) {
    const enabled = new EnabledSessions();
    const recent = new RecentMessages(REMEMBERED_MESSAGES, ANSWER_WINDOW_MS);

    for (const scope of ['account', 'host'] as const) {
      ctx.handleIq('set', NS.CARBONS, 'enable', (req) => enabled.enable(requester(req, scope)), scope);
      ctx.handleIq('set', NS.CARBONS, 'disable', (req) => enabled.disable(requester(req, scope)), scope);
    }
    ctx.hook('session/closed', ({ session }) => enabled.disable(session));

    ctx.hook('pre-route', (event) => refuseForgedFromClient(ctx, event), FORGERY_PRIORITY);
    ctx.hook('message/bare', (event) => refuseForgedFromPeer(ctx, event), FORGERY_PRIORITY);
    ctx.hook('message/full', (event) => refuseForgedFromPeer(ctx, event), FORGERY_PRIORITY);

    // §8: what a client sends. Messages to the account itself are copied once delivered (below).
    ctx.hook(
      'pre-route',
      (event) => {
        const { stanza, origin } = event;
        if (stanza.name !== 'message' || origin?.kind !== 'c2s') return;
        const account = event.from.bare;
        const peer = event.to.bare;
        if (peer === account) return;
        const targets = enabled.of(account);
        if (!targets || !hasTarget(targets, NO_SESSIONS, origin)) return;
        // XEP-0313 §3.5: archived as outgoing already (the archive runs before this hook).
        const archivedId = ctx.server.services.get('archive')?.archivedId(stanza, event.from.bareJID());
        copy(stanza, 'sent', account, peer, targets, NO_SESSIONS, origin, archivedId);
      },
      SENT_COPY_PRIORITY,
    );

    // §7: what an account's resources received, copied to those that did not.
    ctx.hook('message/delivered', (event) => {
      // Delivered once already before the session it went to ended: copies were made then.
      if (event.redelivery) return;
      const account = event.to.bare;
      const targets = enabled.of(account);
      if (!targets || !hasTarget(targets, event.sessions, event.origin)) return;
      const peer = event.from.bare;
      // A message between two resources of the account is, to the others, one the account sent.
      const direction = peer === account ? 'sent' : 'received';
      copy(event.stanza, direction, account, peer, targets, event.sessions, event.origin);
    });

    function copy(
      stanza: Element,
      direction: CarbonDirection,
      account: string,
      peer: string,
      targets: ReadonlySet<ClientSession>,
      delivered: readonly ClientSession[],
      origin: Session | undefined,
      archivedId?: string,
    ): void {
      const id = stanza.attrs.id;
      const isError = stanza.attrs.type === 'error';
      const verdict = carbonVerdict(stanza, direction, isError && recent.answers(account, peer, id));
      if (!verdict.copy) return;
      if (!isError && id !== undefined && peer !== account) recent.remember(account, peer, id);
      for (const session of targets) {
        if (session === origin || delivered.includes(session)) continue;
        session.send(carbonCopy(direction, stanza, account, session.jid.full, archivedId));
      }
    }
  },
});

const NO_SESSIONS: readonly ClientSession[] = [];

function hasTarget(
  targets: ReadonlySet<ClientSession>,
  delivered: readonly ClientSession[],
  origin: Session | undefined,
): boolean {
  for (const session of targets) if (session !== origin && !delivered.includes(session)) return true;
  return false;
}

/**
 * The session that asked to enable or disable its carbons. Only a client of this server may,
 * and only for itself: to its own account (or without `to`), or to its server (§4.1, §5.1:
 * not-allowed otherwise).
 */
function requester(req: IqRequest, scope: 'account' | 'host'): ClientSession {
  const origin = req.origin;
  if (origin?.kind === 'c2s') {
    const session = origin as ClientSession;
    const own = scope === 'account' ? session.jid.bare === req.to.bare : session.jid.domain === req.to.domain;
    if (own) return session;
  }
  throw new StanzaError('not-allowed', 'carbons are enabled by each client for itself, at its own server');
}

/** §11: a client never sends a carbon copy; only the server makes them. */
function refuseForgedFromClient(ctx: ModuleContext, event: StanzaEvent): true | undefined {
  const { stanza } = event;
  if (stanza.name !== 'message' || event.origin?.kind !== 'c2s' || !carriesCarbon(stanza)) return;
  return refuse(ctx, event);
}

/**
 * §11: nor does another server or a component. The server's own stanzas (no origin) pass, and
 * a client's were looked at before routing.
 */
function refuseForgedFromPeer(ctx: ModuleContext, event: StanzaEvent): true | undefined {
  const origin = event.origin;
  if (origin === undefined || origin.kind === 'c2s' || !carriesCarbon(event.stanza)) return;
  return refuse(ctx, event);
}

function refuse(ctx: ModuleContext, event: StanzaEvent): true {
  ctx.log.info('message carrying a carbon copy refused', { from: event.from.full, to: event.to.full });
  const reply = errorReply(
    event.stanza,
    new StanzaError('not-acceptable', 'carbon copies come from the server only'),
  );
  if (reply) {
    // A client's message without `to` was for its own account (RFC 6120 §10.3).
    reply.attrs.from ??= event.to.full;
    ctx.server.router.send(reply);
  }
  return true;
}
