// XEP-0163: Personal Eventing Protocol — https://xmpp.org/extensions/xep-0163.html — every
// account a pubsub service (XEP-0060), with one publisher: the account. The use cases:
//
//   XEP-0060 §6.1 subscribe, §6.2 unsubscribe, §6.5 retrieve items (all, by id, max_items),
//   §5.6 / §5.7 the requester's subscriptions and affiliations, §7.1 publish (auto-create,
//   §7.1.5 publish-options), §7.2 retract, §8.1 create, §8.2 configure, §8.3 default
//   configuration, §8.4 delete, §8.5 purge, §8.9 affiliations (members for the whitelist
//   model, outcasts);
//
// each answering with the errors its section names. Notifications: delivery.ts. Other modules
// (bookmarks, avatar conversion) publish and listen through the PepService interface.

import { randomUUID } from 'node:crypto';
import { StanzaError } from '../../src/core/errors.js';
import type { IqRequest } from '../../src/core/iq.js';
import type { JID } from '../../src/jid.js';
import type { Logger } from '../../src/log.js';
import { type Element, x } from '../../src/xml/element.js';
import { parseStored, serializeDetached } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import type { AccountDiscoProvider, AccountItem, NodeInfo } from '../0030-disco/account-nodes.js';
import type { GrantedAffiliation } from './access.js';
import {
  applyForm,
  ConfigProblem,
  configForm,
  DEFAULT_CONFIG,
  effectiveMaxItems,
  type NodeConfig,
  unmetPrecondition,
} from './config.js';
import type { Delivery } from './delivery.js';
import { pubsubError } from './errors.js';
import type { SubmittedForm } from './forms.js';
import { deleteEvent, itemsEvent, purgeEvent, retractEvent } from './notifications.js';
import { type PubsubRequest, readOwner, readPubsub } from './requests.js';
import type { PepStore, StoredItem, StoreLimits } from './store.js';

export interface PepLimits {
  /** What 'max' means for pubsub#max_items, and the most items any node keeps. */
  readonly maxItems: number;
  readonly maxNodes: number;
  /** Largest payload, in bytes of XML. */
  readonly maxItemBytes: number;
  /** Bytes of items one account may store. */
  readonly quota: number;
}

export interface PepItem {
  readonly id: string;
  /** The full JID that published it (the account's bare JID for what the server published). */
  readonly publisher: string;
  readonly payload: Element;
}

/** What happened to a node, as listeners hear it. */
export type PepChange = {
  readonly owner: JID;
  readonly node: string;
  /** The `cause` given by the module that made the change through PepService; undefined for clients. */
  readonly cause: string | undefined;
} & (
  | { readonly kind: 'publish'; readonly item: PepItem; readonly config: NodeConfig }
  | { readonly kind: 'retract'; readonly ids: readonly string[] }
  | { readonly kind: 'purge' }
  | { readonly kind: 'delete' }
);

export type PepListener = (change: PepChange) => void | Promise<void>;

export interface InternalOptions {
  /** The configuration a node created by this publication gets, over the defaults. */
  readonly create?: Partial<NodeConfig>;
  /** Passed to listeners, so that a module recognizes its own changes. */
  readonly cause?: string;
}

/** What other modules may do with accounts' PEP nodes, as the account itself. */
export interface PepService {
  config(owner: JID, node: string): Promise<NodeConfig | undefined>;
  /** The node's items, oldest first (none when there is no such node). */
  items(owner: JID, node: string): Promise<PepItem[]>;
  /** Publishes as the account (creating the node with `options.create` when needed), notifying as usual. */
  publish(
    owner: JID,
    node: string,
    item: { id: string; payload: Element },
    options?: InternalOptions,
  ): Promise<void>;
  /** Retracts items, notifying; ids the node lacks are skipped. */
  retract(owner: JID, node: string, ids: readonly string[], options?: InternalOptions): Promise<void>;
  /** Listens to the changes of one node (of every account) until the returned function is called. */
  watch(node: string, listener: PepListener): () => void;
}

