// Loading the configuration: read the TOML file once at start, check every key against the
// declared schemas (core options plus the sections modules declare), fill in defaults, resolve
// paths, and freeze the result. Nothing reads the file again, and nothing can change the
// loaded object, so every part of the server sees the same validated values.
//
// The first problem found stops the load with a ConfigError whose message names the file, the
// full dotted key, what is expected and what was found, in words an operator can act on.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { type CoreConfig, coreSchema } from './options.js';
import type {
  ConfigOf,
  Field,
  Fields,
  IntField,
  PathField,
  Section,
  StrField,
  StrListField,
  Table,
  ValuesOf,
} from './schema.js';

export type ConfigErrorCode =
  /** The file could not be read. */
  | 'CONFIG_FILE'
  /** The file is not valid TOML. */
  | 'CONFIG_SYNTAX'
  /** A key that no schema declares (usually a typo). */
  | 'CONFIG_UNKNOWN_KEY'
  /** A value of the wrong TOML type: a string where an integer belongs. */
  | 'CONFIG_TYPE'
  /** An integer outside its range, or a list with too few items. */
  | 'CONFIG_RANGE'
  /** A value of the right type that is not allowed: not a choice, a malformed domain, a duplicate. */
  | 'CONFIG_VALUE'
  /** A required key that is absent. */
  | 'CONFIG_MISSING'
  /** A programming error in the schemas themselves, such as two sections with one name. */
  | 'CONFIG_SCHEMA';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** The file as it was given, when there is one. */
  readonly file: string | undefined;
  /** The full dotted key the error is about: 'c2s.port', 'hosts[1]', 'tls.hosts."example.org"'. */
  readonly key: string | undefined;
  /** For CONFIG_SYNTAX: where, 1-based. */
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(
    code: ConfigErrorCode,
    message: string,
    details: { file?: string; key?: string; line?: number; column?: number } = {},
  ) {
    super(message);
    this.name = 'ConfigError';
    this.code = code;
    this.file = details.file;
    this.key = details.key;
    this.line = details.line;
    this.column = details.column;
  }
}

/**
 * Where the configuration comes from. `file` alone: read that file. `text` alone: that TOML,
 * with paths relative to the current directory. Both: that TOML, named and located as if read
 * from `file` (the file itself is not read). Neither: the defaults.
 */
export interface ConfigSource {
  file?: string;
  text?: string;
}

/** Top-level sections declared by modules, by section name. */
export type SectionSchemas = { readonly [name: string]: Section };

/** The loaded configuration: the core options plus the modules' sections. */
export type ConfigWith<X extends SectionSchemas> = CoreConfig & { readonly [K in keyof X]: ConfigOf<X[K]> };

/** The schema of the whole file: the core options with the modules' sections beside them. */
export function rootSchema(extraSections?: SectionSchemas): Section {
  if (!extraSections) return coreSchema;
  for (const name of Object.keys(extraSections))
    if (Object.hasOwn(coreSchema.fields, name))
      throw new ConfigError(
        'CONFIG_SCHEMA',
        `a module declares config section [${name}], which is already a core option; rename the module's section`,
      );
  const root: Section = {
    kind: 'section',
    doc: coreSchema.doc,
    fields: { ...coreSchema.fields, ...extraSections },
  };
  if (coreSchema.check) root.check = coreSchema.check;
  return root;
}

export function loadConfig<X extends SectionSchemas = Record<never, never>>(
  source: ConfigSource,
  extraSections?: X,
): ConfigWith<X> {
  const { file } = source;
  const ctx: Context = {
    label: file === undefined ? 'config' : `config ${file}`,
    file,
    baseDir: file === undefined ? process.cwd() : dirname(resolve(file)),
    root: rootSchema(extraSections),
  };
  const text = source.text ?? (file === undefined ? '' : readConfigFile(ctx, file));
  const raw = parseToml(ctx, text);
  return readSection(ctx, ctx.root, raw, []) as ConfigWith<X>;
}

interface Context {
  /** Opens every message: 'config /etc/warbler.toml'. */
  readonly label: string;
  readonly file: string | undefined;
  readonly baseDir: string;
  readonly root: Section;
}

type KeyPath = readonly (string | number)[];
type TomlTable = { [key: string]: unknown };

function readConfigFile(ctx: Context, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'the file does not exist — check the path, or give none to run with the defaults'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied reading the file — check its owner and mode'
          : code === 'EISDIR'
            ? 'this is a directory — give the path of the TOML file in it'
            : `cannot read the file (${(err as Error).message})`;
    throw new ConfigError('CONFIG_FILE', `${ctx.label}: ${reason}`, { file });
  }
}

const TOML_PREFIX = 'Invalid TOML document: ';

function parseToml(ctx: Context, text: string): TomlTable {
  // A byte order mark is invisible in most editors and not valid TOML; forgive it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return parse(body) as TomlTable;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const first = err.message.split('\n', 1)[0]!;
    const reason = first.startsWith(TOML_PREFIX) ? first.slice(TOML_PREFIX.length) : first;
    throw new ConfigError(
      'CONFIG_SYNTAX',
      `${ctx.label}: TOML syntax error at line ${err.line}, column ${err.column}: ${reason}\n\n` +
        err.codeblock.trimEnd(),
      { file: ctx.file, line: err.line, column: err.column },
    );
  }
}

