/**
 * Seed 001's rules for spaces, rooms, invites, room roles and access links.
 * {@link Spaces} and {@link AccessLinks} enforce them; this block is the
 * one place they are written down.
 *
 * - Ways in: a room role; a space role, which reaches the PUBLIC rooms of its
 *   space only (role_space_user, role_space_moderator and role_space_owner
 *   alike — a private room needs a room role, seed 001); seed 003's
 *   tenant-wide moderator, every room of the tenant; a room member token,
 *   its own room; an access link, its room. See applicableRoles.
 * - Every end-user call that acts in a room first checks the room is open to
 *   the caller (requireRoomAccess): a room block, or a kick/revocation in the
 *   room after the credential was issued, is permission_denied with a
 *   RoomAccessDenied detail.
 * - "Room moderator" has one meaning for every call (moderatesRoom): a
 *   moderating role that opens the room — a moderating room role, a space
 *   moderator in a public room of the space, a tenant-wide moderator.
 * - Hierarchy: owner > space moderator (and tenant-wide moderator) > room
 *   moderator > member (rankIn). Nobody moderates or grants at or above
 *   their own rank; the API key may do anything within its tenant.
 * - End-user calls about a room name its space: an empty space_id is
 *   invalid_argument (rooms without a space are managed with the API key).
 * - CreateSpace: the caller becomes the owner (`role_space_owner`); name
 *   1–128. Audited as "space.create".
 * - CreateRoom: the space owner or a space moderator; the caller is recorded
 *   as the room's creator and gets role_room_moderator in it (so a private
 *   room is open to its creator); the room id is a random UUID. Audited as
 *   "room.create".
 * - CreateInvite: the space owner only; the role is one of INVITE_ROLES.
 *   Audited as "invite.create".
 * - ActivateInvite: the caller (by their own user access token) gets the
 *   invite's role in its space. An invite works exactly once, also under
 *   concurrency: a conditional update (`used_at IS NULL AND revoked_at IS
 *   NULL`) claims it in the same transaction as the role write; losing the
 *   race is failed_precondition "invite already used" (or "invite revoked").
 *   An invite for a role the caller already holds or outranks in the space
 *   is failed_precondition and is NOT used up (it stays for its rightful
 *   invitee). An invite of another space is not_found.
 * - JoinSpace: a public space gives `role_space_user`; a private one is
 *   permission_denied (unless the caller is already a member: a no-op).
 * - JoinRoom: a public room whose space is public, or whose space the caller
 *   belongs to, gives `role_room_user`; otherwise permission_denied.
 * - Joining and invites never downgrade: a stronger role the caller already
 *   holds is kept.
 * - GrantRole (end user): the owner of the room's space or a room moderator
 *   (see moderatesRoom); the role is one of ROOM_GRANT_ROLES and must rank
 *   below the caller, and so must the target's current rank (a room
 *   moderator grants role_room_user to members; a space moderator may also
 *   make room moderators); the target user must exist in the tenant.
 *   GrantRole (API key): any role, any room of the tenant, including rooms
 *   without a space (first named by token Create), for which space_id is
 *   empty.
 * - GenerateAccess: only the room's creator or a room moderator
 *   (moderatesRoom); a space owner who is neither is permission_denied.
 *   Audited as "access_link.generate" with its creator as actor.
 * - ListAccessLinks / RevokeAccessLink: the room's creator, the link's
 *   creator or a room moderator (and the API key). A revoked link never
 *   redeems again; its guest's tokens are revoked and its room role removed. Role `user` or `moderator`; username 1–64;
 *   externalUserId `[A-Za-z0-9_-]{0,128}`; ttl defaults to 86400 s and is at
 *   most the configured maximum token lifetime; isPermanent makes it reusable
 *   within ttl, otherwise it works once.
 * - Redeem: the link token must verify; an expired link is
 *   failed_precondition "access link expired"; a used one-time link is
 *   failed_precondition "access link already used" (conditional update). The
 *   first redemption creates a `guest` user with the link's username and
 *   external id and gives it the link's role in the room; a permanent link
 *   reuses that guest. The answer is a user access token limited to the room,
 *   valid for the rest of the link's life, at most 24 h. Every redemption is
 *   audited ("access_link.redeem", naming the link's creator).
 * - A link is covered by every way out: RevokeAccessLink; RevokeRoom of its
 *   room after it was made; RevokeUser or a kick of its guest after it was
 *   made (failed_precondition "access link revoked"); a room block of its
 *   guest (permission_denied, RoomAccessDenied).
 * - The API key (room.spaces.private.v1) may do what a space owner may, in
 *   every space and room of its tenant: CreateSpace (with owner_user_id, a
 *   user of the tenant, who gets role_space_owner; without, the space has no
 *   owner user, spaces.owner_user_id is null), CreateRoom (no creator, no
 *   room role given), CreateInvite and GenerateAccess (created_by
 *   `key:<api key id>`; creatorLabel shows both kinds as actors). Audited
 *   with actor `key:<id>`.
 * - Lists (ListSpaces, ListRooms, ListMembers, ListInvites) are keyset-paged
 *   with opaque tokens bound to their list (page-token.ts): spaces, rooms
 *   and invites newest first, members by user id; page_size over 500 or a
 *   foreign token is invalid_argument. The API key lists its tenant; an end
 *   user lists the spaces they hold a role in; the rooms of a space they
 *   belong to (space role, a room role in one of its rooms, or tenant-wide
 *   moderation) that their roles open; a room's members if they moderate it
 *   (moderatesRoom); a space's invites if they own it.
 * - A member of a room is anyone with a way in: a room role (an access
 *   link's guest shows as "access_link"), a space role in a public room,
 *   tenant-wide moderation, an unexpired room member token not revoked in
 *   the room. Each is listed with room and space role and the restrictions
 *   in force (from the live index).
 * - RevokeInvite: the API key or the space owner; an unused invite only
 *   (used or already revoked: failed_precondition). Of a revocation and an
 *   activation racing, exactly one wins (both are conditional updates in
 *   the one write transaction). Audited "invite.revoke", INVITE_REVOKED.
 * - RevokeRole: removes a room role. End user: the space owner or a room
 *   moderator, of a member ranking below them, holding a role ranking below
 *   them. API key: any room role; with room_id empty, a space role (never
 *   the owner's: failed_precondition). No role held: failed_precondition.
 *   Roles are read from the store on every check, so the member loses the
 *   role's permissions on the next call. Audited "role.revoke",
 *   ROLE_REVOKED.
 * - LeaveSpace: the caller's own space role goes (room roles in its rooms
 *   stay); the owner cannot leave and a non-member has nothing to leave
 *   (failed_precondition). Audited "member.leave", MEMBER_LEFT.
 * - Tenants are isolated: an unknown space, room, invite or user, or one of
 *   another tenant, is not_found. Room-scoped callers (access-link guests)
 *   may act only in their room.
 *
 * @module
 */

