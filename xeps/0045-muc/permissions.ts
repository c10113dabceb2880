// XEP-0045: Multi-User Chat — the permission tables, as pure functions of roles, affiliations
// and the room's configuration. https://xmpp.org/extensions/xep-0045.html
//
//   §5.1.1 privileges of roles (as the room configuration modifies them: the asterisked rows)
//   §5.1.2 the initial role for each affiliation and room type
//   §5.1.3 who may change an occupant's role to what (with §8.2–§8.5, §9.6, §9.7)
//   §5.2.1 privileges of affiliations
//   §5.2.2 who may change a user's affiliation to what (with §9.1, §9.3, §9.4, §10.3–§10.7)
//   §7.2.6–§7.2.11 who may enter (errors in the order a joiner can act on them)
//   §8.5, §9.5, §10.5, §10.8 who may read which list
//
// Nothing here touches a stanza: the room logic asks, these answer; test/unit/muc-permissions
// walks every table row.

export const ROLES = ['none', 'visitor', 'participant', 'moderator'] as const;
export type Role = (typeof ROLES)[number];
/** A role an occupant can hold while in the room. */
export type PresentRole = Exclude<Role, 'none'>;

export const AFFILIATIONS = ['outcast', 'none', 'member', 'admin', 'owner'] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];

const ROLE_RANK: Record<Role, number> = { none: 0, visitor: 1, participant: 2, moderator: 3 };
const AFFILIATION_RANK: Record<Affiliation, number> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };

export function isRole(value: string | undefined): value is Role {
  return value !== undefined && Object.hasOwn(ROLE_RANK, value);
}

export function isAffiliation(value: string | undefined): value is Affiliation {
  return value !== undefined && Object.hasOwn(AFFILIATION_RANK, value);
}

export function roleAtLeast(role: Role, least: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[least];
}

export function affiliationAtLeast(affiliation: Affiliation, least: Affiliation): boolean {
  return AFFILIATION_RANK[affiliation] >= AFFILIATION_RANK[least];
}

/** Who may send private messages (muc#roomconfig_allowpm). */
export type PmPolicy = 'anyone' | 'participants' | 'moderators' | 'none';
/** Who may see occupants' real JIDs (muc#roomconfig_whois). */
export type Whois = 'moderators' | 'anyone';

/** The parts of a room's configuration that the tables depend on. */
export interface RoomRules {
  readonly moderated: boolean;
  readonly membersOnly: boolean;
  readonly whois: Whois;
  readonly changeSubject: boolean;
  readonly allowInvites: boolean;
  readonly allowPm: PmPolicy;
  readonly presenceBroadcast: readonly Role[];
  readonly getMemberList: readonly Role[];
}

// ---- §5.1.2 ----

/**
 * The role a user enters with, or undefined when the affiliation may not enter at all
 * (an outcast anywhere; an unaffiliated user in a members-only room).
 */
export function defaultRole(affiliation: Affiliation, rules: RoomRules): PresentRole | undefined {
  switch (affiliation) {
    case 'owner':
    case 'admin':
      return 'moderator';
    case 'member':
      return 'participant';
    case 'none':
      if (rules.membersOnly) return undefined;
      return rules.moderated ? 'visitor' : 'participant';
    case 'outcast':
      return undefined;
  }
}

// ---- §5.1.1 ----

export type RolePrivilege =
  | 'present'
  | 'receive-messages'
  | 'receive-presence'
  | 'broadcast-presence'
  | 'change-availability'
  | 'change-nick'
  | 'send-private-messages'
  | 'invite'
  | 'send-groupchat'
  | 'change-subject'
  | 'kick'
  | 'grant-voice'
  | 'revoke-voice';

/**
 * Whether an occupant with `role` has `privilege` in a room with these rules. The rows the
 * table marks "default; configuration settings MAY modify" follow the configuration:
 * broadcast presence (presencebroadcast), private messages (allowpm), invitations
 * (allowinvites: off, only moderators invite), the subject (changesubject: on, participants
 * may change it too). Visitors never speak to all (voice is what they lack).
 */
export function rolePermits(role: Role, privilege: RolePrivilege, rules: RoomRules): boolean {
  if (role === 'none') return false;
  switch (privilege) {
    case 'present':
    case 'receive-messages':
    case 'receive-presence':
    case 'change-availability':
    case 'change-nick':
      return true;
    case 'broadcast-presence':
      return rules.presenceBroadcast.includes(role);
    case 'send-private-messages':
      switch (rules.allowPm) {
        case 'anyone':
          return true;
        case 'participants':
          return roleAtLeast(role, 'participant');
        case 'moderators':
          return role === 'moderator';
        case 'none':
          return false;
      }
      return false;
    case 'invite':
      return rules.allowInvites || role === 'moderator';
    case 'send-groupchat':
      return roleAtLeast(role, 'participant');
    case 'change-subject':
      return role === 'moderator' || (rules.changeSubject && role === 'participant');
    case 'kick':
    case 'grant-voice':
    case 'revoke-voice':
      return role === 'moderator';
  }
}

