// Helpers for the PEP integration tests (XEP-0163 and what rides on it): clients that
// announce XEP-0115 caps with "+notify" features and answer the server's disco#info query for
// them (XEP-0163 §4.3), pubsub requests, and the shape of event notifications.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { verificationInput, verificationString } from '../../xeps/0115-caps/verification.js';
import type { TestClient } from './client.js';
import { login, presenceFrom, request, settle, upcoming } from './im.js';
import type { TestServer } from './server.js';

export const CAPS_NODE = 'https://warbler.example/test-client';

/** A client that advertises `features` (the "+notify" ones among them) through caps. */
export interface CapsClient extends TestClient {
  features: string[];
  ver: string;
  /** The disco#info queries the server sent this client, as received. */
  discoQueries: XmlElement[];
}

interface Callee {
  iqCallee: { get(ns: string, name: string, handler: (ctx: { stanza: XmlElement }) => XmlElement): void };
}

/** The caps verification string (XEP-0115 §5.1) of a client with one identity and these features. */
export function capsVer(features: readonly string[]): string {
  return verificationString(
    verificationInput([{ category: 'client', type: 'pc', name: 'Test' }], features, []),
  );
}

/** Logs in a client that answers disco#info with these notify interests (and the basics). */
export async function capsLogin(
  ts: TestServer,
  username: string,
  resource: string,
  notify: readonly string[],
): Promise<CapsClient> {
  const c = (await login(ts, username, resource)) as CapsClient;
  // A feature of its own, so that each client's 'ver' is new to the server and gets queried.
  const own = `urn:warbler:test:${username}:${resource}`;
  c.features = [NS.DISCO_INFO, NS.CAPS, own, ...notify.map((n) => `${n}+notify`)];
  c.ver = capsVer(c.features);
  c.discoQueries = [];
  (c as unknown as Callee).iqCallee.get(NS.DISCO_INFO, 'query', ({ stanza }) => {
    c.discoQueries.push(stanza);
    const node = stanza.getChild('query', NS.DISCO_INFO)!.attrs.node;
    return xml(
      'query',
      { xmlns: NS.DISCO_INFO, node },
      xml('identity', { category: 'client', type: 'pc', name: 'Test' }),
      ...c.features.map((f) => xml('feature', { var: f })),
    );
  });
  return c;
}

/** The <c/> of the client's caps. */
export function capsElement(c: CapsClient): XmlElement {
  return xml('c', { xmlns: NS.CAPS, hash: 'sha-1', node: CAPS_NODE, ver: c.ver });
}

/**
 * Sends available presence with caps, and waits for the server's echo of it and for its
 * disco#info query about the caps (answered by then: the answer goes before the ping of
 * settle()).
 */
export async function goOnline(c: CapsClient): Promise<void> {
  const echo = upcoming(c)(presenceFrom(c.jid!.toString()));
  const asked = upcoming(c)(
    (el) => el.name === 'iq' && el.attrs.type === 'get' && el.getChild('query', NS.DISCO_INFO) !== undefined,
  );
  await c.send(xml('presence', {}, capsElement(c)));
  await echo;
  await asked;
  await settle(c);
}

export function pubsub(...children: XmlElement[]): XmlElement {
  return xml('pubsub', { xmlns: NS.PUBSUB }, ...children);
}

export function owner(...children: XmlElement[]): XmlElement {
  return xml('pubsub', { xmlns: NS.PUBSUB_OWNER }, ...children);
}

/** A publish-options (or configuration) form with these fields. */
export function form(formType: string, fields: Record<string, string | string[]>): XmlElement {
  return xml(
    'x',
    { xmlns: NS.DATA_FORMS, type: 'submit' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, formType)),
    ...Object.entries(fields).map(([name, value]) =>
      xml(
        'field',
        { var: name },
        ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v)),
      ),
    ),
  );
}

export function publishOptions(fields: Record<string, string | string[]>): XmlElement {
  return xml('publish-options', {}, form(NS.PUBSUB_PUBLISH_OPTIONS, fields));
}

/** Publishes one item; resolves with the reply. */
export function publish(
  c: TestClient,
  node: string,
  id: string | undefined,
  payload: XmlElement,
  options?: Record<string, string | string[]>,
  to?: string,
): Promise<XmlElement> {
  const item = xml('item', id === undefined ? {} : { id }, payload);
  const children = [xml('publish', { node }, item)];
  if (options !== undefined) children.push(publishOptions(options));
  return request(c, 'set', pubsub(...children), to);
}

/** The items of a node as the client sees them: the reply. */
export function items(
  c: TestClient,
  to: string | undefined,
  node: string,
  attrs: Record<string, string> = {},
  ids: string[] = [],
): Promise<XmlElement> {
  return request(
    c,
    'get',
    pubsub(xml('items', { node, ...attrs }, ...ids.map((id) => xml('item', { id })))),
    to,
  );
}

/** The item elements of an items result, as strings. */
export function itemsOf(reply: XmlElement): string[] {
  expect(reply.attrs.type, reply.toString()).to.equal('result');
  return reply.getChild('pubsub', NS.PUBSUB)!.getChild('items')!.children.map(String);
}

/** A pubsub#event notification from `from` about `node`. */
export function eventFrom(from: string, node: string): (el: XmlElement) => boolean {
  return (el) => {
    if (el.name !== 'message' || el.attrs.from !== from) return false;
    const event = el.getChild('event', NS.PUBSUB_EVENT);
    if (event === undefined) return false;
    return event.children.some((c) => typeof c !== 'string' && c.attrs.node === node);
  };
}

/** The <event/> of a notification, as a string. */
export function eventOf(message: XmlElement): string {
  return message.getChild('event', NS.PUBSUB_EVENT)!.toString();
}

/** The error of an error reply: type, defined condition and pubsub#errors condition. */
export function pubsubErrorOf(reply: XmlElement): { type?: string; condition?: string; app?: string } {
  expect(reply.attrs.type, reply.toString()).to.equal('error');
  const error = reply.getChild('error')!;
  const out: { type?: string; condition?: string; app?: string } = { type: error.attrs.type };
  for (const child of error.children) {
    if (typeof child === 'string') continue;
    if (child.attrs.xmlns === NS.STANZAS_ERROR && child.name !== 'text') out.condition = child.name;
    if (child.attrs.xmlns === NS.PUBSUB_ERRORS) out.app = child.name;
  }
  return out;
}
