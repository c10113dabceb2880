// The permission tables of XEP-0045 §5, row by row: privileges of roles (§5.1.1), initial
// roles (§5.1.2), role changes (§5.1.3 with §8 and §9.6–§9.7), privileges of affiliations
// (§5.2.1), affiliation changes (§5.2.2 with §9 and §10), entry (§7.2), and the lists.

import { expect } from 'chai';
import {
  type Affiliation,
  type AffiliationPrivilege,
  affiliationChange,
  affiliationPermits,
  defaultRole,
  type EntryRequest,
  entryRefusal,
  type ListName,
  mayInvite,
  mayReadList,
  type Role,
  type RolePrivilege,
  type RoomRules,
  roleAfterAffiliationChange,
  roleChange,
  rolePermits,
  seesRealJids,
} from '../../xeps/0045-muc/permissions.js';

const ALL: readonly Role[] = ['moderator', 'participant', 'visitor'];

/** The defaults the §5.1.1 table shows (the asterisked privileges as the table has them). */
const TABLE_DEFAULTS: RoomRules = {
  moderated: false,
  membersOnly: false,
  whois: 'moderators',
  changeSubject: true,
  allowInvites: true,
  allowPm: 'anyone',
  presenceBroadcast: ALL,
  getMemberList: ALL,
};

describe('MUC permissions: §5.1.1 privileges associated with roles', () => {
  // Privilege, then None / Visitor / Participant / Moderator, as in the table.
  const table: Array<[RolePrivilege, boolean, boolean, boolean, boolean]> = [
    ['present', false, true, true, true],
    ['receive-messages', false, true, true, true],
    ['receive-presence', false, true, true, true],
    ['broadcast-presence', false, true, true, true],
    ['change-availability', false, true, true, true],
    ['change-nick', false, true, true, true],
    ['send-private-messages', false, true, true, true],
    ['invite', false, true, true, true],
    ['send-groupchat', false, false, true, true],
    ['change-subject', false, false, true, true],
    ['kick', false, false, false, true],
    ['grant-voice', false, false, false, true],
    ['revoke-voice', false, false, false, true],
  ];
  for (const [privilege, none, visitor, participant, moderator] of table) {
    it(privilege, () => {
      expect(
        (['none', 'visitor', 'participant', 'moderator'] as const).map((r) =>
          rolePermits(r, privilege, TABLE_DEFAULTS),
        ),
      ).to.deep.equal([none, visitor, participant, moderator]);
    });
  }

  describe('the asterisked rows follow the configuration', () => {
    const cases: Array<[string, Partial<RoomRules>, RolePrivilege, [boolean, boolean, boolean]]> = [
      // [what, rules, privilege, visitor / participant / moderator]
      [
        'presencebroadcast: moderators only',
        { presenceBroadcast: ['moderator'] },
        'broadcast-presence',
        [false, false, true],
      ],
      [
        'presencebroadcast: no visitors',
        { presenceBroadcast: ['moderator', 'participant'] },
        'broadcast-presence',
        [false, true, true],
      ],
      ['allowpm: participants', { allowPm: 'participants' }, 'send-private-messages', [false, true, true]],
      ['allowpm: moderators', { allowPm: 'moderators' }, 'send-private-messages', [false, false, true]],
      ['allowpm: none', { allowPm: 'none' }, 'send-private-messages', [false, false, false]],
      ['allowinvites off', { allowInvites: false }, 'invite', [false, false, true]],
      ['changesubject off', { changeSubject: false }, 'change-subject', [false, false, true]],
      ['moderated rooms keep the voice rule', { moderated: true }, 'send-groupchat', [false, true, true]],
    ];
    for (const [what, rules, privilege, expected] of cases) {
      it(what, () => {
        const r = { ...TABLE_DEFAULTS, ...rules };
        expect(
          ALL.slice()
            .reverse()
            .map((role) => rolePermits(role, privilege, r)),
        ).to.deep.equal(expected);
      });
    }
  });
});