// ---- §5.2.1 ----

export type AffiliationPrivilege =
  | 'enter-open-room'
  | 'register'
  | 'enter-members-only-room'
  | 'ban'
  | 'edit-member-list'
  | 'assign-moderator'
  | 'edit-admin-list'
  | 'edit-owner-list'
  | 'change-configuration'
  | 'destroy';

const AFFILIATION_TABLE: Record<AffiliationPrivilege, Affiliation> = {
  // The least affiliation that holds each privilege; every higher one holds it too.
  'enter-open-room': 'none',
  'enter-members-only-room': 'member',
  ban: 'admin',
  'edit-member-list': 'admin',
  'assign-moderator': 'admin',
  'edit-admin-list': 'owner',
  'edit-owner-list': 'owner',
  'change-configuration': 'owner',
  destroy: 'owner',
  register: 'none',
};

export function affiliationPermits(affiliation: Affiliation, privilege: AffiliationPrivilege): boolean {
  // "Register with Open Room" is the privilege of the unaffiliated alone: the others are
  // registered already (N/A in the table).
  if (privilege === 'register') return affiliation === 'none';
  return affiliationAtLeast(affiliation, AFFILIATION_TABLE[privilege]);
}

// ---- §5.1.3: changing roles ----

/** Where an actor or a target stands in the room. */
export interface Standing {
  readonly role: Role;
  readonly affiliation: Affiliation;
}

/** The outcome of a request to change a role or an affiliation. */
export type Verdict = 'ok' | 'forbidden' | 'not-allowed' | 'conflict' | 'bad-request';

/**
 * Whether `actor` may set `target`'s role to `to` (§5.1.3, §8.2–§8.5, §9.6, §9.7).
 *
 *   forbidden    the actor lacks the privilege at all (not a moderator; not an admin for
 *                moderator status)
 *   not-allowed  the actor has the privilege, but this target is protected from it: a
 *                higher affiliation (§8.2), an admin or owner's voice or moderator status
 *                (§8.4, §9.7)
 */
export function roleChange(actor: Standing, target: Standing, to: Role): Verdict {
  if (actor.role !== 'moderator' && !affiliationAtLeast(actor.affiliation, 'admin')) return 'forbidden';
  if (target.role === 'none') return 'bad-request';
  if (target.role === to) return 'ok';
  const higher = AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor.affiliation];
  switch (to) {
    case 'moderator':
      // "Admin or owner grants moderator status."
      return affiliationAtLeast(actor.affiliation, 'admin') ? 'ok' : 'forbidden';
    case 'participant':
    case 'visitor':
      // §8.4: "a service MUST NOT allow the voice privileges of an admin or owner to be removed
      // by anyone", nor anyone's by a moderator of a lower affiliation.
      if (higher || (to === 'visitor' && affiliationAtLeast(target.affiliation, 'admin')))
        return 'not-allowed';
      if (target.role === 'moderator') {
        // Revoking moderator status: admins and owners only, never from an admin or owner (§9.7).
        if (!affiliationAtLeast(actor.affiliation, 'admin')) return 'forbidden';
        return affiliationAtLeast(target.affiliation, 'admin') ? 'not-allowed' : 'ok';
      }
      return 'ok';
    case 'none':
      // Kicking (§8.2): a moderator kicks participants and visitors; a moderator is kicked by
      // an admin or owner only; nobody by a moderator of a lower affiliation.
      if (higher) return 'not-allowed';
      if (target.role === 'moderator' && !affiliationAtLeast(actor.affiliation, 'admin'))
        return 'not-allowed';
      return 'ok';
  }
}

// ---- §5.2.2: changing affiliations ----

export interface AffiliationChangeContext {
  /** The actor is changing its own affiliation. */
  readonly self: boolean;
  /** How many owners the room has besides the target. */
  readonly otherOwners: number;
}

/**
 * Whether `actor` may change a user's affiliation from `from` to `to` (§5.2.2, §9.1, §10.3–§10.7).
 *
 *   forbidden    the actor's affiliation gives no such power (members and below; an admin
 *                granting admin or owner)
 *   not-allowed  the target's affiliation is at or above what the actor may touch (an admin
 *                changing an admin or owner)
 *   conflict     an admin or owner banning itself (§9.1), or the last owner stepping down (§10.2)
 */
export function affiliationChange(
  actor: Affiliation,
  from: Affiliation,
  to: Affiliation,
  context: AffiliationChangeContext,
): Verdict {
  if (!affiliationAtLeast(actor, 'admin')) return 'forbidden';
  if (from === to) return 'ok';
  if (context.self && to === 'outcast') return 'conflict';
  if (actor !== 'owner') {
    // An admin: members, the unaffiliated and outcasts, between those three only.
    if (to === 'admin' || to === 'owner') return 'forbidden';
    if (from === 'admin' || from === 'owner') return 'not-allowed';
    return 'ok';
  }
  if (from === 'owner' && context.otherOwners === 0) return 'conflict';
  return 'ok';
}

