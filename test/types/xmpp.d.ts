// Just enough typing of @xmpp/client (which ships none) for the integration tests.

declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  export interface XmlElement {
    name: string;
    attrs: Record<string, string>;
    children: Array<XmlElement | string>;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    is(name: string, xmlns?: string): boolean;
    attr(name: string): string | undefined;
    toString(): string;
  }

  export interface JIDLike {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
    bare(): JIDLike;
  }

  export interface Client extends EventEmitter {
    jid: JIDLike | null;
    status: string;
    start(): Promise<JIDLike>;
    stop(): Promise<void>;
    send(element: XmlElement): Promise<void>;
    write(raw: string): Promise<void>;
    iqCaller: {
      request(element: XmlElement, timeout?: number): Promise<XmlElement>;
      get(element: XmlElement, to?: string, timeout?: number): Promise<XmlElement>;
      set(element: XmlElement, to?: string, timeout?: number): Promise<XmlElement>;
    };
    reconnect: { stop(): void };
  }

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    timeout?: number;
    username?: string;
    password?: string;
    credentials?: (
      authenticate: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>,
      mechanisms: string[],
    ) => Promise<void>;
  }

  export function client(options: ClientOptions): Client;
  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: Array<XmlElement | string>
  ): XmlElement;
}
