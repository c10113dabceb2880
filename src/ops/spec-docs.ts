// Renders xeps/README.md and xeps/doap.xml from the spec declarations. Run as a program
// (node dist/src/ops/spec-docs.js) it rewrites both files; a unit test fails when the
// committed files differ from what this renders.

import { realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SpecDeclaration } from '../core/spec.js';
import { BUILTIN_MODULES } from '../modules.js';
import { CORE_SPECS } from '../specs.js';
import { escapeAttr, escapeText } from '../xml/escape.js';

export const REGENERATE_SPEC_DOCS = 'npx tsc -p . && node dist/src/ops/spec-docs.js';

export interface DeclaredSpec extends SpecDeclaration {
  /** Where it is implemented: 'core' or the module's name. */
  where: string;
}

export function allDeclarations(): DeclaredSpec[] {
  const out: DeclaredSpec[] = CORE_SPECS.map((s) => ({ ...s, where: 'core' }));
  for (const m of BUILTIN_MODULES) for (const s of m.implements) out.push({ ...s, where: m.name });
  return out.sort((a, b) => order(a) - order(b));
}

function order(s: SpecDeclaration): number {
  return 'rfc' in s.spec ? s.spec.rfc : 100_000 + s.spec.xep;
}

function label(s: SpecDeclaration): string {
  return 'rfc' in s.spec ? `RFC ${s.spec.rfc}` : `XEP-${String(s.spec.xep).padStart(4, '0')}`;
}

function url(s: SpecDeclaration): string {
  return 'rfc' in s.spec
    ? `https://www.rfc-editor.org/rfc/rfc${s.spec.rfc}`
    : `https://xmpp.org/extensions/xep-${String(s.spec.xep).padStart(4, '0')}.html`;
}

export function renderReadme(specs: readonly DeclaredSpec[]): string {
  const lines = [
    '# Supported specifications',
    '',
    `<!-- GENERATED from the spec declarations; do not edit. Regenerate: ${REGENERATE_SPEC_DOCS} -->`,
    '',
    'Each entry is declared beside the code that implements it (a module under `xeps/`, or',
    '`src/specs.ts` for the core) and lists the tests that exercise it.',
    '',
    '| Spec | Title | Version | Status | Where | Notes |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of specs) {
    const note = (s.note ?? '').replace(/\|/g, '\\|');
    lines.push(
      `| [${label(s)}](${url(s)}) | ${s.title} | ${s.version} | ${s.status} | ${s.where} | ${note} |`,
    );
  }
  return lines.join('\n') + '\n';
}

export function renderDoap(specs: readonly DeclaredSpec[]): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- GENERATED from the spec declarations; do not edit. Regenerate: ${REGENERATE_SPEC_DOCS} -->`,
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
    '         xmlns="http://usefulinc.com/ns/doap#"',
    '         xmlns:xmpp="https://linkmauve.fr/ns/xmpp-doap#">',
    '  <Project>',
    '    <name>Warbler</name>',
    '    <shortdesc>An XMPP server in TypeScript on Node.js</shortdesc>',
    '    <license rdf:resource="https://opensource.org/licenses/MIT"/>',
    '    <programming-language>TypeScript</programming-language>',
    '    <category rdf:resource="https://linkmauve.fr/ns/xmpp-doap#category-server"/>',
    '    <os>Linux</os>',
  ];
  for (const s of specs) {
    if ('rfc' in s.spec) {
      lines.push(`    <implements rdf:resource="${escapeAttr(url(s))}"/>`);
      continue;
    }
    lines.push('    <implements>', '      <xmpp:SupportedXep>');
    lines.push(`        <xmpp:xep rdf:resource="${escapeAttr(url(s))}"/>`);
    lines.push(`        <xmpp:status>${s.status}</xmpp:status>`);
    lines.push(`        <xmpp:version>${escapeText(s.version)}</xmpp:version>`);
    lines.push(`        <xmpp:since>${escapeText(s.since)}</xmpp:since>`);
    if (s.note) lines.push(`        <xmpp:note>${escapeText(s.note)}</xmpp:note>`);
    lines.push('      </xmpp:SupportedXep>', '    </implements>');
  }
  lines.push('  </Project>', '</rdf:RDF>');
  return lines.join('\n') + '\n';
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  const root = new URL('../../../', import.meta.url);
  const specs = allDeclarations();
  writeFileSync(new URL('xeps/README.md', root), renderReadme(specs));
  writeFileSync(new URL('xeps/doap.xml', root), renderDoap(specs));
}
