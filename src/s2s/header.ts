// The header of a server-to-server stream (RFC 6120 §4.7, §4.8; XEP-0220 §2.1 for the
// dialback namespace declaration): what both directions check before anything else.

import { StreamError } from '../core/errors.js';
import { tryParseJID } from '../jid.js';
import type { Attrs } from '../xml/element.js';
import { NS } from '../xml/ns.js';

export interface S2SHeader {
  /** The sender's domain, when it gave a valid one (RFC 6120 §4.7.1 lets it leave it out). */
  readonly from: string | undefined;
  /** The domain the stream is for, when given and valid. */
  readonly to: string | undefined;
  readonly id: string | undefined;
  /** Whether the header declares the dialback namespace (XEP-0220 §2.1). */
  readonly dialback: boolean;
}

/** A bare domain JID (no local part, no resource), prepared; undefined otherwise. */
export function domainOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const jid = tryParseJID(value);
  return jid && jid.local === '' && jid.resource === '' ? jid.domain : undefined;
}

/** Parses a peer's header, or names the stream error it earns. */
export function parseS2SHeader(name: string, attrs: Attrs): S2SHeader | StreamError {
  const colon = name.indexOf(':');
  const prefix = colon < 0 ? undefined : name.slice(0, colon);
  const local = colon < 0 ? name : name.slice(colon + 1);
  const streamNs = prefix === undefined ? attrs.xmlns : attrs[`xmlns:${prefix}`];
  if (local !== 'stream' || streamNs !== NS.STREAM)
    return new StreamError('invalid-namespace', `the stream element must be <stream xmlns='${NS.STREAM}'>`);
  if (prefix === undefined)
    return new StreamError('bad-namespace-prefix', 'use the stream: prefix for the stream element');
  if (attrs.xmlns !== NS.SERVER)
    return new StreamError('invalid-namespace', `the content namespace of a server stream is ${NS.SERVER}`);
  const version = attrs.version;
  const major = version === undefined ? 0 : Number.parseInt(version.split('.')[0] ?? '', 10);
  if (major !== 1)
    return new StreamError('unsupported-version', 'Warbler speaks XMPP version 1.0 (with TLS) to servers');
  return {
    from: domainOf(attrs.from),
    to: domainOf(attrs.to),
    id: attrs.id,
    dialback: attrs['xmlns:db'] === NS.DIALBACK,
  };
}

/** The header we send: jabber:server, with the dialback prefix declared (XEP-0220 §2.1). */
export function s2sHeaderAttrs(extra: Record<string, string | undefined>): Attrs {
  const attrs: Attrs = {
    xmlns: NS.SERVER,
    'xmlns:stream': NS.STREAM,
    'xmlns:db': NS.DIALBACK,
    version: '1.0',
  };
  for (const key in extra) if (extra[key] !== undefined) attrs[key] = extra[key];
  return attrs;
}
