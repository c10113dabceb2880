// Extensions of the client stream that modules contribute: extra stream features (stream
// management, roster versioning, entity capabilities…) and handlers for top-level elements
// that are not stanzas ("nonzas", e.g. XEP-0198 <r/>).

import type { Element } from '../xml/element.js';
import type { ClientSession } from './session.js';

/** Before authentication (beside STARTTLS and SASL) or after it (beside <bind/>). */
export type FeatureStage = 'pre-auth' | 'post-auth';

export interface FeatureContext {
  host: string;
  secure: boolean;
}

/** Returns the feature element to advertise, or undefined to advertise nothing here. */
export type FeatureProvider = (ctx: FeatureContext) => Element | undefined;

export type NonzaHandler = (session: ClientSession, element: Element) => void | Promise<void>;

/** What a handler of iq requests before authentication knows of the connection. */
export interface PreAuthContext {
  host: string;
  secure: boolean;
  remoteAddress: string;
}

/**
 * Answers an iq sent before authentication (XEP-0077 in-band registration is the one use):
 * returns the payload of the result, or throws a StanzaError.
 */
export type PreAuthIqHandler = (
  ctx: PreAuthContext,
  iq: Element,
  payload: Element,
) => Element | undefined | Promise<Element | undefined>;

export class StreamFeatures {
  private readonly providers: Record<FeatureStage, Set<FeatureProvider>> = {
    'pre-auth': new Set(),
    'post-auth': new Set(),
  };
  private readonly nonzas = new Map<string, NonzaHandler>();
  private readonly preAuthIqs = new Map<string, PreAuthIqHandler>();

  add(stage: FeatureStage, provider: FeatureProvider): () => void {
    const set = this.providers[stage];
    set.add(provider);
    return () => set.delete(provider);
  }

  features(stage: FeatureStage, ctx: FeatureContext): Element[] {
    const out: Element[] = [];
    for (const provider of this.providers[stage]) {
      const feature = provider(ctx);
      if (feature) out.push(feature);
    }
    return out;
  }

  addNonza(ns: string, name: string, handler: NonzaHandler): () => void {
    const key = `${ns} ${name}`;
    if (this.nonzas.has(key)) throw new Error(`a handler for <${name} xmlns='${ns}'/> is already registered`);
    this.nonzas.set(key, handler);
    return () => {
      if (this.nonzas.get(key) === handler) this.nonzas.delete(key);
    };
  }

  /** Lets iq get/set with payload <name xmlns=ns/> through before authentication. */
  addPreAuthIq(ns: string, name: string, handler: PreAuthIqHandler): () => void {
    const key = `${ns} ${name}`;
    if (this.preAuthIqs.has(key))
      throw new Error(`a pre-auth handler for <${name} xmlns='${ns}'/> is already registered`);
    this.preAuthIqs.set(key, handler);
    return () => {
      if (this.preAuthIqs.get(key) === handler) this.preAuthIqs.delete(key);
    };
  }

  preAuthIq(ns: string | undefined, name: string): PreAuthIqHandler | undefined {
    return ns === undefined ? undefined : this.preAuthIqs.get(`${ns} ${name}`);
  }

  nonza(ns: string | undefined, name: string): NonzaHandler | undefined {
    return ns === undefined ? undefined : this.nonzas.get(`${ns} ${name}`);
  }
}
