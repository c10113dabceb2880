// XEP-0030: Service Discovery — https://xmpp.org/extensions/xep-0030.html
// §3 disco#info of the server and of accounts; §4 disco#items of the server (the services
// it hosts) and of accounts (their PEP nodes). Identities, features and account nodes come
// from the modules that implement them (see DiscoRegistry and account-nodes.ts); this module
// only answers.

import { StanzaError } from '../../src/core/errors.js';
import type { IqRequest } from '../../src/core/iq.js';
import type { ServerContext } from '../../src/core/module.js';
import { defineModule } from '../../src/core/module.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { AccountDisco } from './account-nodes.js';

export default defineModule({
  name: 'disco',
  implements: [
    {
      spec: { xep: 30 },
      title: 'Service Discovery',
      version: '2.5.0',
      status: 'complete',
      note: 'disco#info of the server and of accounts, disco#items of the server',
      since: '0.1.0',
      tests: ['test/integration/disco.test.ts'],
    },
  ],
  features: [NS.DISCO_INFO, NS.DISCO_ITEMS],
  identities: [{ category: 'server', type: 'im', name: 'Warbler' }],
  setup(ctx) {
    const server = ctx.server;
    ctx.handleIq('get', NS.DISCO_INFO, 'query', (req) => serverInfo(server, req));
    ctx.handleIq('get', NS.DISCO_ITEMS, 'query', (req) => serverItems(server, req));
    // Identities, items and nodes of accounts come from other modules (PEP) through this.
    const nodes = new AccountDisco();
    ctx.provide('accountDisco', nodes);
    ctx.handleIq('get', NS.DISCO_INFO, 'query', (req) => accountInfo(server, nodes, req), 'account');
    ctx.handleIq('get', NS.DISCO_ITEMS, 'query', (req) => accountItems(server, nodes, req), 'account');
  },
});

function query(ns: string, node: string | undefined, items: Element[] = []): Element {
  return x('query', { xmlns: ns, node }, items);
}

function rejectUnknownNode(req: IqRequest): string | undefined {
  const node = req.payload.attrs.node;
  // The server has no nodes; XEP-0030 §3.2 / §4.2: an unknown node is item-not-found.
  if (node !== undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
  return node;
}

/** XEP-0115 §6.2: '<caps node>#<current ver>' names the node-less answer, which it repeats. */
function isCapsNode(server: ServerContext, host: string, node: string): boolean {
  const caps = server.services.get('caps');
  if (caps === undefined || !node.startsWith(caps.node)) return false;
  return node === `${caps.node}#${caps.ver(host)}`;
}

function serverInfo(server: ServerContext, req: IqRequest): Element {
  const node = req.payload.attrs.node;
  const result = query(
    NS.DISCO_INFO,
    node !== undefined && isCapsNode(server, req.to.domain, node) ? node : rejectUnknownNode(req),
  );
  for (const identity of server.disco.serverIdentities()) result.c('identity', { ...identity });
  for (const feature of server.disco.serverFeatures()) result.c('feature', { var: feature });
  // XEP-0128: extended information (contact addresses…), on the caps node too: its hash covers it.
  for (const form of server.disco.serverExtensions(req.to.domain)) result.append(form);
  return result;
}

function serverItems(server: ServerContext, req: IqRequest): Element {
  const result = query(NS.DISCO_ITEMS, rejectUnknownNode(req));
  for (const item of server.disco.itemsFor(req.to.domain)) {
    result.c('item', item.name === undefined ? { jid: item.jid } : { jid: item.jid, name: item.name });
  }
  return result;
}

/** §3.1 on behalf of an account: it exists, it is a registered account, and what modules add. */
async function accountInfo(server: ServerContext, nodes: AccountDisco, req: IqRequest): Promise<Element> {
  const node = req.payload.attrs.node;
  if (!(await server.accounts.exists(req.to))) throw new StanzaError('service-unavailable');
  if (node !== undefined) {
    // §3.2: a node of the account (a PEP node, XEP-0060 §5.3), as the requester may see it.
    const info = await nodes.nodeInfo(req.to.bareJID(), req.from, node);
    if (info === undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
    return x(
      'query',
      { xmlns: NS.DISCO_INFO, node },
      info.identities.map((identity) => x('identity', { ...identity })),
      info.features.map((feature) => x('feature', { var: feature })),
    );
  }
  return x(
    'query',
    { xmlns: NS.DISCO_INFO },
    x('identity', { category: 'account', type: 'registered' }),
    nodes.identities().map((identity) => x('identity', { ...identity })),
    x('feature', { var: NS.DISCO_INFO }),
    server.disco.accountFeatures().map((feature) => x('feature', { var: feature })),
  );
}

async function accountItems(server: ServerContext, nodes: AccountDisco, req: IqRequest): Promise<Element> {
  const node = req.payload.attrs.node;
  if (!(await server.accounts.exists(req.to))) throw new StanzaError('service-unavailable');
  const account = req.to.bareJID();
  const items =
    node === undefined
      ? await nodes.items(account, req.from)
      : await nodes.nodeItems(account, req.from, node);
  if (items === undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
  return query(
    NS.DISCO_ITEMS,
    node,
    items.map((item) => x('item', { jid: item.jid, node: item.node, name: item.name })),
  );
}
