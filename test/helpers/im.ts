// Helpers for the instant-messaging integration tests (RFC 6121 rosters, subscriptions and
// presence, and the XEPs around them): test accounts logging in, iq round trips, waiting for
// what arrives next, exact stanza comparison, and predicates for roster pushes and presence.

import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { NS } from '../../src/xml/ns.js';
import { connect, type TestClient } from './client.js';
import type { TestServer } from './server.js';

/**
 * Logs `username` in with the password `<username>-secret`, as the IM tests create accounts.
 * PLAIN over TLS: the client library's SCRAM is slow, and c2s.test.ts covers SCRAM logins.
 */
export function login(ts: TestServer, username: string, resource?: string): Promise<TestClient> {
  return connect({
    port: ts.port,
    domain: ts.domain,
    username,
    password: `${username}-secret`,
    resource,
    mechanism: 'PLAIN',
  });
}

let ids = 0;

/** Sends an iq and resolves with its answer (result or error). */
export async function request(
  c: TestClient,
  type: 'get' | 'set',
  payload: XmlElement,
  to?: string,
): Promise<XmlElement> {
  const id = `im-${++ids}`;
  const attrs: Record<string, string> = { type, id };
  if (to !== undefined) attrs.to = to;
  await c.send(xml('iq', attrs, payload));
  return c.waitFor(
    (el) =>
      el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'),
  );
}

/**
 * Waits until everything the server wrote to `c` so far has arrived: a ping round trip. The
 * server handles a client's stanzas in order, so what the client sent before has met its fate
 * (delivery, storage, the pushes it caused) when the pong arrives.
 */
export async function settle(c: TestClient): Promise<void> {
  await request(c, 'get', xml('ping', { xmlns: NS.PING }), c.jid!.domain);
}

/** Resolves with the next stanza matching `predicate` received after this call. */
export function upcoming(c: TestClient): (predicate: (el: XmlElement) => boolean) => Promise<XmlElement> {
  const from = c.received.length;
  return (predicate) => c.waitFor((el) => c.received.indexOf(el) >= from && predicate(el));
}

/** What `c` received after `mark` (a received.length taken earlier). */
export function since(c: TestClient, mark: number): XmlElement[] {
  return c.received.slice(mark);
}

/** A jabber:iq:roster <query/>. */
export function rosterQuery(attrs: Record<string, string> = {}, ...items: XmlElement[]): XmlElement {
  return xml('query', { xmlns: NS.ROSTER, ...attrs }, ...items);
}

export const isRosterPush = (el: XmlElement): boolean =>
  el.name === 'iq' && el.attrs.type === 'set' && !!el.getChild('query', NS.ROSTER);

/** A roster push about `jid`, with that subscription when one is given. */
export function pushAbout(jid: string, subscription?: string): (el: XmlElement) => boolean {
  return (el) => {
    if (!isRosterPush(el)) return false;
    const item = el.getChild('query', NS.ROSTER)!.getChild('item')!;
    return item.attrs.jid === jid && (subscription === undefined || item.attrs.subscription === subscription);
  };
}

/** A presence from exactly `from`, of exactly `type` (undefined: available). */
export function presenceFrom(from: string, type?: string): (el: XmlElement) => boolean {
  return (el) => el.name === 'presence' && el.attrs.from === from && el.attrs.type === type;
}

export interface Shape {
  name: string;
  attrs: Record<string, string>;
  children: Array<Shape | string>;
}

/** An element as plain data, attributes sorted, the `ignore`d top-level attributes left out. */
export function shape(el: XmlElement, ignore: readonly string[] = []): Shape {
  const attrs: Record<string, string> = {};
  for (const key of Object.keys(el.attrs).sort()) {
    const value = el.attrs[key];
    if (value !== undefined && !ignore.includes(key)) attrs[key] = value;
  }
  return { name: el.name, attrs, children: el.children.map((c) => (typeof c === 'string' ? c : shape(c))) };
}

/** The stanza exactly, but for the `ignore`d top-level attributes. */
export function expectStanza(actual: XmlElement, expected: XmlElement, ignore: readonly string[] = []): void {
  expect(shape(actual, ignore), actual.toString()).to.deep.equal(shape(expected, ignore));
}

/** The error type and defined condition of an error stanza. */
export function errorOf(reply: XmlElement): { type: string | undefined; condition: string | undefined } {
  const error = reply.getChild('error');
  const condition = error?.children.find(
    (c): c is XmlElement => typeof c !== 'string' && c.attrs.xmlns === NS.STANZAS_ERROR && c.name !== 'text',
  );
  return { type: error?.attrs.type, condition: condition?.name };
}

/** The roster as { jid: 'subscription[+ask][+approved]' }. */
export async function rosterOf(c: TestClient): Promise<Record<string, string>> {
  const reply = await request(c, 'get', rosterQuery());
  const out: Record<string, string> = {};
  for (const item of reply.getChild('query', NS.ROSTER)!.getChildren('item')) {
    out[item.attrs.jid!] = [item.attrs.subscription, item.attrs.ask, item.attrs.approved && 'approved']
      .filter(Boolean)
      .join('+');
  }
  return out;
}

/** Mutual subscription between two available resources of different accounts (RFC 6121 §3.1). */
export async function befriend(x: TestClient, y: TestClient): Promise<void> {
  const xJid = x.jid!.bare().toString();
  const yJid = y.jid!.bare().toString();
  const done = Promise.all([upcoming(x)(pushAbout(yJid, 'both')), upcoming(y)(pushAbout(xJid, 'both'))]);
  const toY = upcoming(y)(presenceFrom(xJid, 'subscribe'));
  await x.send(xml('presence', { to: yJid, type: 'subscribe' }));
  await toY;
  await y.send(xml('presence', { to: xJid, type: 'subscribed' }));
  const toX = upcoming(x)(presenceFrom(yJid, 'subscribe'));
  await y.send(xml('presence', { to: xJid, type: 'subscribe' }));
  await toX;
  await x.send(xml('presence', { to: yJid, type: 'subscribed' }));
  await done;
}