declare module '../../src/core/services.js' {
  interface Services {
    pep: PepService;
  }
}

export class Pep implements PepService {
  private readonly watchers = new Map<string, Set<PepListener>>();
  private readonly storeLimits: StoreLimits;

  constructor(
    private readonly store: PepStore,
    private readonly delivery: Delivery,
    private readonly accountExists: (jid: JID) => Promise<boolean>,
    private readonly rosterGroups: (owner: JID) => Promise<string[]>,
    private readonly limits: PepLimits,
    private readonly log: Logger,
  ) {
    this.storeLimits = {
      maxNodes: limits.maxNodes,
      quota: limits.quota,
      capacity: (config) => effectiveMaxItems(config, limits.maxItems),
    };
  }

  // ---- the IQ handlers ----

  /** <pubsub xmlns='http://jabber.org/protocol/pubsub'/>, to an account's bare JID. */
  async pubsub(req: IqRequest): Promise<Element | undefined> {
    const owner = req.to.bareJID();
    const request = readPubsub(req.payload, req.stanza.attrs.type as 'get' | 'set');
    await this.checkAccount(owner, req.from);
    switch (request.kind) {
      case 'publish':
        return this.publishRequest(req, owner, request);
      case 'retract':
        return this.retractRequest(owner, req.from, request);
      case 'items':
        return this.itemsRequest(owner, req.from, request);
      case 'subscribe':
        return this.subscribeRequest(owner, req.from, request);
      case 'unsubscribe':
        return this.unsubscribeRequest(owner, req.from, request);
      case 'create':
        return this.createRequest(owner, req.from, request);
      case 'subscriptions':
        return this.subscriptionsRequest(owner, req.from, request.node);
      case 'affiliations':
        return this.affiliationsRequest(owner, req.from, request.node);
    }
  }

  /** <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/>: the owner's use cases only. */
  async owner(req: IqRequest): Promise<Element | undefined> {
    const owner = req.to.bareJID();
    const request = readOwner(req.payload, req.stanza.attrs.type as 'get' | 'set');
    await this.checkAccount(owner, req.from);
    mustOwn(owner, req.from);
    switch (request.kind) {
      case 'configure':
        return request.form === undefined
          ? this.configureForm(owner, request.node)
          : this.configure(owner, request.node, request.form);
      case 'default':
        return ownerPayload(x('default', null, configForm(DEFAULT_CONFIG, 'form')));
      case 'delete':
        return this.deleteNode(owner, request.node);
      case 'purge':
        return this.purge(owner, request.node);
      case 'affiliations':
        return request.changes === undefined
          ? this.nodeAffiliations(owner, request.node)
          : this.setAffiliations(owner, request.node, request.changes);
    }
  }

  /** For an account that does not exist, the answer to any unknown entity (RFC 6121 §8.5.1). */
  private async checkAccount(owner: JID, from: JID): Promise<void> {
    if (from.bare !== owner.bare && !(await this.accountExists(owner))) {
      throw new StanzaError('service-unavailable');
    }
  }

  // ---- §7.1 publish ----

  private async publishRequest(
    req: IqRequest,
    owner: JID,
    request: Extract<PubsubRequest, { kind: 'publish' }>,
  ): Promise<Element> {
    mustOwn(owner, req.from);
    const xml = serializeDetached(request.item.payload);
    const max = this.limits.maxItemBytes;
    // A UTF-16 unit is at most three bytes of UTF-8: most payloads need no byte count.
    if ((xml.length * 3 <= max ? xml.length : Buffer.byteLength(xml)) > max) {
      // §7.1.3.5; the payload is not echoed back.
      req.stanza.remove(req.payload);
      throw pubsubError(
        'not-acceptable',
        'payload-too-big',
        `this service keeps items of up to ${max} bytes`,
      );
    }
    const id = request.item.id ?? randomUUID();
    const plan = (existing: NodeConfig | undefined) => withPreconditions(existing, request.options);
    await this.commit(owner, request.node, { id, publisher: req.from.full, xml }, plan, undefined);
    return x('pubsub', { xmlns: NS.PUBSUB }, x('publish', { node: request.node }, x('item', { id })));
  }