function fail(ctx: Context, code: ConfigErrorCode, at: KeyPath, message: string): never {
  const key = dotted(at);
  throw new ConfigError(code, `${ctx.label}: ${key} ${message}`, { file: ctx.file, key });
}

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function readSection(ctx: Context, schema: Section, raw: TomlTable | undefined, at: KeyPath): object {
  const fields = schema.fields;
  if (raw) for (const key in raw) if (!Object.hasOwn(fields, key)) unknownKey(ctx, schema, at, key, raw[key]);
  const out: Record<string, unknown> = {};
  for (const name in fields) out[name] = readField(ctx, fields[name]!, raw?.[name], [...at, name]);
  Object.freeze(out);
  const problem = schema.check?.(out as ValuesOf<Fields>);
  if (problem) fail(ctx, 'CONFIG_VALUE', [...at, ...problem.at], problem.message);
  return out;
}

function readField(ctx: Context, field: Field, value: unknown, at: KeyPath): unknown {
  switch (field.kind) {
    case 'str':
      return readStr(ctx, field, value, at);
    case 'int':
      return readInt(ctx, field, value, at);
    case 'bool':
      if (value === undefined) return field.default;
      if (typeof value !== 'boolean')
        fail(ctx, 'CONFIG_TYPE', at, `must be true or false ${got(value, true)}`);
      return value;
    case 'strList':
      return readStrList(ctx, field, value, at);
    case 'path':
      return readPath(ctx, field, value, at);
    case 'section':
      if (value === undefined) return readSection(ctx, field, undefined, at);
      if (!isTable(value))
        fail(
          ctx,
          'CONFIG_TYPE',
          at,
          `must be a section, written as a ${header(at)} line followed by its keys ${got(value)}`,
        );
      return readSection(ctx, field, value, at);
    case 'table':
      return readTable(ctx, field, value, at);
  }
}

function readStr(ctx: Context, field: StrField, value: unknown, at: KeyPath): string {
  if (value === undefined) return field.default;
  const { choices } = field;
  const expected = choices
    ? `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`
    : 'must be a string';
  if (typeof value !== 'string') fail(ctx, 'CONFIG_TYPE', at, `${expected} ${got(value)}`);
  if (choices && !choices.includes(value)) fail(ctx, 'CONFIG_VALUE', at, `${expected} ${got(value)}`);
  return value;
}

function readInt(ctx: Context, field: IntField, value: unknown, at: KeyPath): number {
  if (value === undefined) return field.default;
  const { min, max, unit } = field;
  const expected = unit
    ? `must be a whole number of ${unit} from ${min} to ${max}`
    : `must be an integer from ${min} to ${max}`;
  if (typeof value !== 'number' || !Number.isInteger(value))
    fail(ctx, 'CONFIG_TYPE', at, `${expected} ${got(value, true)}`);
  if (value < min || value > max) fail(ctx, 'CONFIG_RANGE', at, `${expected} ${got(value)}`);
  return value;
}

function readStrList(ctx: Context, field: StrListField, value: unknown, at: KeyPath): readonly string[] {
  if (value === undefined) return field.default;
  if (typeof value === 'string')
    fail(
      ctx,
      'CONFIG_TYPE',
      at,
      `must be a list of strings (got ${describe(value)} — write [${describe(value)}])`,
    );
  if (!Array.isArray(value)) fail(ctx, 'CONFIG_TYPE', at, `must be a list of strings ${got(value)}`);
  if (value.length < field.minItems) {
    const count = field.minItems === 1 ? 'one value' : `${field.minItems} values`;
    fail(ctx, 'CONFIG_RANGE', at, `must list at least ${count} (got ${describeList(value)})`);
  }
  const { item, unique } = field;
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i];
    if (typeof entry !== 'string') fail(ctx, 'CONFIG_TYPE', [...at, i], `must be a string ${got(entry)}`);
    const parsed = item ? item.parse(entry) : entry;
    if (parsed === undefined)
      fail(ctx, 'CONFIG_VALUE', [...at, i], `must be ${item!.expected} ${got(entry)}`);
    if (unique) {
      const first = out.indexOf(parsed);
      if (first >= 0)
        fail(
          ctx,
          'CONFIG_VALUE',
          [...at, i],
          `repeats ${dotted([...at, first])} (${describe(parsed)}) — list each value once`,
        );
    }
    out.push(parsed);
  }
  return Object.freeze(out);
}

function readPath(ctx: Context, field: PathField, value: unknown, at: KeyPath): string | undefined {
  if (value === undefined) {
    if (field.default !== undefined) return resolve(ctx.baseDir, field.default);
    if (field.required) fail(ctx, 'CONFIG_MISSING', at, `is missing — add it (${withoutPeriod(field.doc)})`);
    return undefined;
  }
  if (typeof value !== 'string') fail(ctx, 'CONFIG_TYPE', at, `must be a path (a string) ${got(value)}`);
  if (value === '')
    fail(ctx, 'CONFIG_VALUE', at, 'must be a path, not an empty string — remove the key instead');
  return resolve(ctx.baseDir, value);
}

