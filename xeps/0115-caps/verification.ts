// XEP-0115: Entity Capabilities — https://xmpp.org/extensions/xep-0115.html
// §5.1 Generation Method: the string S built from an entity's disco#info answer (identities,
// features, XEP-0128 forms) and its SHA-1 hash, the verification string ('ver').

import { createHash } from 'node:crypto';
import type { Element } from '../../src/xml/element.js';

/** A disco#info identity as §5.1 step 2 sorts and formats it. */
export interface CapsIdentity {
  category: string;
  type: string;
  lang?: string;
  name?: string;
}

/**
 * The "i;octet" collation of RFC 4790 §9.3 that §5.1 requires: the order of the strings'
 * UTF-8 bytes. UTF-8 byte order is code point order, and UTF-16 code unit order differs from
 * it only where a surrogate (U+D800–U+DFFF, half of a code point above U+FFFF) meets a code
 * unit in U+E000–U+FFFF, so comparing code units with that one correction needs no encoding.
 */
export function compareOctets(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

function compareIdentities(a: CapsIdentity, b: CapsIdentity): number {
  return (
    compareOctets(a.category, b.category) ||
    compareOctets(a.type, b.type) ||
    compareOctets(a.lang ?? '', b.lang ?? '') ||
    compareOctets(a.name ?? '', b.name ?? '')
  );
}

interface Form {
  formType: string;
  fields: Array<{ name: string; values: string[] }>;
}

/** A XEP-0128 form as §5.1 step 7 reads it; undefined for one without a FORM_TYPE. */
function readForm(x: Element): Form | undefined {
  let formType: string | undefined;
  const fields: Form['fields'] = [];
  for (const field of x.getChildren('field')) {
    const name = field.attrs.var;
    if (name === undefined) continue;
    const values = field.getChildren('value').map((v) => v.text);
    if (name === 'FORM_TYPE') formType = values[0];
    else fields.push({ name, values: values.sort(compareOctets) });
  }
  if (formType === undefined) return undefined;
  fields.sort((a, b) => compareOctets(a.name, b.name));
  return { formType, fields };
}

/** §5.1 steps 1–7: the string S that is hashed. */
export function verificationInput(
  identities: readonly CapsIdentity[],
  features: readonly string[],
  forms: readonly Element[],
): string {
  let s = '';
  for (const id of [...identities].sort(compareIdentities))
    s += `${id.category}/${id.type}/${id.lang ?? ''}/${id.name ?? ''}<`;
  for (const feature of [...features].sort(compareOctets)) s += `${feature}<`;
  const read: Form[] = [];
  for (const form of forms) {
    const parsed = readForm(form);
    if (parsed) read.push(parsed);
  }
  read.sort((a, b) => compareOctets(a.formType, b.formType));
  for (const form of read) {
    s += `${form.formType}<`;
    for (const field of form.fields) {
      s += `${field.name}<`;
      for (const value of field.values) s += `${value}<`;
    }
  }
  return s;
}

/** §5.1 steps 8–9 with the mandatory-to-implement SHA-1 (§9.1): Base64 of the UTF-8 input's hash. */
export function verificationString(input: string): string {
  return createHash('sha1').update(input, 'utf8').digest('base64');
}