  /** Stores an item, then notifies and tells the listeners. */
  private async commit(
    owner: JID,
    node: string,
    item: StoredItem,
    plan: (existing: NodeConfig | undefined) => NodeConfig,
    cause: string | undefined,
  ): Promise<void> {
    const outcome = await this.store.publish(owner, node, item, plan, this.storeLimits);
    if (!outcome.ok) {
      if (outcome.reason === 'too-many-nodes') {
        throw pubsubError(
          'not-allowed',
          'max-nodes-exceeded',
          `an account has up to ${this.limits.maxNodes} nodes`,
        );
      }
      throw new StanzaError('not-acceptable', `an account stores up to ${this.limits.quota} bytes of items`);
    }
    const { config } = outcome;
    // The stored text, parsed: it stands on its own, whatever its ancestors declared.
    const published: PepItem = { id: item.id, publisher: item.publisher, payload: parseStored(item.xml) };
    const event = itemsEvent(node, item.id, config.deliverPayloads ? published.payload : undefined);
    await this.delivery.notify(owner, node, config, event);
    await this.tell({ owner, node, cause, kind: 'publish', item: published, config });
  }

  // ---- §7.2 retract ----

  private async retractRequest(
    owner: JID,
    from: JID,
    request: Extract<PubsubRequest, { kind: 'retract' }>,
  ): Promise<undefined> {
    mustOwn(owner, from);
    const config = await this.store.node(owner, request.node);
    if (config === undefined) throw new StanzaError('item-not-found', 'no such node');
    const removed = await this.store.retract(owner, request.node, request.ids);
    // §7.2.3.2: all or nothing.
    if (removed === undefined) throw new StanzaError('item-not-found', 'no such item');
    await this.retracted(owner, request.node, config, removed, request.notify, undefined);
    return undefined;
  }

  private async retracted(
    owner: JID,
    node: string,
    config: NodeConfig,
    ids: readonly string[],
    notify: boolean | undefined,
    cause: string | undefined,
  ): Promise<void> {
    // §7.2.2.1: notify="true" asks for notifications; without the attribute, the node decides.
    if (notify ?? config.notifyRetract)
      await this.delivery.notify(owner, node, config, retractEvent(node, ids));
    await this.tell({ owner, node, cause, kind: 'retract', ids });
  }

  // ---- §6.5 retrieve items ----

  private async itemsRequest(
    owner: JID,
    from: JID,
    request: Extract<PubsubRequest, { kind: 'items' }>,
  ): Promise<Element> {
    await this.readable(owner, from, request.node);
    const query = request.ids !== undefined ? { ids: request.ids } : { max: request.max };
    const items = await this.store.items(owner, request.node, query);
    return x(
      'pubsub',
      { xmlns: NS.PUBSUB },
      x(
        'items',
        { node: request.node },
        items.map((item) => x('item', { id: item.id }, parseStored(item.xml))),
      ),
    );
  }

  /** The node's configuration, when `from` may read it (§6.5.9 errors otherwise). */
  private async readable(owner: JID, from: JID, node: string): Promise<NodeConfig> {
    const config = await this.store.node(owner, node);
    if (config === undefined) throw new StanzaError('item-not-found', 'no such node');
    const verdict = await this.delivery.relations(owner).access(from.bare, node, config);
    if (!verdict.allowed) throw pubsubError(verdict.condition, verdict.app);
    return config;
  }

  // ---- §6.1 subscribe, §6.2 unsubscribe ----

  private async subscribeRequest(
    owner: JID,
    from: JID,
    request: Extract<PubsubRequest, { kind: 'subscribe' }>,
  ): Promise<Element> {
    // §6.1.3.1: one subscribes oneself only.
    if (request.jid.bare !== from.bare) throw pubsubError('bad-request', 'invalid-jid');
    const config = await this.readable(owner, from, request.node);
    await this.store.subscribe(owner, request.node, request.jid.full);
    // §6.1.7: the last item, when the node is configured to send it.
    if (config.sendLastPublishedItem !== 'never') {
      await this.delivery.lastItem(owner, request.node, config, request.jid);
    }
    return x(
      'pubsub',
      { xmlns: NS.PUBSUB },
      x('subscription', { node: request.node, jid: request.jid.full, subscription: 'subscribed' }),
    );
  }

