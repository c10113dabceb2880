// XEP-0115: Entity Capabilities — https://xmpp.org/extensions/xep-0115.html — as a PEP
// service reads the caps of the clients it notifies (XEP-0163 §4.3, XEP-0060 §9.2): which
// NodeIDs each client wants notifications for ("NodeID+notify" features).
//
//   §5.4  processing a <c/>: look the 'ver' up in the cache; when unknown, ask the entity's
//         disco#info for '<node>#<ver>', rebuild the verification string (§5.1, the caps
//         module's verification.ts) and cache the answer globally only when it matches; a
//         mismatch, an unknown hash function or a legacy <c/> without 'hash' (§8.3) is used
//         for that entity alone, never cached
//   §5.4 step 3.6 / §6.2: an answer with duplicate identities or features, or forms that
//         break the FORM_TYPE rules, is not valid either
//
// Verified answers are kept in SQLite (they never change: the 'ver' is their hash) with the
// most used in memory; several presences carrying the same unknown 'ver' wait on one query.

import { createHash } from 'node:crypto';
import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { type CapsIdentity, compareOctets, verificationInput } from '../0115-caps/verification.js';

/** What a presence's <c/> says. */
export interface CapsRef {
  /** The hash function (§5.1), or undefined for legacy caps (§8.3). */
  readonly hash: string | undefined;
  readonly node: string;
  readonly ver: string;
}

export function readCaps(presence: Element): CapsRef | undefined {
  const c = presence.getChild('c', NS.CAPS);
  if (c === undefined) return undefined;
  const { hash, node, ver } = c.attrs;
  if (node === undefined || ver === undefined || node === '' || ver === '') return undefined;
  return { hash, node, ver };
}

/** Hash functions of the IANA registry (§5.1) that Node offers, by their registered names. */
const HASHES: ReadonlyMap<string, string> = new Map([
  ['sha-1', 'sha1'],
  ['sha-224', 'sha224'],
  ['sha-256', 'sha256'],
  ['sha-384', 'sha384'],
  ['sha-512', 'sha512'],
]);

/** The global cache key of verifiable caps; undefined for those answered per entity. */
export function cacheKey(caps: CapsRef): string | undefined {
  return caps.hash !== undefined && HASHES.has(caps.hash) ? `${caps.hash} ${caps.ver}` : undefined;
}

/** A disco#info answer as §5.1 reads it. */
export interface DiscoInfo {
  identities: CapsIdentity[];
  features: string[];
  forms: Element[];
}

/** Reads a disco#info <query/>; undefined when §5.4 step 3.6 says it is not a valid answer. */
export function readDiscoInfo(query: Element): DiscoInfo | undefined {
  const identities: CapsIdentity[] = [];
  const features: string[] = [];
  const forms: Element[] = [];
  const seenIdentities = new Set<string>();
  const seenFeatures = new Set<string>();
  const formTypes = new Set<string>();
  for (const child of query.elements) {
    const ns = child.getNS();
    if (child.localName === 'identity' && ns === NS.DISCO_INFO) {
      const { category, type, name } = child.attrs;
      if (category === undefined || type === undefined) return undefined;
      const lang = child.attrs['xml:lang'];
      const key = `${category}/${type}/${lang ?? ''}/${name ?? ''}`;
      if (seenIdentities.has(key)) return undefined;
      seenIdentities.add(key);
      identities.push({ category, type, lang, name });
    } else if (child.localName === 'feature' && ns === NS.DISCO_INFO) {
      const feature = child.attrs.var;
      if (feature === undefined || seenFeatures.has(feature)) return undefined;
      seenFeatures.add(feature);
      features.push(feature);
    } else if (child.localName === 'x' && ns === NS.DATA_FORMS) {
      const formType = formTypeOf(child);
      // §5.4 3.6: a FORM_TYPE given twice, or a form whose FORM_TYPE is not hidden, is invalid;
      // forms without FORM_TYPE are left out of the hash (§5.1 step 7).
      if (formType === null || (formType !== undefined && formTypes.has(formType))) return undefined;
      if (formType !== undefined) formTypes.add(formType);
      forms.push(child);
    }
  }
  return { identities, features, forms };
}

/** The FORM_TYPE of a form: undefined when it has none, null when it is malformed. */
function formTypeOf(form: Element): string | undefined | null {
  let found: string | undefined;
  for (const field of form.getChildren('field')) {
    if (field.attrs.var !== 'FORM_TYPE') continue;
    const values = field.getChildren('value');
    if (found !== undefined || field.attrs.type !== 'hidden' || values.length !== 1) return null;
    found = values[0]!.text;
  }
  return found;
}

