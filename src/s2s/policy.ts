// Who this server federates with and how (the [s2s] policy options): allow and deny lists,
// whether TLS is required, whether only certificates (never dialback) prove a domain, and the
// static routes that replace DNS for some domains.

import type { ConnectTarget } from '../net/resolve.js';

export interface S2SRoute {
  readonly host: string;
  readonly port: number;
  readonly direct_tls: boolean;
}

export interface S2SPolicyOptions {
  readonly require_encryption: boolean;
  readonly secure_auth: boolean;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly routes: { readonly [domain: string]: S2SRoute };
  readonly bidi: boolean;
}

export class S2SPolicy {
  readonly requireEncryption: boolean;
  /** Only certificate-authenticated peers (SASL EXTERNAL); no dialback either way. */
  readonly secureAuth: boolean;
  /** Offer and use bidirectional streams (XEP-0288). */
  readonly bidi: boolean;
  private readonly allow: ReadonlySet<string>;
  private readonly deny: ReadonlySet<string>;
  private readonly routes: ReadonlyMap<string, ConnectTarget>;

  constructor(options: S2SPolicyOptions) {
    this.requireEncryption = options.require_encryption;
    this.secureAuth = options.secure_auth;
    this.bidi = options.bidi;
    this.allow = new Set(options.allow);
    this.deny = new Set(options.deny);
    const routes = new Map<string, ConnectTarget>();
    for (const [domain, route] of Object.entries(options.routes))
      routes.set(domain, { host: route.host, port: route.port, directTls: route.direct_tls });
    this.routes = routes;
  }

  /**
   * Whether stanzas may be exchanged with `domain`. A listed domain covers its subdomains too
   * (a deny of example.net refuses conference.example.net), as operators expect of such lists.
   */
  allows(domain: string): boolean {
    if (listed(this.deny, domain)) return false;
    return this.allow.size === 0 || listed(this.allow, domain);
  }

  /** The configured place to reach `domain`, if it has one. */
  staticRoute(domain: string): ConnectTarget | undefined {
    return this.routes.get(domain);
  }
}

function listed(list: ReadonlySet<string>, domain: string): boolean {
  for (let name = domain; ; ) {
    if (list.has(name)) return true;
    const dot = name.indexOf('.');
    if (dot < 0) return false;
    name = name.slice(dot + 1);
  }
}