  private async unsubscribeRequest(
    owner: JID,
    from: JID,
    request: Extract<PubsubRequest, { kind: 'unsubscribe' }>,
  ): Promise<undefined> {
    // §6.2.3.3
    if (request.jid.bare !== from.bare) throw new StanzaError('forbidden', 'one unsubscribes oneself only');
    if ((await this.store.node(owner, request.node)) === undefined) {
      throw new StanzaError('item-not-found', 'no such node');
    }
    // §6.2.3.2
    if (!(await this.store.unsubscribe(owner, request.node, request.jid.full))) {
      throw pubsubError('unexpected-request', 'not-subscribed');
    }
    return undefined;
  }

  // ---- §5.6 subscriptions, §5.7 affiliations of the requester ----

  private async subscriptionsRequest(owner: JID, from: JID, node: string | undefined): Promise<Element> {
    const all = await this.store.subscriptionsOf(owner, from.bare);
    return x(
      'pubsub',
      { xmlns: NS.PUBSUB },
      x(
        'subscriptions',
        { node },
        all
          .filter((s) => node === undefined || s.node === node)
          .map((s) => x('subscription', { node: s.node, jid: s.jid, subscription: 'subscribed' })),
      ),
    );
  }

  private async affiliationsRequest(owner: JID, from: JID, node: string | undefined): Promise<Element> {
    const entries: Array<[string, string]> =
      from.bare === owner.bare
        ? (await this.store.nodes(owner)).map((n) => [n.node, 'owner'])
        : [...(await this.store.affiliationsOf(owner, from.bare))];
    return x(
      'pubsub',
      { xmlns: NS.PUBSUB },
      x(
        'affiliations',
        { node },
        entries
          .filter(([n]) => node === undefined || n === node)
          .map(([n, affiliation]) => x('affiliation', { node: n, affiliation })),
      ),
    );
  }

  // ---- §8.1 create ----

  private async createRequest(
    owner: JID,
    from: JID,
    request: Extract<PubsubRequest, { kind: 'create' }>,
  ): Promise<undefined> {
    mustOwn(owner, from);
    const form = request.config;
    if (form !== undefined && form.formType !== undefined && form.formType !== NS.PUBSUB_NODE_CONFIG) {
      throw new StanzaError('bad-request', 'the configuration form is of type pubsub#node_config');
    }
    const config = form === undefined ? DEFAULT_CONFIG : configFrom(DEFAULT_CONFIG, form);
    const outcome = await this.store.create(owner, request.node, config, this.storeLimits);
    // §8.1.3.4
    if (outcome === 'exists') throw new StanzaError('conflict', 'the node exists');
    if (outcome === 'too-many-nodes') {
      throw pubsubError(
        'not-allowed',
        'max-nodes-exceeded',
        `an account has up to ${this.limits.maxNodes} nodes`,
      );
    }
    return undefined;
  }

  // ---- §8.2 configure ----

  private async configureForm(owner: JID, node: string): Promise<Element> {
    const config = await this.store.node(owner, node);
    if (config === undefined) throw new StanzaError('item-not-found', 'no such node');
    const form = configForm(config, 'form', await this.rosterGroups(owner));
    return ownerPayload(x('configure', { node }, form));
  }

  private async configure(owner: JID, node: string, form: SubmittedForm): Promise<undefined> {
    // §8.2.4: a cancelled form leaves the configuration as it is.
    if (form.type === 'cancel') {
      if ((await this.store.node(owner, node)) === undefined)
        throw new StanzaError('item-not-found', 'no such node');
      return undefined;
    }
    if (form.formType !== undefined && form.formType !== NS.PUBSUB_NODE_CONFIG) {
      throw new StanzaError('bad-request', 'the configuration form is of type pubsub#node_config');
    }
    const outcome = await this.store.configure(
      owner,
      node,
      (current) => configFrom(current, form),
      this.storeLimits,
    );
    if (outcome === undefined) throw new StanzaError('item-not-found', 'no such node');
    return undefined;
  }

