// Elements kept as XML text in storage (vCards, private XML, and the like): serialized so
// that the text stands on its own, and parsed back with the same strict parser as the streams.

import { Element } from './element.js';
import { StreamParser } from './parser.js';

/**
 * The element serialized on its own. A payload may use a namespace prefix (or the default
 * namespace) declared on an ancestor, the stanza or its query; those of the declarations it
 * uses are copied onto the stored root so that the text means the same once its ancestors
 * are gone.
 */
export function serializeDetached(el: Element): string {
  let inherited: Record<string, string> | undefined;
  let used: Set<string> | undefined;
  for (let ancestor = el.parent; ancestor; ancestor = ancestor.parent) {
    for (const key in ancestor.attrs) {
      if (key !== 'xmlns' && !key.startsWith('xmlns:')) continue;
      if (el.attrs[key] !== undefined || inherited?.[key] !== undefined) continue;
      used ??= usedPrefixes(el, new Set());
      if (!used.has(key === 'xmlns' ? '' : key.slice(6))) continue;
      inherited ??= {};
      inherited[key] = ancestor.attrs[key]!;
    }
  }
  if (inherited === undefined) return el.toString();
  // A stand-in sharing the children (without adopting them): only serialized, never kept.
  const standIn = new Element(el.name, { ...inherited, ...el.attrs });
  standIn.children = el.children;
  return standIn.toString();
}

/** The prefixes the names in a subtree use ('' for the default namespace). */
function usedPrefixes(el: Element, out: Set<string>): Set<string> {
  const colon = el.name.indexOf(':');
  out.add(colon < 0 ? '' : el.name.slice(0, colon));
  for (const key in el.attrs) {
    const at = key.indexOf(':');
    if (at < 0) continue;
    const prefix = key.slice(0, at);
    if (prefix !== 'xmlns' && prefix !== 'xml') out.add(prefix);
  }
  for (const child of el.children) if (typeof child !== 'string') usedPrefixes(child, out);
  return out;
}

/** Stored text that does not parse back: a corrupted row, or a bug in what wrote it. */
export class StoredXmlError extends Error {
  override name = 'StoredXmlError';
}

const WRAPPER_OPEN = Buffer.from('<stored>');
const WRAPPER_CLOSE = Buffer.from('</stored>');
/** Stored elements passed a stream parser's depth limit once already, nested inside a stanza. */
const MAX_STORED_DEPTH = 256;

/** Parses one element written by serializeDetached. Throws StoredXmlError on anything else. */
export function parseStored(xml: string): Element {
  const body = Buffer.from(xml, 'utf8');
  let element: Element | undefined;
  let extra = false;
  let failure: string | undefined;
  const parser = new StreamParser(
    {
      streamStart: () => {},
      stanza: (el) => {
        if (element === undefined) element = el;
        else extra = true;
      },
      streamEnd: () => {},
      error: (condition, text) => {
        failure = `${condition}: ${text}`;
      },
    },
    { maxStanzaBytes: body.length + WRAPPER_OPEN.length + 1, maxDepth: MAX_STORED_DEPTH },
  );
  parser.write(Buffer.concat([WRAPPER_OPEN, body, WRAPPER_CLOSE]));
  if (failure !== undefined) throw new StoredXmlError(`stored XML does not parse (${failure})`);
  if (element === undefined || extra) throw new StoredXmlError('stored XML is not exactly one element');
  return element;
}
