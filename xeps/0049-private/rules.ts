// XEP-0049 §2.3 (Elements): which elements private storage accepts, and what counts as empty.

import type { Element } from '../../src/xml/element.js';

/**
 * Namespaces reserved in Jabber (those beginning with 'jabber:' or 'http://jabber.org/', and
 * 'vcard-temp'). Refusing them is optional; it keeps clients from hiding protocol data (a
 * vCard, a roster) where the server's own handlers never look.
 */
export function isReservedNamespace(ns: string): boolean {
  return ns.startsWith('jabber:') || ns.startsWith('http://jabber.org/') || ns === 'vcard-temp';
}

/**
 * Whether the element holds nothing but namespace declarations. Storing one is the same as
 * clearing the key: a get for a key never stored answers exactly such an element.
 */
export function isEmptyElement(el: Element): boolean {
  if (el.children.length > 0) return false;
  for (const key in el.attrs) if (key !== 'xmlns' && !key.startsWith('xmlns:')) return false;
  return true;
}
