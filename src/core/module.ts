// The module API. A module declares what it implements, then hooks in; everything it
// registers through its context is undone when it is unloaded, so no module writes its own
// teardown for hooks, handlers or disco entries.
//
//   export default defineModule({
//     name: 'ping',
//     implements: [{ spec: { xep: 199 }, title: 'XMPP Ping', version: '2.0.1', … }],
//     features: [NS.PING],
//     setup(ctx) {
//       ctx.handleIq('get', NS.PING, 'ping', () => undefined);
//     },
//   });

import type { Section } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Db } from '../storage/db.js';
import { type Migrations, migrate } from '../storage/migrations.js';
import type { AccountService } from './accounts.js';
import type { DiscoExtension, DiscoItem, DiscoRegistry, Identity } from './disco.js';
import type { HookHandler, HookName, Hooks } from './hooks.js';
import type { IqHandler, IqScope, IqType } from './iq.js';
import type { Router, ServiceHandler } from './router.js';
import type { ServiceRegistry, Services } from './services.js';
import type { SessionRegistry } from './sessions.js';
import type { SpecDeclaration } from './spec.js';
import type {
  FeatureProvider,
  FeatureStage,
  NonzaHandler,
  PreAuthIqHandler,
  StreamFeatures,
} from './stream-features.js';

/** What a module may touch of the running server. */
export interface ServerContext {
  readonly version: string;
  readonly hosts: ReadonlySet<string>;
  readonly hooks: Hooks;
  readonly router: Router;
  readonly sessions: SessionRegistry;
  readonly disco: DiscoRegistry;
  readonly streamFeatures: StreamFeatures;
  readonly accounts: AccountService;
  readonly db: Db;
  readonly log: Logger;
  readonly services: ServiceRegistry;
}

export interface ModuleDefinition<C = unknown> {
  /** Unique; also the name of its config section and of its log field. */
  name: string;
  /** The specs this module implements, for xeps/README.md and xeps/doap.xml. */
  implements: SpecDeclaration[];
  /** Disco features the server advertises while this module is loaded. */
  features?: string[];
  identities?: Identity[];
  /** The schema of this module's config section, if it has one (see src/config/schema.ts). */
  configSection?: Section;
  /** The tables of this module's own store, applied before setup (see src/storage/migrations.ts). */
  storage?: Migrations;
  setup(ctx: ModuleContext<C>): void | Promise<void>;
}

export function defineModule<C = unknown>(definition: ModuleDefinition<C>): ModuleDefinition<C> {
  return definition;
}

export class ModuleContext<C = unknown> {
  readonly log: Logger;
  private readonly disposers: Array<() => void> = [];

  constructor(
    readonly name: string,
    readonly server: ServerContext,
    readonly config: C,
  ) {
    this.log = server.log.child({ module: name });
  }

  hook<K extends HookName>(name: K, handler: HookHandler<K>, priority = 0): void {
    this.disposers.push(this.server.hooks.on(name, handler, priority));
  }

  /** Answers iq requests of `type` whose payload is <name xmlns=ns/>. */
  handleIq(type: IqType, ns: string, name: string, handler: IqHandler, scope: IqScope = 'host'): void {
    this.disposers.push(this.server.router.iq.add(scope, type, ns, name, handler));
  }

  addFeature(ns: string): void {
    this.disposers.push(this.server.disco.addFeature(ns));
  }

  addIdentity(identity: Identity): void {
    this.disposers.push(this.server.disco.addIdentity(identity));
  }

  addDiscoExtension(extension: DiscoExtension): void {
    this.disposers.push(this.server.disco.addExtension(extension));
  }

  addDiscoItem(item: DiscoItem): void {
    this.disposers.push(this.server.disco.addItem(item));
  }

  /** A stream feature offered to clients, after authentication unless `stage` says otherwise. */
  addStreamFeature(provider: FeatureProvider, stage: FeatureStage = 'post-auth'): void {
    this.disposers.push(this.server.streamFeatures.add(stage, provider));
  }

  /** A handler for a top-level non-stanza element on bound client streams. */
  handleNonza(ns: string, name: string, handler: NonzaHandler): void {
    this.disposers.push(this.server.streamFeatures.addNonza(ns, name, handler));
  }

  /** Answers iq requests before authentication (in-band registration). */
  handlePreAuthIq(ns: string, name: string, handler: PreAuthIqHandler): void {
    this.disposers.push(this.server.streamFeatures.addPreAuthIq(ns, name, handler));
  }

  registerService(domain: string, handler: ServiceHandler): void {
    this.disposers.push(this.server.router.registerService(domain, handler));
  }

  /** Offers a service to other modules until this one is unloaded. */
  provide<K extends keyof Services>(name: K, service: Services[K]): void {
    this.disposers.push(this.server.services.provide(name, service));
  }

  /** Runs `fn` when the module is unloaded (timers, open resources of its own). */
  onUnload(fn: () => void): void {
    this.disposers.push(fn);
  }

  /** Undoes every registration, newest first. */
  unload(): void {
    while (this.disposers.length > 0) {
      const dispose = this.disposers.pop()!;
      try {
        dispose();
      } catch (err) {
        this.log.error('error while unloading', { error: err });
      }
    }
  }
}

/** Loads a module: declared features and identities first, then its setup. */
export async function loadModule<C>(
  definition: ModuleDefinition<C>,
  server: ServerContext,
  config: C,
): Promise<ModuleContext<C>> {
  if (definition.storage) migrate(server.db, definition.storage);
  const ctx = new ModuleContext<C>(definition.name, server, config);
  for (const ns of definition.features ?? []) ctx.addFeature(ns);
  for (const identity of definition.identities ?? []) ctx.addIdentity(identity);
  try {
    await definition.setup(ctx);
  } catch (err) {
    ctx.unload();
    throw err;
  }
  return ctx;
}