describe('MUC permissions: §5.1.2 initial role based on affiliation', () => {
  // Room type, then None / Member / Admin / Owner.
  const rows: Array<[string, Partial<RoomRules>, Array<Role | undefined>]> = [
    ['moderated', { moderated: true }, ['visitor', 'participant', 'moderator', 'moderator']],
    ['unmoderated', { moderated: false }, ['participant', 'participant', 'moderator', 'moderator']],
    ['members-only', { membersOnly: true }, [undefined, 'participant', 'moderator', 'moderator']],
    ['open', { membersOnly: false }, ['participant', 'participant', 'moderator', 'moderator']],
    [
      'moderated and members-only',
      { moderated: true, membersOnly: true },
      [undefined, 'participant', 'moderator', 'moderator'],
    ],
  ];
  for (const [type, rules, expected] of rows) {
    it(type, () => {
      const r = { ...TABLE_DEFAULTS, ...rules };
      expect((['none', 'member', 'admin', 'owner'] as const).map((a) => defaultRole(a, r))).to.deep.equal(
        expected,
      );
      expect(defaultRole('outcast', r)).to.equal(undefined);
    });
  }
});

describe('MUC permissions: §5.1.3 role changes', () => {
  const standing = (role: Role, affiliation: Affiliation) => ({ role, affiliation });
  const cases: Array<[string, [Role, Affiliation], [Role, Affiliation], Role, string]> = [
    // what, actor, target, new role, verdict
    [
      'a moderator grants voice to a visitor',
      ['moderator', 'none'],
      ['visitor', 'none'],
      'participant',
      'ok',
    ],
    [
      'a moderator revokes voice from a participant',
      ['moderator', 'none'],
      ['participant', 'none'],
      'visitor',
      'ok',
    ],
    ['a moderator kicks a participant', ['moderator', 'none'], ['participant', 'none'], 'none', 'ok'],
    ['a moderator kicks a visitor', ['moderator', 'member'], ['visitor', 'none'], 'none', 'ok'],
    ['a participant may not kick', ['participant', 'member'], ['visitor', 'none'], 'none', 'forbidden'],
    [
      'a participant may not grant voice',
      ['participant', 'none'],
      ['visitor', 'none'],
      'participant',
      'forbidden',
    ],
    ['a visitor may not revoke voice', ['visitor', 'none'], ['participant', 'none'], 'visitor', 'forbidden'],
    ['an admin grants moderator status', ['moderator', 'admin'], ['participant', 'none'], 'moderator', 'ok'],
    [
      'an owner grants moderator status to a visitor',
      ['moderator', 'owner'],
      ['visitor', 'none'],
      'moderator',
      'ok',
    ],
    [
      'a mere moderator may not grant moderator status',
      ['moderator', 'member'],
      ['participant', 'none'],
      'moderator',
      'forbidden',
    ],
    [
      'an admin revokes moderator status from a member',
      ['moderator', 'admin'],
      ['moderator', 'member'],
      'participant',
      'ok',
    ],
    [
      'an admin changes a moderator to visitor',
      ['moderator', 'admin'],
      ['moderator', 'none'],
      'visitor',
      'ok',
    ],
    ['an admin kicks a moderator', ['moderator', 'admin'], ['moderator', 'member'], 'none', 'ok'],
    [
      'a mere moderator may not kick a moderator',
      ['moderator', 'none'],
      ['moderator', 'none'],
      'none',
      'not-allowed',
    ],
    [
      'a mere moderator may not revoke moderator status',
      ['moderator', 'none'],
      ['moderator', 'none'],
      'participant',
      'forbidden',
    ],
    [
      "§9.7: nobody revokes an admin's moderator status",
      ['moderator', 'owner'],
      ['moderator', 'admin'],
      'participant',
      'not-allowed',
    ],
    [
      "§8.4: nobody takes an admin's voice",
      ['moderator', 'owner'],
      ['moderator', 'admin'],
      'visitor',
      'not-allowed',
    ],
    ["§8.4: nor an owner's", ['moderator', 'owner'], ['moderator', 'owner'], 'visitor', 'not-allowed'],
    [
      '§8.2: a member moderator may not kick an admin',
      ['moderator', 'member'],
      ['moderator', 'admin'],
      'none',
      'not-allowed',
    ],
    [
      '§8.2: an admin may not kick an owner',
      ['moderator', 'admin'],
      ['moderator', 'owner'],
      'none',
      'not-allowed',
    ],
    [
      '§8.4: a moderator may not silence a higher affiliation',
      ['moderator', 'none'],
      ['participant', 'member'],
      'visitor',
      'not-allowed',
    ],
    ['an admin outside the room may kick', ['none', 'admin'], ['participant', 'none'], 'none', 'ok'],
    [
      'someone outside the room with no affiliation may not',
      ['none', 'member'],
      ['participant', 'none'],
      'none',
      'forbidden',
    ],
    [
      'an occupant that is not there cannot be changed',
      ['moderator', 'owner'],
      ['none', 'none'],
      'participant',
      'bad-request',
    ],
  ];
  for (const [what, actor, target, to, verdict] of cases) {
    it(what, () => {
      expect(roleChange(standing(...actor), standing(...target), to)).to.equal(verdict);
    });
  }
});