  // ---- §8.4 delete, §8.5 purge ----

  private async deleteNode(owner: JID, node: string): Promise<undefined> {
    const config = await this.store.node(owner, node);
    if (config === undefined) throw new StanzaError('item-not-found', 'no such node');
    // Who to tell is worked out before the subscriptions go with the node.
    const recipients = config.notifyDelete ? await this.delivery.recipients(owner, node, config) : [];
    if ((await this.store.delete(owner, node)) === undefined)
      throw new StanzaError('item-not-found', 'no such node');
    await this.delivery.send(owner, config, deleteEvent(node), recipients);
    await this.tell({ owner, node, cause: undefined, kind: 'delete' });
    return undefined;
  }

  private async purge(owner: JID, node: string): Promise<undefined> {
    const config = await this.store.node(owner, node);
    if (config === undefined || !(await this.store.purge(owner, node))) {
      throw new StanzaError('item-not-found', 'no such node');
    }
    // §8.5.2: one <purge/> notification, where retractions would be notified.
    if (config.notifyRetract) await this.delivery.notify(owner, node, config, purgeEvent(node));
    await this.tell({ owner, node, cause: undefined, kind: 'purge' });
    return undefined;
  }

  // ---- §8.9 affiliations ----

  private async nodeAffiliations(owner: JID, node: string): Promise<Element> {
    if ((await this.store.node(owner, node)) === undefined)
      throw new StanzaError('item-not-found', 'no such node');
    const granted = await this.store.affiliations(owner, node);
    return ownerPayload(
      x(
        'affiliations',
        { node },
        x('affiliation', { jid: owner.bare, affiliation: 'owner' }),
        [...granted].map(([jid, affiliation]) => x('affiliation', { jid, affiliation })),
      ),
    );
  }

  private async setAffiliations(
    owner: JID,
    node: string,
    changes: ReadonlyArray<{ jid: JID; affiliation: string }>,
  ): Promise<undefined> {
    if ((await this.store.node(owner, node)) === undefined)
      throw new StanzaError('item-not-found', 'no such node');
    const edits: Array<[string, GrantedAffiliation | undefined]> = [];
    for (const { jid, affiliation } of changes) {
      // §8.9.2.4: the owner stays the owner; PEP has no other publishers.
      if (jid.bare === owner.bare)
        throw new StanzaError('not-acceptable', "the owner's affiliation is fixed");
      if (affiliation !== 'member' && affiliation !== 'outcast' && affiliation !== 'none') {
        throw new StanzaError('not-acceptable', 'affiliations here are member, outcast or none');
      }
      edits.push([jid.bare, affiliation === 'none' ? undefined : affiliation]);
    }
    await this.store.setAffiliations(owner, node, edits);
    return undefined;
  }

  // ---- PepService, for other modules ----

  config(owner: JID, node: string): Promise<NodeConfig | undefined> {
    return this.store.node(owner, node);
  }

  async items(owner: JID, node: string): Promise<PepItem[]> {
    const items = await this.store.items(owner, node);
    return items.map((i) => ({ id: i.id, publisher: i.publisher, payload: parseStored(i.xml) }));
  }

  async publish(
    owner: JID,
    node: string,
    item: { id: string; payload: Element },
    options: InternalOptions = {},
  ): Promise<void> {
    const stored: StoredItem = { id: item.id, publisher: owner.bare, xml: serializeDetached(item.payload) };
    const create = options.create;
    const plan = (existing: NodeConfig | undefined) =>
      existing ?? (create === undefined ? DEFAULT_CONFIG : Object.freeze({ ...DEFAULT_CONFIG, ...create }));
    await this.commit(owner, node, stored, plan, options.cause);
  }

