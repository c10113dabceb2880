// A small typed schema language for configuration. Each option is declared once — its type,
// default, allowed values and a doc sentence — and everything else is derived from that one
// declaration: validation (load.ts), the TypeScript type of the loaded config (ConfigOf), and
// the documented example file (example.ts).
//
// Declarations are checked when they are made (a default outside its own range is a
// programming error, reported at import time rather than when an operator trips over it).

/** A rule for the items of a string list or the keys of a table. */
export interface ItemRule {
  /** What a valid item is, phrased to follow "must be": 'a domain name', 'an IP address'. */
  readonly expected: string;
  /** The normalized item, or undefined when the item is invalid. */
  parse(item: string): string | undefined;
}

/** A problem found by a section's cross-field check, reported as a CONFIG_VALUE error. */
export interface Problem {
  /** Where, relative to the checked section: ['tls', 'hosts', 'example.org']. */
  readonly at: readonly (string | number)[];
  /** Follows the dotted key in the message: 'must differ from c2s.port (both are 5222)'. */
  readonly message: string;
}

export interface StrField<T extends string = string> {
  readonly kind: 'str';
  readonly doc: string;
  readonly default: T;
  readonly choices: readonly T[] | undefined;
}

export interface IntField {
  readonly kind: 'int';
  readonly doc: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** A plural noun for documentation and messages: 'seconds', 'bytes'. */
  readonly unit: string | undefined;
}

export interface BoolField {
  readonly kind: 'bool';
  readonly doc: string;
  readonly default: boolean;
}

export interface StrListField {
  readonly kind: 'strList';
  readonly doc: string;
  readonly default: readonly string[];
  readonly minItems: number;
  /** Reject a list that names the same (normalized) item twice. */
  readonly unique: boolean;
  readonly item: ItemRule | undefined;
}

/**
 * A file or directory path, resolved against the config file's directory (or the current
 * directory when there is no file). `Present` is true when the loaded value is always a
 * string: the path has a default or is required.
 */
export interface PathField<Present extends boolean = boolean> {
  readonly kind: 'path';
  readonly doc: string;
  readonly default: string | undefined;
  readonly required: Present;
  /** Shown, commented out, in the example file for a path that has no default. */
  readonly example: string | undefined;
}

export interface Section<F extends Fields = Fields> {
  readonly kind: 'section';
  readonly doc: string | undefined;
  readonly fields: F;
  // Method syntax on purpose: it keeps Section<Specific> assignable to Section<Fields>.
  check?(value: ValuesOf<F>): Problem | undefined;
}

/** Same-shaped sections keyed by a name the operator chooses: [tls.hosts."example.org"]. */
export interface Table<S extends Section = Section> {
  readonly kind: 'table';
  readonly of: S;
  readonly key: ItemRule | undefined;
  /** The key shown in the example file. */
  readonly exampleKey: string;
}

export type Field = StrField | IntField | BoolField | StrListField | PathField | Section | Table;
export type Fields = { readonly [name: string]: Field };

export type ValueOf<F extends Field> =
  F extends StrField<infer T>
    ? T
    : F extends IntField
      ? number
      : F extends BoolField
        ? boolean
        : F extends StrListField
          ? readonly string[]
          : F extends PathField<infer Present>
            ? Present extends true
              ? string
              : string | undefined
            : F extends Section<infer G>
              ? ValuesOf<G>
              : F extends Table<infer S>
                ? { readonly [key: string]: ConfigOf<S> }
                : never;

export type ValuesOf<F extends Fields> = { readonly [K in keyof F]: ValueOf<F[K]> };

/** The type of a loaded (validated, defaulted, frozen) section. */
export type ConfigOf<S extends Section> = ValuesOf<S['fields']>;

export function str<const C extends readonly string[]>(options: {
  default: NoInfer<C[number]>;
  doc: string;
  choices: C;
}): StrField<C[number]>;
export function str(options: { default: string; doc: string }): StrField<string>;
export function str(options: { default: string; doc: string; choices?: readonly string[] }): StrField {
  const choices = options.choices;
  if (choices && !choices.includes(options.default))
    throw new Error(`schema: default ${JSON.stringify(options.default)} is not among the choices`);
  return { kind: 'str', doc: options.doc, default: options.default, choices };
}

export function int(options: {
  default: number;
  min: number;
  max: number;
  doc: string;
  unit?: string;
}): IntField {
  const { default: value, min, max } = options;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max)
    throw new Error(`schema: invalid integer range ${min}..${max}`);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`schema: default ${value} is outside ${min}..${max}`);
  return { kind: 'int', doc: options.doc, default: value, min, max, unit: options.unit };
}

export function bool(options: { default: boolean; doc: string }): BoolField {
  return { kind: 'bool', doc: options.doc, default: options.default };
}

export function strList(options: {
  default: readonly string[];
  doc: string;
  minItems?: number;
  unique?: boolean;
  item?: ItemRule;
}): StrListField {
  const minItems = options.minItems ?? 0;
  const { item } = options;
  if (options.default.length < minItems) throw new Error(`schema: default has fewer than ${minItems} items`);
  if (item)
    for (const value of options.default)
      if (item.parse(value) !== value)
        throw new Error(
          `schema: default item ${JSON.stringify(value)} is not ${item.expected} in normal form`,
        );
  return {
    kind: 'strList',
    doc: options.doc,
    default: Object.freeze([...options.default]),
    minItems,
    unique: options.unique ?? false,
    item,
  };
}

export function path(options: { default: string; doc: string }): PathField<true>;
export function path(options: { required: true; doc: string; example?: string }): PathField<true>;
export function path(options: { doc: string; example?: string }): PathField<false>;
export function path(options: {
  default?: string;
  required?: boolean;
  doc: string;
  example?: string;
}): PathField {
  if (options.default === '') throw new Error('schema: a path default must not be empty');
  return {
    kind: 'path',
    doc: options.doc,
    default: options.default,
    required: options.required ?? false,
    example: options.example,
  };
}

export function section<const F extends Fields>(options: {
  doc?: string;
  fields: F;
  check?: (value: ValuesOf<F>) => Problem | undefined;
}): Section<F> {
  const out: Section<F> = { kind: 'section', doc: options.doc, fields: options.fields };
  if (options.check) out.check = options.check;
  return out;
}

export function table<S extends Section>(of: S, options: { key?: ItemRule; exampleKey: string }): Table<S> {
  if (options.key && options.key.parse(options.exampleKey) === undefined)
    throw new Error(
      `schema: example key ${JSON.stringify(options.exampleKey)} is not ${options.key.expected}`,
    );
  return { kind: 'table', of, key: options.key, exampleKey: options.exampleKey };
}
