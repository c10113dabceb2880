// XEP-0060 §7 and §16.3 (the pubsub#errors namespace): a stanza error with the pubsub-specific
// condition that tells a client which rule it ran into.

import { StanzaError, type StanzaErrorCondition } from '../../src/core/errors.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** The application conditions of §16.3 this service uses. */
export type PubsubCondition =
  | 'closed-node'
  | 'invalid-jid'
  | 'invalid-payload'
  | 'item-required'
  | 'max-nodes-exceeded'
  | 'nodeid-required'
  | 'not-in-roster-group'
  | 'not-subscribed'
  | 'payload-required'
  | 'payload-too-big'
  | 'precondition-not-met'
  | 'presence-subscription-required'
  | 'unsupported'
  | 'unsupported-access-model';

/** `feature` goes with <unsupported/>: which §10 feature is missing. */
export function pubsubError(
  condition: StanzaErrorCondition,
  app: PubsubCondition | undefined,
  text?: string,
  feature?: string,
): StanzaError {
  const appCondition = app === undefined ? undefined : x(app, { xmlns: NS.PUBSUB_ERRORS, feature });
  return new StanzaError(condition, text, { appCondition });
}

/** §6.5.9, §7.1.3 and others: a feature of XEP-0060 this service does not offer. */
export function unsupported(feature: string, text?: string): StanzaError {
  return pubsubError('feature-not-implemented', 'unsupported', text, feature);
}
