// Small services that one module offers to others (the roster to blocking and PEP, for
// instance), per server instance. A module never reaches into another's state; it asks for
// the service by name. Names and types are declared by the providing module through
// module augmentation, so a misspelt name or a wrong type fails to compile:
//
//   declare module '../../src/core/services.js' {
//     interface Services { roster: RosterService }
//   }

// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation
export interface Services {}

export class ServiceRegistry {
  private readonly services = new Map<string, unknown>();

  provide<K extends keyof Services>(name: K, service: Services[K]): () => void {
    if (this.services.has(name as string)) throw new Error(`service ${String(name)} is already provided`);
    this.services.set(name as string, service);
    return () => {
      if (this.services.get(name as string) === service) this.services.delete(name as string);
    };
  }

  /** The service, or undefined when the module that provides it is not loaded. */
  get<K extends keyof Services>(name: K): Services[K] | undefined {
    return this.services.get(name as string) as Services[K] | undefined;
  }
}