describe('MUC permissions: §5.2.1 privileges associated with affiliations', () => {
  // Privilege, then Outcast / None / Member / Admin / Owner, as in the table.
  const table: Array<[AffiliationPrivilege, boolean[]]> = [
    ['enter-open-room', [false, true, true, true, true]],
    ['register', [false, true, false, false, false]],
    ['enter-members-only-room', [false, false, true, true, true]],
    ['ban', [false, false, false, true, true]],
    ['edit-member-list', [false, false, false, true, true]],
    ['assign-moderator', [false, false, false, true, true]],
    ['edit-admin-list', [false, false, false, false, true]],
    ['edit-owner-list', [false, false, false, false, true]],
    ['change-configuration', [false, false, false, false, true]],
    ['destroy', [false, false, false, false, true]],
  ];
  for (const [privilege, expected] of table) {
    it(privilege, () => {
      expect(
        (['outcast', 'none', 'member', 'admin', 'owner'] as const).map((a) =>
          affiliationPermits(a, privilege),
        ),
      ).to.deep.equal(expected);
    });
  }
});

describe('MUC permissions: §5.2.2 affiliation changes', () => {
  const AFF: readonly Affiliation[] = ['outcast', 'none', 'member', 'admin', 'owner'];
  // The state chart: for each (from, to), the least affiliation that may make the change.
  const chart: Record<Affiliation, Record<Affiliation, 'admin' | 'owner' | undefined>> = {
    outcast: { outcast: undefined, none: 'admin', member: 'admin', admin: 'owner', owner: 'owner' },
    none: { outcast: 'admin', none: undefined, member: 'admin', admin: 'owner', owner: 'owner' },
    member: { outcast: 'admin', none: 'admin', member: undefined, admin: 'owner', owner: 'owner' },
    admin: { outcast: 'owner', none: 'owner', member: 'owner', admin: undefined, owner: 'owner' },
    owner: { outcast: 'owner', none: 'owner', member: 'owner', admin: 'owner', owner: undefined },
  };
  for (const from of AFF) {
    for (const to of AFF) {
      const least = chart[from][to];
      if (least === undefined) continue;
      it(`${from} → ${to}: ${least === 'admin' ? 'admins and owners' : 'owners only'}`, () => {
        const context = { self: false, otherOwners: 1 };
        expect(affiliationChange('owner', from, to, context)).to.equal('ok');
        const byAdmin = affiliationChange('admin', from, to, context);
        if (least === 'admin') expect(byAdmin).to.equal('ok');
        else expect(byAdmin).to.be.oneOf(['forbidden', 'not-allowed']);
        expect(affiliationChange('member', from, to, context)).to.equal('forbidden');
        expect(affiliationChange('none', from, to, context)).to.equal('forbidden');
      });
    }
  }
  it('an admin making someone admin or owner is forbidden; touching an admin or owner is not-allowed', () => {
    const context = { self: false, otherOwners: 1 };
    expect(affiliationChange('admin', 'none', 'admin', context)).to.equal('forbidden');
    expect(affiliationChange('admin', 'member', 'owner', context)).to.equal('forbidden');
    expect(affiliationChange('admin', 'admin', 'none', context)).to.equal('not-allowed');
    expect(affiliationChange('admin', 'owner', 'outcast', context)).to.equal('not-allowed');
  });
  it('§9.1: an admin or owner banning itself is a conflict', () => {
    expect(affiliationChange('admin', 'admin', 'outcast', { self: true, otherOwners: 1 })).to.equal(
      'conflict',
    );
    expect(affiliationChange('owner', 'owner', 'outcast', { self: true, otherOwners: 1 })).to.equal(
      'conflict',
    );
  });
  it('§10.2: the last owner may not step down; with another owner it may', () => {
    expect(affiliationChange('owner', 'owner', 'admin', { self: true, otherOwners: 0 })).to.equal('conflict');
    expect(affiliationChange('owner', 'owner', 'admin', { self: true, otherOwners: 1 })).to.equal('ok');
  });
});

