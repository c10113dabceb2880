// XEP-0004: Data Forms — https://xmpp.org/extensions/xep-0004.html
// Just what pubsub needs: reading a submitted form's fields (§3.2, and the FORM_TYPE of
// XEP-0068 §3), and writing the fields of a form the server sends (§3.3).

import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export type FieldType = 'boolean' | 'hidden' | 'list-multi' | 'list-single' | 'text-single';

/** A submitted form: its FORM_TYPE, and every other field's values by var, in order. */
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

export interface FieldSpec {
  var: string;
  type?: FieldType;
  label?: string;
  values: readonly string[];
  options?: readonly string[];
}

/** A form of `type` ('form' to fill in, 'result' to read) with its FORM_TYPE first. */
export function buildForm(type: 'form' | 'result', formType: string, fields: readonly FieldSpec[]): Element {
  return x(
    'x',
    { xmlns: NS.DATA_FORMS, type },
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, formType)),
    fields.map((f) =>
      x(
        'field',
        { var: f.var, type: f.type, label: f.label },
        (f.options ?? []).map((o) => x('option', null, x('value', null, o))),
        f.values.map((v) => x('value', null, v)),
      ),
    ),
  );
}
