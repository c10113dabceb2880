import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { allDeclarations, REGENERATE_SPEC_DOCS, renderDoap, renderReadme } from '../../src/ops/spec-docs.js';

const root = new URL('../../../', import.meta.url);

describe('xeps/README.md and xeps/doap.xml', () => {
  const specs = allDeclarations();

  it('README.md is what the declarations render', () => {
    const committed = readFileSync(new URL('xeps/README.md', root), 'utf8');
    if (committed !== renderReadme(specs))
      expect.fail(`xeps/README.md is stale; regenerate: ${REGENERATE_SPEC_DOCS}`);
  });

  it('doap.xml is what the declarations render', () => {
    const committed = readFileSync(new URL('xeps/doap.xml', root), 'utf8');
    if (committed !== renderDoap(specs))
      expect.fail(`xeps/doap.xml is stale; regenerate: ${REGENERATE_SPEC_DOCS}`);
  });

  it('every declared test file exists', () => {
    const missing = specs.flatMap((s) => s.tests.filter((t) => !existsSync(new URL(t, root))));
    expect(missing).to.deep.equal([]);
  });

  it('every declaration names at least one test, and no spec is declared twice', () => {
    expect(specs.filter((s) => s.tests.length === 0)).to.deep.equal([]);
    const keys = specs.map((s) => JSON.stringify(s.spec));
    expect(new Set(keys).size).to.equal(keys.length);
  });
});
