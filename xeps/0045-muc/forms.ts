// XEP-0004: Data Forms — https://xmpp.org/extensions/xep-0004.html — what the room's forms
// need: reading a submitted form (§3.2, with the FORM_TYPE of XEP-0068 §3) and writing the
// forms the room sends (configuration, room information, voice requests, registration).

import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export type FieldType =
  | 'boolean'
  | 'fixed'
  | 'hidden'
  | 'jid-multi'
  | 'jid-single'
  | 'list-multi'
  | 'list-single'
  | 'text-multi'
  | 'text-private'
  | 'text-single';

/** A submitted form: its type, its FORM_TYPE, and every other field's values by var. */
export interface SubmittedForm {
  readonly type: string | undefined;
  readonly formType: string | undefined;
  readonly fields: ReadonlyMap<string, readonly string[]>;
}

/** Reads a jabber:x:data element; undefined when the element is not one. */
export function readForm(form: Element | undefined): SubmittedForm | undefined {
  if (form === undefined || form.localName !== 'x' || form.getNS() !== NS.DATA_FORMS) return undefined;
  let formType: string | undefined;
  const fields = new Map<string, string[]>();
  for (const field of form.getChildren('field')) {
    const name = field.attrs.var;
    if (name === undefined) continue;
    const values = field.getChildren('value').map((v) => v.text);
    if (name === 'FORM_TYPE') formType = values[0];
    else fields.set(name, values);
  }
  return { type: form.attrs.type, formType, fields };
}

/** The first jabber:x:data child of an element. */
export function formIn(parent: Element | undefined): Element | undefined {
  return parent?.getChild('x', NS.DATA_FORMS);
}

/** XEP-0004 §3.3: a boolean is "0", "1", "false" or "true"; undefined for anything else. */
export function parseBoolean(value: string | undefined): boolean | undefined {
  switch (value) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

export interface Option {
  readonly value: string;
  readonly label?: string;
}

export interface FieldSpec {
  readonly var?: string;
  readonly type?: FieldType;
  readonly label?: string;
  readonly values?: readonly string[];
  readonly options?: readonly Option[];
  readonly required?: boolean;
}

export function field(spec: FieldSpec): Element {
  return x(
    'field',
    { var: spec.var, type: spec.type, label: spec.label },
    spec.required === true && x('required'),
    (spec.values ?? []).map((v) => x('value', null, v)),
    (spec.options ?? []).map((o) => x('option', { label: o.label }, x('value', null, o.value))),
  );
}

/** A form of `type` with its FORM_TYPE first (XEP-0068 §3). */
export function buildForm(
  type: 'form' | 'result' | 'submit',
  formType: string,
  fields: readonly FieldSpec[],
  text: { title?: string; instructions?: string } = {},
): Element {
  return x(
    'x',
    { xmlns: NS.DATA_FORMS, type },
    text.title !== undefined && x('title', null, text.title),
    text.instructions !== undefined && x('instructions', null, text.instructions),
    field({ var: 'FORM_TYPE', type: 'hidden', values: [formType] }),
    fields.map(field),
  );
}

export const bool = (value: boolean): string => (value ? '1' : '0');
