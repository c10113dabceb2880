// XEP-0060 requests as a PEP service receives them, read once at the edge into typed values:
// the <pubsub/> payload of §6 (subscriber), §7 (publisher) and §8 (owner, the #owner
// namespace), with the errors the sections give for a malformed request. Pure.

import { StanzaError } from '../../src/core/errors.js';
import { type JID, tryParseJID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { parseBoolean } from './config.js';
import { pubsubError, unsupported } from './errors.js';
import { formIn, readForm, type SubmittedForm } from './forms.js';

export interface PublishedItem {
  /** The ItemID the publisher gave, if any (§7.1.1: the service makes one otherwise). */
  readonly id: string | undefined;
  readonly payload: Element;
}

export type PubsubRequest =
  | { kind: 'publish'; node: string; item: PublishedItem; options: SubmittedForm | undefined }
  | { kind: 'retract'; node: string; ids: string[]; notify: boolean | undefined }
  | { kind: 'items'; node: string; ids: string[] | undefined; max: number | undefined }
  | { kind: 'subscribe'; node: string; jid: JID }
  | { kind: 'unsubscribe'; node: string; jid: JID }
  | { kind: 'create'; node: string; config: SubmittedForm | undefined }
  | { kind: 'subscriptions'; node: string | undefined }
  | { kind: 'affiliations'; node: string | undefined };

export type OwnerRequest =
  | { kind: 'configure'; node: string; form: SubmittedForm | undefined }
  | { kind: 'default' }
  | { kind: 'delete'; node: string }
  | { kind: 'purge'; node: string }
  /** `changes` undefined: the list is asked for (§8.9.1); else it is changed (§8.9.2). */
  | { kind: 'affiliations'; node: string; changes: Array<{ jid: JID; affiliation: string }> | undefined };

const MAX_ITEMS = /^[0-9]{1,9}$/;

function nodeOf(el: Element): string {
  const node = el.attrs.node;
  // §7.2.3.3 and the like: a node is required.
  if (node === undefined || node === '') throw pubsubError('bad-request', 'nodeid-required');
  return node;
}

/** A <pubsub xmlns='http://jabber.org/protocol/pubsub'/> get or set. */
export function readPubsub(payload: Element, type: 'get' | 'set'): PubsubRequest {
  const children = payload.elements;
  const action = children[0];
  if (action === undefined) throw new StanzaError('bad-request', 'the pubsub element is empty');
  const extra = children.slice(1);
  switch (`${type} ${action.localName}`) {
    case 'set publish': {
      const options = extra.find((e) => e.localName === 'publish-options');
      return {
        kind: 'publish',
        node: nodeOf(action),
        item: readItem(action),
        options: options === undefined ? undefined : readOptions(options),
      };
    }
    case 'set retract': {
      const ids = action.getChildren('item').map((i) => i.attrs.id);
      // §7.2.3.4: an item, with an id, is required.
      if (ids.length === 0 || ids.some((id) => id === undefined || id === '')) {
        throw pubsubError('bad-request', 'item-required');
      }
      const notify = action.attrs.notify;
      return {
        kind: 'retract',
        node: nodeOf(action),
        ids: ids as string[],
        notify: notify === undefined ? undefined : (parseBoolean(notify) ?? false),
      };
    }
    case 'get items': {
      const ids = action.getChildren('item').map((i) => i.attrs.id);
      if (ids.some((id) => id === undefined)) throw new StanzaError('bad-request', 'an item needs an id');
      const max = action.attrs.max_items;
      if (max !== undefined && !MAX_ITEMS.test(max)) {
        throw new StanzaError('bad-request', 'max_items must be a number');
      }
      return {
        kind: 'items',
        node: nodeOf(action),
        ids: ids.length === 0 ? undefined : (ids as string[]),
        max: max === undefined ? undefined : Number(max),
      };
    }
    case 'set subscribe':
    case 'set unsubscribe': {
      const jid = tryParseJID(action.attrs.jid ?? '');
      // §6.1.3.1: the subscription JID is required and must be valid.
      if (jid === undefined) throw pubsubError('bad-request', 'invalid-jid');
      if (action.localName === 'subscribe' && extra.some((e) => e.localName === 'options')) {
        throw unsupported('subscription-options');
      }
      return { kind: action.localName as 'subscribe' | 'unsubscribe', node: nodeOf(action), jid };
    }
    case 'set create': {
      // §8.1.1: no instant nodes here.
      if (action.attrs.node === undefined || action.attrs.node === '') {
        throw pubsubError('not-acceptable', 'nodeid-required');
      }
      const configure = extra.find((e) => e.localName === 'configure');
      if (configure?.attrs.node !== undefined) {
        throw new StanzaError('bad-request', '<configure/> after <create/> names no node');
      }
      const form = readForm(formIn(configure));
      return { kind: 'create', node: nodeOf(action), config: form };
    }
    case 'get subscriptions':
      return { kind: 'subscriptions', node: action.attrs.node };
    case 'get affiliations':
      return { kind: 'affiliations', node: action.attrs.node };
    case 'get options':
    case 'set options':
      throw unsupported('subscription-options');
    default:
      throw new StanzaError('feature-not-implemented', `${type} ${action.localName} is not offered here`);
  }
}

/** A <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/> get or set. */
export function readOwner(payload: Element, type: 'get' | 'set'): OwnerRequest {
  const action = payload.elements[0];
  if (action === undefined) throw new StanzaError('bad-request', 'the pubsub element is empty');
  switch (`${type} ${action.localName}`) {
    case 'get configure':
      return { kind: 'configure', node: nodeOf(action), form: undefined };
    case 'set configure': {
      const form = readForm(formIn(action));
      if (form === undefined) throw new StanzaError('bad-request', 'a configuration form is required');
      return { kind: 'configure', node: nodeOf(action), form };
    }
    case 'get default':
      // §8.3: the defaults of a leaf node (no collections here).
      if (action.attrs.type !== undefined && action.attrs.type !== 'leaf') throw unsupported('collections');
      return { kind: 'default' };
    case 'set delete':
      return { kind: 'delete', node: nodeOf(action) };
    case 'set purge':
      return { kind: 'purge', node: nodeOf(action) };
    case 'get affiliations':
      return { kind: 'affiliations', node: nodeOf(action), changes: undefined };
    case 'set affiliations': {
      const changes = action.getChildren('affiliation').map((a) => {
        const jid = tryParseJID(a.attrs.jid ?? '');
        if (jid === undefined || a.attrs.affiliation === undefined) {
          throw new StanzaError('bad-request', 'an affiliation needs a jid and an affiliation');
        }
        return { jid, affiliation: a.attrs.affiliation };
      });
      return { kind: 'affiliations', node: nodeOf(action), changes };
    }
    case 'get subscriptions':
    case 'set subscriptions':
      throw unsupported('manage-subscriptions');
    default:
      throw new StanzaError('feature-not-implemented', `${type} ${action.localName} is not offered here`);
  }
}

/** §7.1.1, §7.1.3.6: one item with exactly one payload element. */
function readItem(publish: Element): PublishedItem {
  const items = publish.getChildren('item');
  if (items.length === 0) throw pubsubError('bad-request', 'item-required');
  // §12.12 allows batches; this service takes one item per request, as PEP clients send.
  if (items.length > 1) throw pubsubError('bad-request', 'invalid-payload', 'publish one item at a time');
  const item = items[0]!;
  const payloads = item.elements;
  if (payloads.length === 0) throw pubsubError('bad-request', 'payload-required');
  if (payloads.length > 1) throw pubsubError('bad-request', 'invalid-payload', 'an item holds one payload');
  const id = item.attrs.id;
  return { id: id === '' ? undefined : id, payload: payloads[0]! };
}

/** §7.1.5: a form of FORM_TYPE pubsub#publish-options (an empty element sets no precondition). */
function readOptions(options: Element): SubmittedForm | undefined {
  const element = formIn(options);
  if (element === undefined) return undefined;
  const form = readForm(element);
  if (form === undefined || form.formType !== NS.PUBSUB_PUBLISH_OPTIONS) {
    throw new StanzaError('bad-request', 'publish-options hold a form of type pubsub#publish-options');
  }
  return form;
}
