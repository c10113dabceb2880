// Renders config.example.toml from the option declarations, so that the documented example
// can never disagree with what the loader accepts. A test compares the committed file with
// this output. Run as a program, it prints the example:
//
//   node dist/src/config/example.js > config.example.toml

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rootSchema, type SectionSchemas } from './load.js';
import type { Field, Section } from './schema.js';

export const REGENERATE_COMMAND = 'npx tsc -p . && node dist/src/config/example.js > config.example.toml';

const WIDTH = 100;

const PREAMBLE = [
  'Warbler configuration: every option, set to its default value.',
  'Copy this file, keep the options you change, and start Warbler with it; without any file, the defaults ' +
    'apply. Relative paths are resolved against the directory of the configuration file.',
  'This file is generated from the option declarations; regenerate it with:',
];

/** The example configuration file: the core options, then the given module sections. */
export function renderExample(extraSections?: SectionSchemas): string {
  const lines: string[] = [];
  PREAMBLE.forEach((paragraph, i) => {
    if (i > 0) lines.push('#');
    comment(lines, paragraph);
  });
  lines.push(`#   ${REGENERATE_COMMAND}`);
  renderSection(lines, rootSchema(extraSections), [], false, false);
  return lines.join('\n') + '\n';
}

/**
 * `commented` is true inside an example that is shown commented out (a table entry): then
 * every line starts with '#', so that uncommenting the entry is one edit per line.
 */
function renderSection(
  lines: string[],
  schema: Section,
  at: readonly string[],
  commented: boolean,
  afterHeader: boolean,
): void {
  const gap = commented ? '#' : '';
  let first = afterHeader;
  const nested: [string, Field][] = [];
  for (const [name, field] of Object.entries(schema.fields)) {
    // TOML puts a section's own keys before any nested [header].
    if (field.kind === 'section' || field.kind === 'table') {
      nested.push([name, field]);
      continue;
    }
    if (!first) lines.push(gap);
    first = false;
    comment(lines, field.doc);
    const limits = constraint(field);
    if (limits) lines.push('# ' + limits);
    const value = defaultToml(field);
    // A path without a default is optional or per-entry: show an example, commented out.
    if (value === undefined || commented)
      lines.push(`# ${key(name)} = ${value ?? tomlString(exampleOf(field))}`);
    else lines.push(`${key(name)} = ${value}`);
  }
  for (const [name, field] of nested) {
    const here = [...at, name];
    lines.push(gap);
    if (field.kind === 'section') {
      if (field.doc) comment(lines, field.doc);
      lines.push(`${commented ? '# ' : ''}[${dottedKey(here)}]`);
      renderSection(lines, field, here, commented, true);
    } else if (field.kind === 'table') {
      // A table's entries are named by the operator, so the example shows one, commented out.
      const entry = [...here, field.exampleKey];
      if (field.of.doc) comment(lines, field.of.doc);
      lines.push(`# [${dottedKey(entry)}]`);
      renderSection(lines, field.of, entry, true, true);
    }
  }
}

function constraint(field: Field): string {
  if (field.kind === 'int') {
    const unit = field.unit ? ` ${field.unit}` : '';
    return `Range: ${field.min} to ${field.max}${unit}.`;
  }
  if (field.kind === 'str' && field.choices) return `One of: ${field.choices.join(', ')}.`;
  return '';
}

/** The TOML for a field's default, or undefined when it has none. */
function defaultToml(field: Field): string | undefined {
  switch (field.kind) {
    case 'str':
      return tomlString(field.default);
    case 'int':
      return String(field.default);
    case 'bool':
      return String(field.default);
    case 'strList':
      return `[${field.default.map(tomlString).join(', ')}]`;
    case 'path':
      return field.default === undefined ? undefined : tomlString(field.default);
    default:
      return undefined;
  }
}

function exampleOf(field: Field): string {
  return field.kind === 'path' && field.example !== undefined ? field.example : '';
}

// JSON string escapes are a subset of TOML basic-string escapes.
function tomlString(value: string): string {
  return JSON.stringify(value);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

function key(name: string): string {
  return BARE_KEY.test(name) ? name : JSON.stringify(name);
}

function dottedKey(at: readonly string[]): string {
  return at.map(key).join('.');
}

/** Appends `text` as comment lines wrapped to WIDTH columns. */
function comment(lines: string[], text: string): void {
  let line = '# ';
  for (const word of text.split(' ')) {
    if (line.length > 2 && line.length + word.length >= WIDTH) {
      lines.push(line.trimEnd());
      line = '# ';
    }
    line += word + ' ';
  }
  lines.push(line.trimEnd());
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  // The committed example documents the built-in modules' sections too; imported lazily so
  // that the config layer does not depend on the modules when used as a library.
  const { moduleSections } = await import('../modules.js');
  process.stdout.write(renderExample(moduleSections()));
}