describe('MUC permissions: the role after an affiliation change', () => {
  const rules = { ...TABLE_DEFAULTS, moderated: true };
  const cases: Array<[string, Role, Affiliation, Affiliation, RoomRules, Role | undefined]> = [
    ['a visitor made member gets voice', 'visitor', 'none', 'member', rules, 'participant'],
    ['a participant made admin moderates', 'participant', 'none', 'admin', rules, 'moderator'],
    [
      'an admin made member loses the moderator role that came with it',
      'moderator',
      'admin',
      'member',
      rules,
      'participant',
    ],
    [
      'an unaffiliated moderator made member keeps moderating',
      'moderator',
      'none',
      'member',
      rules,
      'moderator',
    ],
    [
      'a member losing membership of a moderated room keeps voice granted',
      'participant',
      'member',
      'none',
      rules,
      'participant',
    ],
    ['a banned user leaves', 'participant', 'member', 'outcast', rules, undefined],
    [
      'a member of a members-only room losing membership leaves',
      'participant',
      'member',
      'none',
      { ...TABLE_DEFAULTS, membersOnly: true },
      undefined,
    ],
  ];
  for (const [what, role, from, to, r, expected] of cases) {
    it(what, () => {
      expect(roleAfterAffiliationChange(role as 'participant', from, to, r)).to.equal(expected);
    });
  }
});

describe('MUC permissions: §7.2 entering', () => {
  const base: EntryRequest = {
    affiliation: 'none',
    locked: false,
    membersOnly: false,
    password: undefined,
    givenPassword: undefined,
    occupants: 1,
    maxUsers: 0,
    adminOverflow: 10,
    nickTaken: false,
  };
  const cases: Array<[string, Partial<EntryRequest>, string | undefined]> = [
    ['an open room lets anyone in', {}, undefined],
    ['§7.2.10 a locked room does not exist', { locked: true }, 'item-not-found'],
    ['… except for its owner', { locked: true, affiliation: 'owner' }, undefined],
    ['§7.2.6 an outcast', { affiliation: 'outcast' }, 'forbidden'],
    ['§7.2.5 members-only, unaffiliated', { membersOnly: true }, 'registration-required'],
    ['§7.2.5 members-only, a member', { membersOnly: true, affiliation: 'member' }, undefined],
    ['§7.2.4 no password', { password: 'pw' }, 'not-authorized'],
    ['§7.2.4 a wrong password', { password: 'pw', givenPassword: 'no' }, 'not-authorized'],
    ['§7.2.4 the right password', { password: 'pw', givenPassword: 'pw' }, undefined],
    ['the owner needs no password', { password: 'pw', affiliation: 'owner' }, undefined],
    ['§7.2.9 a full room', { maxUsers: 1 }, 'service-unavailable'],
    ['§7.2.9 admins may exceed the limit', { maxUsers: 1, affiliation: 'admin' }, undefined],
    ['… up to a margin', { maxUsers: 1, occupants: 11, affiliation: 'admin' }, 'service-unavailable'],
    ['§7.2.8 a nickname in use', { nickTaken: true }, 'conflict'],
    [
      'an outcast is told of the ban before the password',
      { affiliation: 'outcast', password: 'pw' },
      'forbidden',
    ],
  ];
  for (const [what, request, expected] of cases) {
    it(what, () => {
      expect(entryRefusal({ ...base, ...request })).to.equal(expected);
    });
  }
});

