// What a piece of Warbler declares it implements. Declarations live beside the code (a
// module's definition, or src/specs.ts for what the core implements itself); xeps/README.md
// and xeps/doap.xml are generated from them, and a test fails when those files are stale or
// when a declared test file does not exist.

export type SpecRef = { xep: number } | { rfc: number };

export interface SpecDeclaration {
  /** The XEP or RFC number. */
  spec: SpecRef;
  /** Short title, as the spec names itself. */
  title: string;
  /** The version of the spec implemented (XEPs carry revisions; for an RFC, '1.0'). */
  version: string;
  status: 'complete' | 'partial';
  /** For partial support: what is missing. For complete support: any notable choice. */
  note?: string;
  /** Warbler version where this support first shipped. */
  since: string;
  /** Test files (relative to the repository root) that exercise this support. */
  tests: string[];
}
