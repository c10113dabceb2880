// Helpers for the MUC integration tests (muc-*.test.ts): logging users in, entering rooms,
// requests to rooms, and the exact shapes XEP-0045 gives its stanzas.

import { randomBytes } from 'node:crypto';
import { type XmlElement, xml } from '@xmpp/client';
import { expect } from 'chai';
import { connect, type TestClient } from '../helpers/client.js';
import type { TestServer } from '../helpers/server.js';

export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
export const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const DATA = 'jabber:x:data';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const DELAY = 'urn:xmpp:delay';
export const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const SERVICE = 'conference.localhost';

let counter = 0;
export const nextId = (prefix = 'muc'): string => `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;

/** Users the tests log in as; each test file creates them on its own server. */
export const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
export type User = (typeof USERS)[number];

export async function addUsers(ts: TestServer): Promise<void> {
  for (const user of USERS) await ts.addUser(user, `${user}-secret`);
}

/**
 * Logs in (PLAIN over TLS: SCRAM in @xmpp/client is slow, and c2s.test.ts covers it) and sends
 * initial presence, so that messages to the bare JID (invitations) reach the session.
 */
export async function login(ts: TestServer, user: User, resource = 'r'): Promise<TestClient> {
  const client = await connect({
    port: ts.port,
    domain: 'localhost',
    username: user,
    password: `${user}-secret`,
    resource,
    mechanism: 'PLAIN',
  });
  await client.send(xml('presence'));
  return client;
}

export function statusCodes(stanza: XmlElement): number[] {
  const x = stanza.getChild('x', MUC_USER);
  return (x?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
}

export function itemOf(stanza: XmlElement): Record<string, string> {
  return stanza.getChild('x', MUC_USER)?.getChild('item')?.attrs ?? {};
}

export function errorCondition(stanza: XmlElement): string | undefined {
  return stanza
    .getChild('error')
    ?.children.find((c): c is XmlElement => typeof c !== 'string' && c.attrs.xmlns === STANZAS)?.name;
}

export interface JoinOptions {
  password?: string;
  history?: Record<string, string>;
  /** Without <x xmlns='…muc'/> (a groupchat 1.0 client). */
  bare?: boolean;
}

/**
 * Sends the join presence and resolves with the room's answer to it: the self-presence
 * (status 110), or the error presence.
 */
export async function join(
  client: TestClient,
  occupant: string,
  options: JoinOptions = {},
): Promise<XmlElement> {
  const id = nextId('join');
  const x = xml(
    'x',
    { xmlns: MUC },
    ...(options.password !== undefined ? [xml('password', {}, options.password)] : []),
    ...(options.history !== undefined ? [xml('history', options.history)] : []),
  );
  const since = client.received.length;
  await client.send(xml('presence', { to: occupant, id }, ...(options.bare ? [] : [x])));
  return client.waitFor(
    (el) =>
      client.received.indexOf(el) >= since &&
      el.name === 'presence' &&
      el.attrs.from === occupant &&
      (el.attrs.type === 'error' || statusCodes(el).includes(110)),
  );
}

/** The next stanza matching `predicate` that arrives after now. */
export function next(
  client: TestClient,
  predicate: (el: XmlElement) => boolean,
  timeoutMs?: number,
): Promise<XmlElement> {
  const since = client.received.length;
  return client.waitFor((el) => client.received.indexOf(el) >= since && predicate(el), timeoutMs);
}

/** Sends an iq and resolves with its reply, result or error. */
export async function iq(
  client: TestClient,
  type: 'get' | 'set',
  to: string,
  payload: XmlElement,
): Promise<XmlElement> {
  const id = nextId('iq');
  const reply = client.waitFor(
    (el) =>
      el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'),
  );
  await client.send(xml('iq', { type, to, id }, payload));
  return reply;
}

export async function expectResult(reply: Promise<XmlElement> | XmlElement): Promise<XmlElement> {
  const el = await reply;
  expect(el.attrs.type, el.toString()).to.equal('result');
  return el;
}

export async function expectError(
  reply: Promise<XmlElement> | XmlElement,
  condition: string,
): Promise<XmlElement> {
  const el = await reply;
  expect(el.attrs.type, el.toString()).to.equal('error');
  expect(errorCondition(el), el.toString()).to.equal(condition);
  return el;
}

/** A submitted form of `formType` with the given fields. */
export function submitForm(formType: string, fields: Record<string, string | string[]>): XmlElement {
  return xml(
    'x',
    { xmlns: DATA, type: 'submit' },
    xml('field', { var: 'FORM_TYPE' }, xml('value', {}, formType)),
    ...Object.entries(fields).map(([name, value]) =>
      xml(
        'field',
        { var: name },
        ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v)),
      ),
    ),
  );
}

/** §10.1.2: enters a new room and accepts the default configuration (an instant room). */
export async function createInstantRoom(owner: TestClient, room: string, nick: string): Promise<XmlElement> {
  const self = await join(owner, `${room}/${nick}`);
  expect(statusCodes(self), self.toString()).to.include(201);
  await expectResult(
    iq(owner, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'submit' }))),
  );
  return self;
}

/** §10.1.3: enters a new room and submits a configuration (a reserved room). */
export async function createReservedRoom(
  owner: TestClient,
  room: string,
  nick: string,
  fields: Record<string, string | string[]>,
): Promise<void> {
  const self = await join(owner, `${room}/${nick}`);
  expect(statusCodes(self), self.toString()).to.include(201);
  await expectResult(
    iq(
      owner,
      'set',
      room,
      xml('query', { xmlns: MUC_OWNER }, submitForm('http://jabber.org/protocol/muc#roomconfig', fields)),
    ),
  );
}

/** Sends a groupchat message and waits until the sender has its reflection. */
export async function say(client: TestClient, room: string, body: string): Promise<XmlElement> {
  const id = nextId('gc');
  const reflected = client.waitFor(
    (el) => el.name === 'message' && el.attrs.id === id && el.attrs.type === 'groupchat',
  );
  await client.send(xml('message', { to: room, type: 'groupchat', id }, xml('body', {}, body)));
  return reflected;
}

/** A room name no other test uses. */
export function roomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@${SERVICE}`;
}

