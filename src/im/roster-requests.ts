// RFC 6121 §2: the roster get and set a client sends about its own account.
//
//   §2.1.3, §2.1.4, §2.2  get: the whole roster, with its version; the asking resource
//                         becomes interested and gets every later push
//   §2.6.2, §2.6.3        get with 'ver': an empty result when the client is current, or an
//                         empty result then one interim push per changed item
//   §2.1.5, §2.3, §2.4    set: add or update an item (name, groups); errors of §2.3.3
//   §2.5                  set with subscription='remove': delete the item, cancelling the
//                         subscriptions both ways
//   §2.1.5 security warning: only the account itself reads or changes its roster

import { StanzaError } from '../core/errors.js';
import type { IqRequest } from '../core/iq.js';
import type { ClientSession } from '../core/session.js';
import type { JID } from '../jid.js';
import type { Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { itemElement, parseRosterSet, type RosterTextLimits, rosterQuery } from './roster-xml.js';
import type { Rosters } from './rosters.js';
import type { RosterChange } from './store.js';
import type { Subscriptions } from './subscription-handler.js';

export class RosterRequests {
  constructor(
    private readonly rosters: Rosters,
    private readonly subscriptions: Subscriptions,
    private readonly limits: RosterTextLimits & { readonly maxItems: number },
  ) {}

  async get(req: IqRequest): Promise<Element | undefined> {
    const user = owner(req);
    if (req.payload.getChild('item', NS.ROSTER)) {
      throw new StanzaError('bad-request', 'a roster get carries no <item/> (RFC 6121 §2.1.3)');
    }
    const session = clientSession(req);
    // Pushes wait from now on, so that none is lost or overtakes the result.
    const gate = session && this.rosters.hold(session);
    let interim: RosterChange[] = [];
    let result: Element | undefined;
    try {
      const ver = req.payload.attrs.ver;
      const changes = ver ? await this.rosters.changesSince(user, ver) : undefined;
      if (changes) {
        interim = changes.changes;
      } else {
        const snapshot = await this.rosters.snapshot(user);
        result = rosterQuery(
          snapshot.ver,
          snapshot.items.map((item) => itemElement(item.contact, item)),
        );
      }
    } finally {
      if (session && gate) {
        // After the result: the router sends it once this handler's promise settles.
        setImmediate(() => this.rosters.release(session, gate, interim));
      }
    }
    return result;
  }

  async set(req: IqRequest): Promise<undefined> {
    const user = owner(req);
    const request = parseRosterSet(req.payload, user, this.limits);
    const { contact } = request;
    if (request.kind === 'remove') {
      const outcome = await this.rosters.update(user, contact, (relation) =>
        relation.item ? { item: undefined, pendingIn: undefined } : relation,
      );
      if (outcome.status !== 'updated' || !outcome.before.item) {
        throw new StanzaError('item-not-found', `${contact.bare} is not in the roster`);
      }
      this.rosters.announce(user, contact, outcome);
      await this.subscriptions.cancelAll(user, contact, outcome.before);
      return undefined;
    }
    const outcome = await this.rosters.update(
      user,
      contact,
      (relation) => ({
        item: {
          name: request.name,
          groups: request.groups,
          subscription: relation.item?.subscription ?? 'none',
          ask: relation.item?.ask ?? false,
          approved: relation.item?.approved ?? false,
        },
        pendingIn: relation.pendingIn,
      }),
      { touch: true },
    );
    if (outcome.status !== 'updated') {
      throw new StanzaError(
        'policy-violation',
        `the roster is full: it holds at most ${this.limits.maxItems} contacts`,
      );
    }
    this.rosters.announce(user, contact, outcome);
    return undefined;
  }
}

/** §2.1.5 security warning, §2.3.3: a roster belongs to its account alone. */
function owner(req: IqRequest): JID {
  if (req.from.bare !== req.to.bare) {
    throw new StanzaError('forbidden', 'a roster can only be read or changed by its own account');
  }
  return req.to.bareJID();
}

function clientSession(req: IqRequest): ClientSession | undefined {
  const origin = req.origin;
  return origin?.kind === 'c2s' ? (origin as ClientSession) : undefined;
}
