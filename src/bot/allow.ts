// Who may use the assistant: a list of JIDs and domain patterns, compiled once into sets so
// that every incoming stanza is checked with a few hash lookups.
//
//   user@example.org      that account
//   example.org           every account of example.org (the same as *@example.org)
//   *.example.org         every account of every subdomain of example.org
//   *@*.example.org       the same
//   *                     everyone (a public assistant)

import type { JID } from '../jid.js';
import { prepareDomainpart, prepareLocalpart } from '../jid.js';

export type AllowPattern =
  | { readonly kind: 'anyone'; readonly source: string }
  | { readonly kind: 'account'; readonly bare: string; readonly source: string }
  | { readonly kind: 'domain'; readonly domain: string; readonly source: string }
  | { readonly kind: 'subdomains'; readonly suffix: string; readonly source: string };

/** A pattern in its normal form, or undefined when it is not one. */
export function parsePattern(raw: string): AllowPattern | undefined {
  const text = raw.trim();
  if (text === '*') return { kind: 'anyone', source: '*' };
  const at = text.indexOf('@');
  const local = at < 0 ? '*' : text.slice(0, at);
  const host = at < 0 ? text : text.slice(at + 1);
  if (host.includes('/') || host.includes('@')) return undefined;
  try {
    if (host.startsWith('*.')) {
      if (local !== '*') return undefined;
      const suffix = prepareDomainpart(host.slice(2));
      return { kind: 'subdomains', suffix: '.' + suffix, source: `*.${suffix}` };
    }
    const domain = prepareDomainpart(host);
    if (domain.includes('*')) return undefined;
    if (local === '*') return { kind: 'domain', domain, source: domain };
    const bare = `${prepareLocalpart(local)}@${domain}`;
    return { kind: 'account', bare, source: bare };
  } catch {
    return undefined;
  }
}

export class AllowList {
  private readonly anyone: boolean;
  private readonly accounts = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly suffixes: string[] = [];

  /** Patterns as the config gives them (already in normal form), or the default: `defaultDomain`'s users. */
  constructor(patterns: readonly string[], defaultDomain: string) {
    let anyone = false;
    const list = patterns.length > 0 ? patterns : [defaultDomain];
    for (const raw of list) {
      const pattern = parsePattern(raw);
      if (pattern === undefined) throw new Error(`not an allow pattern: ${JSON.stringify(raw)}`);
      switch (pattern.kind) {
        case 'anyone':
          anyone = true;
          break;
        case 'account':
          this.accounts.add(pattern.bare);
          break;
        case 'domain':
          this.domains.add(pattern.domain);
          break;
        case 'subdomains':
          this.suffixes.push(pattern.suffix);
          break;
      }
    }
    this.anyone = anyone;
  }

  /** Whether this address (a user's; servers and components are never people) may use the assistant. */
  allows(address: JID): boolean {
    if (address.local === '') return false;
    if (this.anyone) return true;
    if (this.domains.has(address.domain) || this.accounts.has(address.bare)) return true;
    for (const suffix of this.suffixes) if (address.domain.endsWith(suffix)) return true;
    return false;
  }
}