/**
 * The role an occupant holds after its affiliation changed (§5.1.3 note, §9.3, §10.3): an
 * admin or owner is a moderator; otherwise the default role for the new affiliation, except
 * that a role an occupant already has above that default is kept while it is not one that the
 * lost affiliation granted. Undefined when the occupant must leave (banned, or no longer a
 * member of a members-only room).
 */
export function roleAfterAffiliationChange(
  current: PresentRole,
  from: Affiliation,
  to: Affiliation,
  rules: RoomRules,
): PresentRole | undefined {
  const base = defaultRole(to, rules);
  if (base === undefined) return undefined;
  if (base === 'moderator') return base;
  // Moderator status that came with an admin or owner affiliation goes with it.
  if (current === 'moderator' && affiliationAtLeast(from, 'admin')) return base;
  return ROLE_RANK[current] > ROLE_RANK[base] ? current : base;
}

// ---- §7.2: entering ----

/** Why a user may not enter, in the order §7.2 lists the checks; undefined to let it in. */
export type EntryRefusal =
  | 'item-not-found'
  | 'forbidden'
  | 'registration-required'
  | 'not-authorized'
  | 'service-unavailable'
  | 'conflict';

export interface EntryRequest {
  readonly affiliation: Affiliation;
  /** The room awaits its owner's configuration (§10.1.1). */
  readonly locked: boolean;
  readonly membersOnly: boolean;
  /** The room's password, when it is password-protected. */
  readonly password: string | undefined;
  readonly givenPassword: string | undefined;
  readonly occupants: number;
  /** The room's limit (0: none beyond the service's). */
  readonly maxUsers: number;
  /** How far admins and owners may exceed the limit (§7.2.9). */
  readonly adminOverflow: number;
  /** Another user is in the room under the nickname, or has it reserved. */
  readonly nickTaken: boolean;
}

export function entryRefusal(request: EntryRequest): EntryRefusal | undefined {
  const { affiliation } = request;
  const owner = affiliation === 'owner';
  const admin = affiliationAtLeast(affiliation, 'admin');
  // §7.2.10: a locked room does not exist yet, except for its owner.
  if (request.locked && !owner) return 'item-not-found';
  if (affiliation === 'outcast') return 'forbidden';
  if (request.membersOnly && !affiliationAtLeast(affiliation, 'member')) return 'registration-required';
  // The owner knows the password, and may need in to change it.
  if (request.password !== undefined && !owner && request.givenPassword !== request.password)
    return 'not-authorized';
  if (request.maxUsers > 0) {
    const limit = admin ? request.maxUsers + request.adminOverflow : request.maxUsers;
    if (request.occupants >= limit) return 'service-unavailable';
  }
  if (request.nickTaken) return 'conflict';
  return undefined;
}

// ---- lists ----

/** A list that can be requested with muc#admin: an affiliation list or a role list. */
export type ListName = Exclude<Affiliation, 'none'> | Exclude<Role, 'none'>;

/**
 * Whether a requester may read a list (§8.5 voice list, §9.5 member list, §9.2 ban list,
 * §9.8 moderator list, §10.5 owner list, §10.8 admin list).
 *
 * The member list follows muc#roomconfig_getmemberlist, except that in a semi-anonymous room
 * only moderators among the roles listed may read it (§5.2.1 ***: the list carries JIDs); in
 * a non-anonymous room a member may read it from outside the room too (§9.5 note). The owner
 * and admin lists are the owners' in semi-anonymous rooms and every admin's in non-anonymous
 * ones (§10.5: "MAY process the request").
 */
export function mayReadList(requester: Standing, list: ListName, rules: RoomRules): boolean {
  const { role, affiliation } = requester;
  const admin = affiliationAtLeast(affiliation, 'admin');
  switch (list) {
    case 'participant':
    case 'visitor':
      return role === 'moderator' || admin;
    case 'moderator':
    case 'outcast':
      return admin;
    case 'member':
      if (admin) return true;
      if (rules.whois === 'anyone' && affiliationAtLeast(affiliation, 'member')) return true;
      if (role === 'none' || !rules.getMemberList.includes(role)) return false;
      return rules.whois === 'anyone' || role === 'moderator';
    case 'admin':
    case 'owner':
      return affiliation === 'owner' || (rules.whois === 'anyone' && admin);
  }
}

/** Whether a viewer sees occupants' real JIDs (§7.2.4, §7.2.5). */
export function seesRealJids(viewer: Role, rules: Pick<RoomRules, 'whois'>): boolean {
  return rules.whois === 'anyone' || viewer === 'moderator';
}

/**
 * Who may send mediated invitations (§7.8.2): in a members-only room the admins and owners,
 * who can put the invitee on the member list, or anyone when allowinvites is on; in an open
 * room whoever the role table lets invite.
 */
export function mayInvite(inviter: Standing, rules: RoomRules): boolean {
  if (rules.membersOnly) return rules.allowInvites || affiliationAtLeast(inviter.affiliation, 'admin');
  return rolePermits(inviter.role, 'invite', rules);
}
