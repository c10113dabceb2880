// XEP-0191: Blocking Command §3.3 — the block itself, in both directions, and §5's rule that
// a user's own resources never block each other. These handlers run for every routed stanza,
// so an account that blocks nothing costs one Set lookup (see cache.ts) and no allocation.
//
//   fromClient     (pre-route) a user's client sends to a JID the user blocks: not routed;
//                  the client gets <not-acceptable/> with <blocked xmlns='…:errors'/>.
//   toLocal        (message|presence|iq / bare|full) a stanza for a local user from a JID the
//                  user blocks: presence dropped without an error, messages and iq get/set
//                  answered service-unavailable (but groupchat and headline messages dropped),
//                  iq results and errors dropped — the user looks offline. And a stanza the
//                  server sends on a user's behalf (presence broadcast, probe, notification)
//                  to a JID that user blocks: dropped.
//   toRemote       (route/remote) the same for server-sent stanzas to remote JIDs.
//
// The user's own server (the account's domain JID) is never blocked, so that blocking one's
// own domain (every other user on it) still leaves the server's answers and pushes flowing.

import { errorReply, StanzaError } from '../../src/core/errors.js';
import type { HookResult, StanzaEvent } from '../../src/core/hooks.js';
import type { Router } from '../../src/core/router.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { Blocklist } from './blocklist.js';
import type { BlocklistCache } from './cache.js';

type Verdict = HookResult | Promise<HookResult>;

export class Enforcement {
  /** Stanzas this module sends past its own filter: unavailable presence to a newly blocked JID. */
  readonly exempt = new WeakSet<Element>();

  constructor(
    private readonly lists: BlocklistCache,
    private readonly router: Router,
  ) {}

  /** pre-route: what a user's client sends, before routing. */
  readonly fromClient = (event: StanzaEvent): Verdict => {
    const { from, to } = event;
    if (from.bare === to.bare) return undefined;
    const list = this.lists.get(from);
    if (list === undefined) return undefined;
    if (list instanceof Promise) return list.then((l) => this.refuseOutgoing(event, l));
    return this.refuseOutgoing(event, list);
  };

  /** Delivery to a local account, bare or full. */
  readonly toLocal = (event: StanzaEvent): Verdict => {
    const { from, to } = event;
    if (from.bare === to.bare) return undefined;
    const recipients = this.lists.get(to);
    // A client's own stanzas were judged in pre-route; only server-sent ones need a look here.
    const senders = event.origin === undefined ? this.lists.get(from) : undefined;
    if (recipients === undefined && senders === undefined) return undefined;
    if (recipients instanceof Promise || senders instanceof Promise) {
      return Promise.all([recipients, senders]).then(([r, s]) => this.judge(event, r, s));
    }
    return this.judge(event, recipients, senders);
  };

  /** Server-sent stanzas on their way to another domain. */
  readonly toRemote = (event: StanzaEvent): Verdict => {
    if (event.origin !== undefined) return undefined;
    const senders = this.lists.get(event.from);
    if (senders === undefined) return undefined;
    if (senders instanceof Promise) return senders.then((s) => this.judge(event, undefined, s));
    return this.judge(event, undefined, senders);
  };

  private judge(
    event: StanzaEvent,
    recipients: Blocklist | undefined,
    senders: Blocklist | undefined,
  ): HookResult {
    if (recipients?.blocks(event.from) && !isServerOf(event.from, event.to)) {
      this.refuseIncoming(event);
      return true;
    }
    if (senders?.blocks(event.to) && !isServerOf(event.to, event.from)) {
      // Errors still go out: they are the answers (service-unavailable) this module and the
      // router give on the user's behalf, and say nothing more than "offline".
      if (event.stanza.attrs.type !== 'error' && !this.exempt.has(event.stanza)) return true;
    }
    return undefined;
  }

  private refuseOutgoing(event: StanzaEvent, list: Blocklist | undefined): HookResult {
    if (list === undefined || !list.blocks(event.to) || isServerOf(event.to, event.from)) return undefined;
    // §3.3: every outbound stanza is refused; an error or an iq result cannot be answered and
    // is just not routed.
    const reply = errorReply(event.stanza, blockedError());
    if (reply) {
      reply.attrs.from ??= event.to.full;
      event.origin?.send(reply);
    }
    return true;
  }

  /** §3.3: the user must look offline to the blocked JID. */
  private refuseIncoming(event: StanzaEvent): void {
    const { stanza } = event;
    const type = stanza.attrs.type;
    switch (stanza.name) {
      case 'presence':
        return;
      case 'iq':
        if (type !== 'get' && type !== 'set') return;
        break;
      default:
        // Headlines are never answered with errors (RFC 6121 §8.5.2). A groupchat message
        // comes from a room occupant, and a room may take an error as a sign that the user is
        // gone and remove them (XEP-0045, "Ghost Users"): the block is of one occupant, not
        // of the room.
        if (type === 'headline' || type === 'groupchat') return;
    }
    const reply = errorReply(stanza, new StanzaError('service-unavailable'));
    if (reply) {
      reply.attrs.from ??= event.to.full;
      this.router.send(reply);
    }
  }
}

/** Whether `entity` is the domain JID of the server `account` lives on. */
function isServerOf(entity: JID, account: JID): boolean {
  return entity.full === account.domain;
}

/** §3.3 example "Error: JID is blocked": type cancel, with the application condition. */
function blockedError(): StanzaError {
  return new StanzaError('not-acceptable', undefined, {
    type: 'cancel',
    appCondition: x('blocked', { xmlns: NS.BLOCKING_ERRORS }),
  });
}
