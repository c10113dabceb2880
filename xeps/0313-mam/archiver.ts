// Archiving messages as they pass through the server: XEP-0313 §3 (user archives, the
// <stanza-id/> that tells the recipient where a message is stored, §3.5) and XEP-0359 §4.
//
// A message between two local accounts is archived twice, once in each account's archive: as
// outgoing when the sender's client hands it over ('pre-route'), as incoming on its way to the
// recipient ('message/bare', 'message/full'), where the recipient's <stanza-id/> is added.
// The sender's id is never added to what the recipient gets (§3.5: only the archive's owner
// may see it). A message an account sends itself is archived once, and gets that id.
//
// XEP-0359 §4 rule 2: any <stanza-id/> claiming to be by the account, put there by whoever sent
// the message, is removed, whether or not the message is archived.

import type { StanzaEvent } from '../../src/core/hooks.js';
import type { RosterService } from '../../src/im/roster-service.js';
import type { JID } from '../../src/jid.js';
import { tryParseJID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import { type Element, x } from '../../src/xml/element.js';
import { escapeAttr } from '../../src/xml/escape.js';
import { NS } from '../../src/xml/ns.js';
import { type DefaultMode, isArchivable, shouldArchive } from './policy.js';
import type { MamStore } from './store.js';

/** How a message passing through was handled for one archive. */
interface Decision {
  account: string;
  /** The id it was archived under; undefined when the preferences kept it out. */
  id: string | undefined;
  /** Whether the stanza now carries the <stanza-id/> for it. */
  marked: boolean;
}

/** The stanza as the archive keeps it: standing alone, in the client namespace a result forwards it in. */
export function storedForm(message: Element): string {
  let s = `<${message.name} xmlns="${NS.CLIENT}"`;
  const attrs = message.attrs;
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined || key === 'xmlns') continue;
    s += ` ${key}="${escapeAttr(value)}"`;
  }
  s += '>';
  // Text beside a stanza's children is whitespace between them; it means nothing.
  for (const child of message.children) if (typeof child !== 'string') s += child.toString();
  return `${s}</${message.name}>`;
}

/** Whether a <stanza-id/> claims to be by `account` (compared as prepared JIDs). */
function claimsToBeBy(el: Element, account: string): boolean {
  const by = el.attrs.by;
  if (by === undefined) return false;
  return by === account || tryParseJID(by)?.full === account;
}

/** Removes every <stanza-id/> child that claims to be by `account` (XEP-0359 §4 rule 2). */
export function stripStanzaIds(message: Element, account: string): void {
  // Collected first: removing while iterating the children would skip the next one.
  const found: Element[] = [];
  for (const child of message.children) {
    if (typeof child === 'string' || child.localName !== 'stanza-id') continue;
    if (child.getNS() === NS.SID && claimsToBeBy(child, account)) found.push(child);
  }
  for (const el of found) message.remove(el);
}

export class Archiver {
  /** What was decided for each stanza on its way through, per archive (at most two). */
  private readonly decisions = new WeakMap<Element, Decision[]>();

  constructor(
    private readonly store: MamStore,
    private readonly roster: () => RosterService | undefined,
    private readonly defaultMode: DefaultMode,
    private readonly log: Logger,
  ) {}

  /** The id a stanza got in an account's archive on its way through, if it was archived there. */
  archivedId(stanza: Element, account: JID): string | undefined {
    return this.decisionFor(stanza, account.bare)?.id;
  }

  /** 'pre-route': a message a local client sends, archived as outgoing for its account. */
  readonly outgoing = (event: StanzaEvent): undefined | Promise<undefined> => {
    const { stanza } = event;
    if (stanza.name !== 'message' || event.origin?.kind !== 'c2s') return undefined;
    const account = event.from.bareJID();
    stripStanzaIds(stanza, account.bare);
    if (!isArchivable(stanza)) return undefined;
    return this.archive(stanza, account, event.to, true).then(() => undefined);
  };

  /** 'message/bare', 'message/full': a message for a local account, archived as incoming. */
  readonly incoming = (event: StanzaEvent): undefined | Promise<undefined> => {
    // Routed again after its session went away unacknowledged: archived and marked already.
    if (event.redelivery) return undefined;
    const { stanza } = event;
    const account = event.to.bareJID();
    const prior = this.decisionFor(stanza, account.bare);
    if (prior) {
      // Seen already: on its way from a full JID to the bare one, or sent by the account to
      // itself and archived as outgoing, in which case the recipient learns the id now.
      if (prior.id !== undefined && !prior.marked) this.mark(stanza, account, prior);
      return undefined;
    }
    stripStanzaIds(stanza, account.bare);
    if (!isArchivable(stanza)) return undefined;
    return this.archive(stanza, account, event.from, false).then((decision) => {
      if (decision?.id !== undefined) this.mark(stanza, account, decision);
      return undefined;
    });
  };

  /**
   * Archives the message unless the account's preferences keep it out. Never rejects: a
   * failure is logged and the message goes on unarchived rather than not at all.
   */
  private async archive(
    stanza: Element,
    account: JID,
    contact: JID,
    outgoing: boolean,
  ): Promise<Decision | undefined> {
    try {
      const rule = await this.store.ruleFor(account, contact);
      const wanted = await shouldArchive(rule.default ?? this.defaultMode, rule.listing, () =>
        this.inRoster(account, contact),
      );
      const id = wanted
        ? await this.store.append(account, { with: contact, outgoing, stanza: storedForm(stanza) })
        : undefined;
      const decision: Decision = { account: account.bare, id, marked: false };
      const list = this.decisions.get(stanza);
      if (list) list.push(decision);
      else this.decisions.set(stanza, [decision]);
      return decision;
    } catch (error) {
      this.log.error('archiving a message failed', { account: account.bare, error });
      return undefined;
    }
  }

  private async inRoster(account: JID, contact: JID): Promise<boolean> {
    const roster = this.roster();
    // XEP-0441 §2.3.1: the contact's bare JID in the user's roster; with no roster, nobody is.
    return roster !== undefined && (await roster.getItem(account, contact.bareJID())) !== undefined;
  }

  private mark(stanza: Element, account: JID, decision: Decision): void {
    stanza.append(x('stanza-id', { xmlns: NS.SID, by: account.bare, id: decision.id }));
    decision.marked = true;
  }

  private decisionFor(stanza: Element, account: string): Decision | undefined {
    const list = this.decisions.get(stanza);
    if (!list) return undefined;
    for (const d of list) if (d.account === account) return d;
    return undefined;
  }
}
