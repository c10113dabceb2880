// The XML element every layer of Warbler passes around: stanzas, payloads, stream features.
// Deliberately close to the XML: a name as written (with its prefix, if any), attributes
// as written (namespace declarations included), children in document order. Text is kept
// unescaped; escaping happens once, in toString().

import { escapeAttr, escapeText } from './escape.js';

export type Node = Element | string;
export type Attrs = Record<string, string>;

export class Element {
  name: string;
  attrs: Attrs;
  children: Node[];
  parent: Element | null = null;

  constructor(name: string, attrs?: Attrs | null, children?: Node[]) {
    this.name = name;
    this.attrs = attrs ?? {};
    this.children = [];
    if (children) for (const child of children) this.append(child);
  }

  /** The local part of the name (after any prefix). */
  get localName(): string {
    const colon = this.name.indexOf(':');
    return colon < 0 ? this.name : this.name.slice(colon + 1);
  }

  /** The namespace of this element, resolved through its ancestors' declarations. */
  getNS(): string | undefined {
    const colon = this.name.indexOf(':');
    if (colon < 0 ? false : this.name.startsWith('xml:')) return 'http://www.w3.org/XML/1998/namespace';
    const key = colon < 0 ? 'xmlns' : `xmlns:${this.name.slice(0, colon)}`;
    for (let el: Element | null = this; el; el = el.parent) {
      const ns = el.attrs[key];
      if (ns !== undefined) return ns;
    }
    return undefined;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  append(child: Node): this {
    if (typeof child !== 'string') child.parent = this;
    this.children.push(child);
    return this;
  }

  /** Appends a new child element and returns the child, for building nested payloads. */
  c(name: string, attrs?: Attrs | null): Element {
    const child = new Element(name, attrs);
    this.append(child);
    return child;
  }

  /** Appends text and returns this element. */
  t(text: string): this {
    this.children.push(text);
    return this;
  }

  /** The first child element with this local name and (when given) namespace. */
  getChild(localName: string, ns?: string): Element | undefined {
    for (const child of this.children) {
      if (typeof child === 'string') continue;
      if (child.localName === localName && (ns === undefined || child.getNS() === ns)) return child;
    }
    return undefined;
  }

  getChildren(localName?: string, ns?: string): Element[] {
    const out: Element[] = [];
    for (const child of this.children) {
      if (typeof child === 'string') continue;
      if (localName !== undefined && child.localName !== localName) continue;
      if (ns !== undefined && child.getNS() !== ns) continue;
      out.push(child);
    }
    return out;
  }

  /** Child elements only, skipping text. */
  get elements(): Element[] {
    return this.children.filter((c): c is Element => typeof c !== 'string');
  }

  getChildText(localName: string, ns?: string): string | undefined {
    return this.getChild(localName, ns)?.text;
  }

  /** The concatenated text of the direct text children. */
  get text(): string {
    let s = '';
    for (const child of this.children) if (typeof child === 'string') s += child;
    return s;
  }

  remove(child: Element): this {
    const i = this.children.indexOf(child);
    if (i >= 0) {
      this.children.splice(i, 1);
      child.parent = null;
    }
    return this;
  }

  /** A deep copy, detached from any parent. */
  clone(): Element {
    const copy = new Element(this.name, { ...this.attrs });
    for (const child of this.children) copy.append(typeof child === 'string' ? child : child.clone());
    return copy;
  }

  toString(): string {
    let s = '<' + this.name;
    const attrs = this.attrs;
    for (const key in attrs) {
      const value = attrs[key];
      if (value === undefined) continue;
      s += ' ' + key + '="' + escapeAttr(value) + '"';
    }
    const children = this.children;
    if (children.length === 0) return s + '/>';
    s += '>';
    for (const child of children) s += typeof child === 'string' ? escapeText(child) : child.toString();
    return s + '</' + this.name + '>';
  }

  /** The serialized opening tag alone, as for a stream header. */
  openTag(): string {
    let s = '<' + this.name;
    for (const key in this.attrs) {
      const value = this.attrs[key];
      if (value !== undefined) s += ' ' + key + '="' + escapeAttr(value) + '"';
    }
    return s + '>';
  }
}

/**
 * Builds an element: `x('iq', { type: 'result', id }, x('query', { xmlns: NS.DISCO_INFO }))`.
 * Attributes whose value is undefined are left out, so optional attributes read naturally.
 */
export function x(
  name: string,
  attrs?: Record<string, string | number | undefined> | null,
  ...children: Array<Node | Node[] | undefined | null | false>
): Element {
  const clean: Attrs = {};
  if (attrs)
    for (const key in attrs) {
      const value = attrs[key];
      if (value !== undefined) clean[key] = String(value);
    }
  const el = new Element(name, clean);
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) for (const c of child) el.append(c);
    else el.append(child);
  }
  return el;
}