import { invalidArgument, RoomgateError } from "../errors.js";
import { checkId as checkAnyId } from "../ids.js";
import type { RoleName } from "../roles.js";

/** The caller of an end-user call, as the domain sees it. */
export interface SpaceCaller {
  readonly tenantId: string;
  readonly userId: string;
  /** Set for access-link guests: the only room their token is good for. */
  readonly roomScope: string | undefined;
  /** When the caller's credential was issued: a later kick from a room takes that room from it. */
  readonly issuedAt: number;
}

/**
 * Who manages spaces, rooms, invites, roles and links: an end user (judged
 * by their roles) or the tenant's API key (may do anything in its tenant).
 */
export type SpaceManager =
  | { readonly kind: "user"; readonly caller: SpaceCaller }
  | { readonly kind: "api_key"; readonly tenantId: string; readonly keyId: string };

/** The tenant a manager acts in. */
export function tenantOf(who: SpaceManager): string {
  return who.kind === "user" ? who.caller.tenantId : who.tenantId;
}

/** The manager as an audit and event actor. */
export function actorOf(who: SpaceManager): `user:${string}` | `key:${string}` {
  return who.kind === "user" ? `user:${who.caller.userId}` : `key:${who.keyId}`;
}

/**
 * What invites and access links store as their creator: the user's id as
 * it always was, or `key:<api key id>` for the API key (a user id never
 * starts with "key:"). {@link creatorLabel} shows both as actors.
 */