export function formValues(form: XmlElement | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const field of form?.getChildren('field') ?? []) {
    if (field.attrs.var === undefined) continue;
    out[field.attrs.var] = field.getChildren('value').map((v) => v.getText());
  }
  return out;
}

export async function stopAll(clients: TestClient[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
}

/** Waits until `client` has seen `occupant` arrive (an available presence from it). */
export function seen(client: TestClient, occupant: string): Promise<XmlElement> {
  return client.waitFor(
    (el) => el.name === 'presence' && el.attrs.from === occupant && el.attrs.type === undefined,
  );
}

export const MAM = 'urn:xmpp:mam:2';
export const RSM = 'http://jabber.org/protocol/rsm';
export const FORWARD = 'urn:xmpp:forward:0';
export const SID = 'urn:xmpp:sid:0';
export const OCCUPANT_ID = 'urn:xmpp:occupant-id:0';

export interface ArchiveQuery {
  fields?: Record<string, string | string[]>;
  rsm?: { max?: number; after?: string; before?: string; index?: number };
  flip?: boolean;
}

export interface ArchiveAnswer {
  iq: XmlElement;
  /** The <result/> messages of the query, in the order they came (all before the iq answer). */
  results: XmlElement[];
}

/** Queries a room's archive (XEP-0313 §4) and collects the results. */
export async function queryArchive(
  client: TestClient,
  room: string,
  query: ArchiveQuery = {},
): Promise<ArchiveAnswer> {
  const queryid = nextId('q');
  const children: XmlElement[] = [];
  if (query.fields) children.push(submitForm(MAM, query.fields));
  if (query.rsm) {
    const { max, after, before, index } = query.rsm;
    children.push(
      xml(
        'set',
        { xmlns: RSM },
        ...(max !== undefined ? [xml('max', {}, String(max))] : []),
        ...(after !== undefined ? [xml('after', {}, after)] : []),
        ...(before !== undefined ? [xml('before', {}, before)] : []),
        ...(index !== undefined ? [xml('index', {}, String(index))] : []),
      ),
    );
  }
  if (query.flip) children.push(xml('flip-page', { xmlns: MAM }));
  const answer = await iq(client, 'set', room, xml('query', { xmlns: MAM, queryid }, ...children));
  const results = client.received.filter(
    (el) => el.name === 'message' && el.getChild('result', MAM)?.attrs.queryid === queryid,
  );
  return { iq: answer, results };
}

/** The archived message inside a result. */
export function forwardedOf(result: XmlElement): XmlElement {
  return result.getChild('result', MAM)!.getChild('forwarded', FORWARD)!.getChild('message')!;
}

/** The archive ids of a query's results. */
export function resultIds(answer: ArchiveAnswer): string[] {
  return answer.results.map((m) => m.getChild('result', MAM)!.attrs.id!);
}

/** The body texts of a query's results. */
export function resultBodies(answer: ArchiveAnswer): (string | null)[] {
  return answer.results.map((m) => forwardedOf(m).getChildText('body'));
}

/** What <fin/> says: complete, and the RSM answer. */
export function finOf(answer: ArchiveAnswer) {
  expect(answer.iq.attrs.type, answer.iq.toString()).to.equal('result');
  const fin = answer.iq.getChild('fin', MAM)!;
  const set = fin.getChild('set', RSM)!;
  const first = set.getChild('first');
  return {
    complete: fin.attrs.complete,
    first: first?.getText(),
    index: first?.attrs.index,
    last: set.getChildText('last') ?? undefined,
    count: set.getChildText('count') ?? undefined,
  };
}

/** The stanza-id a room gave a message. */
export function stanzaIdBy(message: XmlElement, by: string): string | undefined {
  return message.getChildren('stanza-id', SID).find((s) => s.attrs.by === by)?.attrs.id;
}