  async retract(
    owner: JID,
    node: string,
    ids: readonly string[],
    options: InternalOptions = {},
  ): Promise<void> {
    const config = await this.store.node(owner, node);
    if (config === undefined) return;
    const present = new Set((await this.store.items(owner, node, { ids })).map((i) => i.id));
    const removed = await this.store.retract(
      owner,
      node,
      ids.filter((id) => present.has(id)),
    );
    if (removed !== undefined && removed.length > 0) {
      await this.retracted(owner, node, config, removed, true, options.cause);
    }
  }

  watch(node: string, listener: PepListener): () => void {
    const set = this.watchers.get(node) ?? new Set();
    this.watchers.set(node, set.add(listener));
    return () => set.delete(listener);
  }

  private async tell(change: PepChange): Promise<void> {
    const listeners = this.watchers.get(change.node);
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        await listener(change);
      } catch (error) {
        this.log.error('a PEP listener failed', { owner: change.owner.bare, node: change.node, error });
      }
    }
  }

  // ---- XEP-0030 for accounts: XEP-0163 §6.2, XEP-0060 §5.2, §5.3, §5.5 ----

  discoProvider(): AccountDiscoProvider {
    return {
      identities: [{ category: 'pubsub', type: 'pep' }],
      items: async (account, requester): Promise<AccountItem[]> => {
        const relations = this.delivery.relations(account);
        const out: AccountItem[] = [];
        // §6.2 note: only the nodes the requester may see.
        for (const { node, config } of await this.store.nodes(account)) {
          if (await relations.allowed(requester.bare, node, config)) out.push({ jid: account.bare, node });
        }
        return out;
      },
      nodeInfo: async (account, requester, node): Promise<NodeInfo | undefined> => {
        const config = await this.store.node(account, node);
        if (config === undefined) return undefined;
        if (!(await this.delivery.relations(account).allowed(requester.bare, node, config))) return undefined;
        return { identities: [{ category: 'pubsub', type: 'leaf' }], features: [NS.PUBSUB] };
      },
      nodeItems: async (account, requester, node): Promise<AccountItem[] | undefined> => {
        const config = await this.store.node(account, node);
        if (config === undefined) return undefined;
        if (!(await this.delivery.relations(account).allowed(requester.bare, node, config))) return undefined;
        return (await this.store.items(account, node)).map((i) => ({ jid: account.bare, name: i.id }));
      },
    };
  }
}

/** §7.1.3.1, §8.x.3 "insufficient privileges": only the account publishes and manages. */
function mustOwn(owner: JID, from: JID): void {
  if (from.bare !== owner.bare) throw new StanzaError('forbidden', "only the account's owner may do this");
}

function ownerPayload(child: Element): Element {
  return x('pubsub', { xmlns: NS.PUBSUB_OWNER }, child);
}

/** A configuration form applied, its problems as §8.2.5 errors. */
function configFrom(base: NodeConfig, form: SubmittedForm): NodeConfig {
  try {
    return applyForm(base, form);
  } catch (err) {
    throw configError(err);
  }
}

/**
 * §7.1.5: an existing node must meet the preconditions (conflict, precondition-not-met); a new
 * one is created with the defaults and the preconditions (auto-create).
 */
function withPreconditions(existing: NodeConfig | undefined, options: SubmittedForm | undefined): NodeConfig {
  if (options === undefined) return existing ?? DEFAULT_CONFIG;
  if (existing === undefined) return configFrom(DEFAULT_CONFIG, options);
  let unmet: string | undefined;
  try {
    unmet = unmetPrecondition(existing, options);
  } catch (err) {
    throw configError(err);
  }
  if (unmet !== undefined) {
    throw pubsubError(
      'conflict',
      'precondition-not-met',
      `the node's ${unmet} differs from the publish-options`,
    );
  }
  return existing;
}

function configError(err: unknown): unknown {
  if (!(err instanceof ConfigProblem)) return err;
  // §8.1.3.5 for an access model this service lacks; §8.2.5 otherwise.
  const app = err.reason === 'unsupported-access-model' ? 'unsupported-access-model' : undefined;
  return pubsubError('not-acceptable', app, err.message);
}