/** §5.4 step 3.7–3.9: whether the answer hashes to the announced 'ver'. */
export function verifies(info: DiscoInfo, caps: CapsRef): boolean {
  const algorithm = caps.hash === undefined ? undefined : HASHES.get(caps.hash);
  if (algorithm === undefined) return false;
  const input = verificationInput(info.identities, info.features, info.forms);
  return createHash(algorithm).update(input, 'utf8').digest('base64') === caps.ver;
}

const NOTIFY = '+notify';

/** XEP-0060 §9.2: the NodeIDs a client wants notifications for. */
export function notifyInterests(features: Iterable<string>): ReadonlySet<string> {
  const nodes = new Set<string>();
  for (const feature of features) {
    if (feature.length > NOTIFY.length && feature.endsWith(NOTIFY))
      nodes.add(feature.slice(0, -NOTIFY.length));
  }
  return nodes;
}

/** The verified answers, by cache key; features kept whole (other uses may want them). */
export interface CapsStore {
  get(key: string): Promise<readonly string[] | undefined>;
  put(key: string, features: readonly string[]): Promise<void>;
}

/** Asks an entity for its disco#info on a node; resolves with the reply stanza (result or error). */
export type DiscoRequester = (from: JID, to: JID, node: string) => Promise<Element>;

const NO_INTERESTS: ReadonlySet<string> = new Set();

export class CapsCache {
  /** Interests by cache key, most recently used last (a Map keeps insertion order). */
  private readonly memory = new Map<string, ReadonlySet<string>>();
  private readonly inflight = new Map<string, Promise<ReadonlySet<string>>>();

  constructor(
    private readonly store: CapsStore,
    private readonly request: DiscoRequester,
    private readonly onInvalid: (entity: JID, caps: CapsRef, why: string) => void,
    private readonly maxInMemory = 10_000,
  ) {}

  /** The interests of caps already known in memory: no waiting, no allocation. */
  known(caps: CapsRef): ReadonlySet<string> | undefined {
    const key = cacheKey(caps);
    return key === undefined ? undefined : this.memory.get(key);
  }

  /**
   * The interests of an entity's caps: from memory, from storage, or by asking `entity` on
   * behalf of `asker` (the account whose service wants to know). Never rejects: an entity that
   * does not answer, or answers wrongly, has no interests.
   */
  interests(caps: CapsRef, asker: JID, entity: JID): Promise<ReadonlySet<string>> {
    const key = cacheKey(caps);
    if (key === undefined) return this.ask(caps, asker, entity).then((info) => this.ofUncached(info));
    const cached = this.memory.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.load(key, caps, asker, entity).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async load(key: string, caps: CapsRef, asker: JID, entity: JID): Promise<ReadonlySet<string>> {
    const stored = await this.store.get(key);
    if (stored !== undefined) return this.remember(key, notifyInterests(stored));
    const info = await this.ask(caps, asker, entity);
    if (info === undefined) return NO_INTERESTS;
    if (!verifies(info, caps)) {
      // §5.4 3.9: not cached, but good enough for this entity's own presence.
      this.onInvalid(entity, caps, 'the disco#info answer does not hash to the announced ver');
      return notifyInterests(info.features);
    }
    await this.store.put(key, [...info.features].sort(compareOctets));
    return this.remember(key, notifyInterests(info.features));
  }

  private ofUncached(info: DiscoInfo | undefined): ReadonlySet<string> {
    return info === undefined ? NO_INTERESTS : notifyInterests(info.features);
  }

  private async ask(caps: CapsRef, asker: JID, entity: JID): Promise<DiscoInfo | undefined> {
    let reply: Element;
    try {
      reply = await this.request(asker, entity, `${caps.node}#${caps.ver}`);
    } catch {
      return undefined; // timed out, or could not be sent
    }
    const query = reply.attrs.type === 'result' ? reply.getChild('query', NS.DISCO_INFO) : undefined;
    if (query === undefined) return undefined;
    const info = readDiscoInfo(query);
    if (info === undefined) this.onInvalid(entity, caps, 'the disco#info answer is malformed');
    return info;
  }

  private remember(key: string, interests: ReadonlySet<string>): ReadonlySet<string> {
    this.memory.delete(key);
    this.memory.set(key, interests);
    if (this.memory.size > this.maxInMemory) this.memory.delete(this.memory.keys().next().value!);
    return interests;
  }
}