export function creatorOf(who: SpaceManager): string {
  return who.kind === "user" ? who.caller.userId : `key:${who.keyId}`;
}

/** A stored creator (see {@link creatorOf}) as shown: "user:<id>" or "key:<id>". */
export function creatorLabel(createdBy: string): string {
  return createdBy.startsWith("key:") ? createdBy : `user:${createdBy}`;
}

/** Longest reason kept with a revocation, in characters. */
export const MAX_REASON_CHARS = 1_024;

/** A revocation reason: at most {@link MAX_REASON_CHARS} characters. */
export function checkReason(reason: string): void {
  if (reason.length > MAX_REASON_CHARS) throw invalidArgument(`reason is longer than ${MAX_REASON_CHARS} characters`);
}

/** Longest space or room name, in characters. */
export const MAX_NAME_CHARS = 128;
/** Longest access-link username, in characters. */
export const MAX_LINK_USERNAME_CHARS = 64;
/** Default access-link lifetime (seed 001: 24 h). */
export const DEFAULT_LINK_TTL_SECONDS = 86_400;
/** Longest life of a user access token from a redeemed link. */
export const MAX_REDEEMED_TOKEN_TTL_SECONDS = 86_400;

const EXTERNAL_USER_ID = /^[A-Za-z0-9_-]{0,128}$/;
// C0/C1 control characters have no place in names shown to people.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A required id field: the one id rule of src/domain/ids.ts. */
export function checkId(field: string, value: string): void {
  checkAnyId(field, value);
}

/** A display name of 1..max characters (code points), not blank, no control characters. */
export function checkName(field: string, value: string, max: number): void {
  const chars = [...value].length;
  if (value.trim() === "") throw invalidArgument(`${field}: must not be empty`);
  if (chars > max) throw invalidArgument(`${field}: at most ${max} characters, got ${chars}`);
  if (CONTROL.test(value)) throw invalidArgument(`${field}: must not contain control characters`);
}

/** externalUserId: letters, digits, `_` and `-`, at most 128. */
export function checkExternalUserId(value: string): void {
  if (!EXTERNAL_USER_ID.test(value)) {
    throw invalidArgument("external_user_id: only letters, digits, '_' and '-', at most 128 characters");
  }
}

/** `value` must be one of `allowed`, else invalid_argument naming them. */
export function checkRole<R extends RoleName>(field: string, value: string, allowed: readonly R[]): R {
  if ((allowed as readonly string[]).includes(value)) return value as R;
  const names = allowed.length === 2 ? `${allowed[0]} or ${allowed[1]}` : allowed.join(", ");
  throw invalidArgument(`${field} must be ${names}`);
}

// Ranks of space roles: joining or an invite never lowers a member's rank.
const SPACE_RANK: Partial<Record<RoleName, number>> = {
  role_space_user: 1,
  role_space_moderator: 2,
  role_space_owner: 3,
};

/** The stronger of a held space role and an offered one (the held one on a tie). */
export function strongerSpaceRole(held: RoleName | undefined, offered: RoleName): RoleName {
  if (held === undefined) return offered;
  return (SPACE_RANK[held] ?? 0) >= (SPACE_RANK[offered] ?? 0) ? held : offered;
}

/** Refuses a room-scoped (access-link) caller outside its room; `roomId` undefined means a space-level call. */
export function checkScope(caller: SpaceCaller, roomId?: string): void {
  if (caller.roomScope !== undefined && caller.roomScope !== roomId) {
    throw new RoomgateError("permission_denied", "this access token is limited to one room");
  }
}
