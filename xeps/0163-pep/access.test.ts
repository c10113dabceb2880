// XEP-0060 §4.5 access models and the §6.5.9 errors of refused access, as a PEP service
// applies them (XEP-0163 §4: the owner always passes).

import { expect } from 'chai';
import type { Subscription } from '../../src/im/roster-service.js';
import { type Access, access, type GrantedAffiliation, type Requester } from './access.js';
import { type AccessModel, DEFAULT_CONFIG } from './config.js';

const OK: Access = { allowed: true };
const PRESENCE_REQUIRED: Access = {
  allowed: false,
  condition: 'not-authorized',
  app: 'presence-subscription-required',
};
const NOT_IN_GROUP: Access = { allowed: false, condition: 'not-authorized', app: 'not-in-roster-group' };
const CLOSED: Access = { allowed: false, condition: 'not-allowed', app: 'closed-node' };
const BLOCKED: Access = { allowed: false, condition: 'forbidden', app: undefined };

function who(
  subscription: Subscription,
  groups: string[] = [],
  affiliation?: GrantedAffiliation,
  owner = false,
): Requester {
  return { owner, subscription, groups, affiliation };
}

describe('XEP-0060 §4.5 access models', () => {
  const cases: Array<[AccessModel, string, Requester, Access]> = [
    ['open', 'a stranger', who('none'), OK],
    ['open', 'an outcast', who('both', [], 'outcast'), BLOCKED],
    ['presence', 'the owner', who('none', [], undefined, true), OK],
    ['presence', 'a stranger', who('none'), PRESENCE_REQUIRED],
    ['presence', "a contact whose presence the owner sees ('to')", who('to'), PRESENCE_REQUIRED],
    ['presence', "a subscriber ('from')", who('from'), OK],
    ['presence', "a mutual contact ('both')", who('both'), OK],
    ['presence', 'a member without subscription', who('none', [], 'member'), OK],
    ['roster', 'a subscriber in an allowed group', who('both', ['Friends']), OK],
    ['roster', 'a subscriber in another group', who('both', ['Work']), NOT_IN_GROUP],
    ['roster', "an allowed group, but only 'to'", who('to', ['Friends']), NOT_IN_GROUP],
    ['roster', 'a stranger', who('none'), NOT_IN_GROUP],
    ['whitelist', 'the owner', who('none', [], undefined, true), OK],
    ['whitelist', 'a mutual contact', who('both', ['Friends']), CLOSED],
    ['whitelist', 'a member', who('none', [], 'member'), OK],
    ['whitelist', 'an outcast', who('none', [], 'outcast'), BLOCKED],
  ];
  for (const [model, what, requester, expected] of cases) {
    it(`${model}: ${what}`, () => {
      const config = { ...DEFAULT_CONFIG, accessModel: model, rosterGroupsAllowed: ['Friends', 'Family'] };
      expect(access(config, requester)).to.deep.equal(expected);
    });
  }
});
