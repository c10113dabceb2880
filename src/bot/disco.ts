// XEP-0030 Service Discovery for the assistant: its JID is a client of type 'bot' (the XMPP
// registrar's identity for automated clients) with the features it uses; its component domain
// lists it as an item; the XEP-0050 node lists the commands a person may run.

import { type Element, x } from '../xml/element.js';
import { COMMANDS } from './commands.js';
import { BOT_NS, NS } from './ns.js';

export const ASSISTANT_FEATURES: readonly string[] = [
  NS.DISCO_INFO,
  NS.DISCO_ITEMS,
  BOT_NS.COMMANDS,
  NS.CHATSTATES,
  NS.RECEIPTS,
  BOT_NS.CORRECT,
  BOT_NS.REPLY,
  BOT_NS.STYLING,
  NS.PING,
];

export interface DiscoContext {
  /** The assistant's bare JID. */
  readonly jid: string;
  /** The component domain. */
  readonly domain: string;
  /** Shown by clients: 'Warbler assistant'. */
  readonly name: string;
}

/** The disco#info answer for `to` and `node`, or undefined for item-not-found. */
export function discoInfo(ctx: DiscoContext, to: string, node: string | undefined): Element | undefined {
  const query = x('query', { xmlns: NS.DISCO_INFO, node });
  if (to === ctx.domain) {
    if (node !== undefined) return undefined;
    query.append(x('identity', { category: 'component', type: 'generic', name: ctx.name }));
    query.append(x('feature', { var: NS.DISCO_INFO }));
    query.append(x('feature', { var: NS.DISCO_ITEMS }));
    query.append(x('feature', { var: NS.PING }));
    return query;
  }
  if (node === undefined) {
    query.append(x('identity', { category: 'client', type: 'bot', name: ctx.name }));
    for (const feature of ASSISTANT_FEATURES) query.append(x('feature', { var: feature }));
    return query;
  }
  if (node === BOT_NS.COMMANDS) {
    query.append(x('identity', { category: 'automation', type: 'command-list', name: 'Commands' }));
    return query;
  }
  const command = COMMANDS.find((c) => c.name === node);
  if (command === undefined) return undefined;
  query.append(x('identity', { category: 'automation', type: 'command-node', name: command.summary }));
  query.append(x('feature', { var: BOT_NS.COMMANDS }));
  query.append(x('feature', { var: NS.DATA_FORMS }));
  return query;
}

/** The disco#items answer, or undefined for item-not-found. `commands` lists the command nodes. */
export function discoItems(
  ctx: DiscoContext,
  to: string,
  node: string | undefined,
  commands: boolean,
): Element | undefined {
  const query = x('query', { xmlns: NS.DISCO_ITEMS, node });
  if (to === ctx.domain) {
    if (node !== undefined) return undefined;
    query.append(x('item', { jid: ctx.jid, name: ctx.name }));
    return query;
  }
  if (node === undefined) return query;
  if (node !== BOT_NS.COMMANDS) return undefined;
  if (commands)
    for (const c of COMMANDS) query.append(x('item', { jid: ctx.jid, node: c.name, name: c.summary }));
  return query;
}