describe('MUC permissions: who reads which list', () => {
  const semi: RoomRules = { ...TABLE_DEFAULTS, whois: 'moderators' };
  const open: RoomRules = { ...TABLE_DEFAULTS, whois: 'anyone' };
  const cases: Array<[string, Role, Affiliation, ListName, RoomRules, boolean]> = [
    ['moderators read the voice list', 'moderator', 'none', 'participant', semi, true],
    ['participants do not', 'participant', 'member', 'participant', semi, false],
    ['admins read the ban list', 'none', 'admin', 'outcast', semi, true],
    ['moderators do not', 'moderator', 'member', 'outcast', semi, false],
    ['admins read the moderator list', 'none', 'admin', 'moderator', semi, true],
    [
      'semi-anonymous: a participant does not read the member list',
      'participant',
      'member',
      'member',
      semi,
      false,
    ],
    ['semi-anonymous: a moderator does', 'moderator', 'none', 'member', semi, true],
    ['non-anonymous: a participant does', 'participant', 'none', 'member', open, true],
    ['non-anonymous: a member outside the room does', 'none', 'member', 'member', open, true],
    [
      'getmemberlist without visitors',
      'visitor',
      'none',
      'member',
      { ...open, getMemberList: ['moderator'] },
      false,
    ],
    ['owners read the owner list', 'none', 'owner', 'owner', semi, true],
    ['semi-anonymous: admins do not', 'moderator', 'admin', 'owner', semi, false],
    ['non-anonymous: admins do', 'moderator', 'admin', 'admin', open, true],
  ];
  for (const [what, role, affiliation, list, rules, expected] of cases) {
    it(what, () => {
      expect(mayReadList({ role, affiliation }, list, rules)).to.equal(expected);
    });
  }

  it('sees real JIDs by whois', () => {
    expect(seesRealJids('participant', semi)).to.equal(false);
    expect(seesRealJids('moderator', semi)).to.equal(true);
    expect(seesRealJids('visitor', open)).to.equal(true);
  });

  it('mediated invitations: members-only rooms leave them to admins unless allowinvites', () => {
    const membersOnly = { ...TABLE_DEFAULTS, membersOnly: true, allowInvites: false };
    expect(mayInvite({ role: 'moderator', affiliation: 'member' }, membersOnly)).to.equal(false);
    expect(mayInvite({ role: 'moderator', affiliation: 'admin' }, membersOnly)).to.equal(true);
    expect(
      mayInvite({ role: 'participant', affiliation: 'member' }, { ...membersOnly, allowInvites: true }),
    ).to.equal(true);
    expect(
      mayInvite({ role: 'participant', affiliation: 'none' }, { ...TABLE_DEFAULTS, allowInvites: false }),
    ).to.equal(false);
    expect(
      mayInvite({ role: 'moderator', affiliation: 'none' }, { ...TABLE_DEFAULTS, allowInvites: false }),
    ).to.equal(true);
  });
});
