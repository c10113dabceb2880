// What the entity-capabilities module tells other modules: the disco module answers the
// caps node (XEP-0115 §6.2) only while this is provided.

export interface CapsService {
  /** The 'node' of the server's caps: a URI naming the software. */
  readonly node: string;
  /** The server's current verification string for one of its hosts (§5.1). */
  ver(host: string): string;
}

declare module '../../src/core/services.js' {
  interface Services {
    caps: CapsService;
  }
}
