// XEP-0077 §3.2 and §3.3: what a jabber:iq:register set asks for, read once, and the password
// policy applied to new accounts and new passwords alike.

import { StanzaError } from '../../src/core/errors.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export type RegisterSet =
  /** §3.2: cancel the registration (remove the account). */
  | { kind: 'remove' }
  /** §3.1 (register) or §3.3 (change the password): either field may be missing or empty. */
  | { kind: 'credentials'; username: string | undefined; password: string | undefined };

/** Reads a set's <query/>. Throws bad-request when <remove/> comes with anything else (§3.2). */
export function readRegisterSet(query: Element): RegisterSet {
  const children = query.elements;
  if (children.some((child) => child.localName === 'remove' && child.getNS() === NS.REGISTER)) {
    if (children.length !== 1) {
      throw new StanzaError('bad-request', '<remove/> must be the only element of the query');
    }
    return { kind: 'remove' };
  }
  const username = query.getChild('username', NS.REGISTER)?.text.trim();
  const password = query.getChild('password', NS.REGISTER)?.text;
  return { kind: 'credentials', username, password };
}

/** Why a password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string, minLength: number): string | undefined {
  // Characters as people count them (code points), not UTF-16 units.
  let length = 0;
  for (const _ of password) if (++length >= minLength) return undefined;
  return `the password must have at least ${minLength} characters`;
}