function readTable(ctx: Context, field: Table, value: unknown, at: KeyPath): object {
  // Keys come from the operator, so the result has no prototype for a key to collide with.
  const out: Record<string, unknown> = Object.create(null);
  if (value === undefined) return Object.freeze(out);
  if (!isTable(value))
    fail(
      ctx,
      'CONFIG_TYPE',
      at,
      `must be a table of sections, each written as ${header([...at, field.exampleKey])} ${got(value)}`,
    );
  const names = new Map<string, string>();
  for (const name in value) {
    const entryAt = [...at, name];
    const key = field.key ? field.key.parse(name) : name;
    if (key === undefined)
      fail(ctx, 'CONFIG_VALUE', entryAt, `is not a valid name: it must be ${field.key!.expected}`);
    const earlier = names.get(key);
    if (earlier !== undefined)
      fail(
        ctx,
        'CONFIG_VALUE',
        entryAt,
        `is the same name as ${dotted([...at, earlier])} — keep one of them`,
      );
    names.set(key, name);
    const entry = value[name];
    if (!isTable(entry))
      fail(
        ctx,
        'CONFIG_TYPE',
        entryAt,
        `must be a section, written as a ${header(entryAt)} line followed by its keys ${got(entry)}`,
      );
    out[key] = readSection(ctx, field.of, entry, entryAt);
  }
  return Object.freeze(out);
}

// --- Unknown keys -------------------------------------------------------------------------

function unknownKey(ctx: Context, schema: Section, at: KeyPath, key: string, value: unknown): never {
  const here = [...at, key];
  const isSection = at.length === 0 && isTable(value);
  const what = isSection ? `unknown section ${header(here)}` : `unknown key ${dotted(here)}`;
  const near = closest(key, Object.keys(schema.fields));
  let advice: string;
  if (near !== undefined) {
    const there = [...at, near];
    advice = `did you mean ${isSection ? header(there) : dotted(there)}?`;
  } else {
    const elsewhere = findField(ctx.root, key, []);
    if (elsewhere && elsewhere.length === 1 && at.length > 0)
      advice = `${key} is a top-level key: move it above the first [section] header`;
    else if (elsewhere) advice = `did you mean ${dotted(elsewhere)}?`;
    else advice = 'remove it (config.example.toml lists every option)';
  }
  throw new ConfigError('CONFIG_UNKNOWN_KEY', `${ctx.label}: ${what} — ${advice}`, {
    file: ctx.file,
    key: dotted(here),
  });
}

/** Where a field with exactly this name is declared, searching sections depth first. */
function findField(schema: Section, name: string, at: readonly string[]): string[] | undefined {
  if (Object.hasOwn(schema.fields, name)) return [...at, name];
  for (const [child, field] of Object.entries(schema.fields)) {
    if (field.kind !== 'section') continue;
    const found = findField(field, name, [...at, child]);
    if (found) return found;
  }
  return undefined;
}

/** The declared name nearest to a misspelt one, if it is near enough to be a typo. */
function closest(typo: string, names: readonly string[]): string | undefined {
  const wanted = normalizeKey(typo);
  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const name of names) {
    const distance = editDistance(wanted, normalizeKey(name));
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replaceAll('-', '_');
}

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and transpositions
 * of adjacent characters each cost 1, so 'prot' is one edit from 'port'.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

// --- Messages -----------------------------------------------------------------------------

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** A key path as it would be written in TOML: c2s.port, tls.hosts."example.org", hosts[1]. */
export function dotted(at: KeyPath): string {
  let s = '';
  for (const part of at) {
    if (typeof part === 'number') s += `[${part}]`;
    else s += (s === '' ? '' : '.') + (BARE_KEY.test(part) ? part : JSON.stringify(part));
  }
  return s;
}

function header(at: KeyPath): string {
  return `[${dotted(at)}]`;
}

function got(value: unknown, hintQuotes = false): string {
  // "5222" and "true" in quotes are strings in TOML: the fix is to drop the quotes.
  if (hintQuotes && typeof value === 'string' && UNQUOTED_SCALAR.test(value))
    return `(got ${describe(value)} — write it without quotes)`;
  return `(got ${describe(value)})`;
}

const UNQUOTED_SCALAR = /^(?:[+-]?\d+|true|false)$/;
const MAX_SHOWN = 60;

function describe(value: unknown): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length <= MAX_SHOWN ? quoted : quoted.slice(0, MAX_SHOWN - 2) + '…"';
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return String(value);
  }
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return describeList(value);
  return 'a section';
}

function describeList(list: readonly unknown[]): string {
  if (list.length === 0) return '[]';
  return list.length === 1 ? 'a list of 1 value' : `a list of ${list.length} values`;
}

function withoutPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}
