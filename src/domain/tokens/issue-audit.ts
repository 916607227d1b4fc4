import type { AuditInit } from "../journal.js";
import type { GrantRecord } from "./grants.js";

/**
 * The one audit entry of a Create batch (`token.issue`), naming every grant
 * it made. One row per batch, not per token: a 1,000-token Create would
 * otherwise write (and index) a thousand audit rows in its transaction.
 *
 * A batch of one reads as it always did: the token as `target`, its user
 * and room, `{ permissions, expiresAt }` as detail. A larger batch keeps the
 * room and user columns when they are the same for every token ("" when
 * not), lists every distinct room and user for the filters, and names each
 * grant in `detail.grants` as `{ tokenId, userId, roomId, permissions,
 * expiresAt }`, in argument order.
 */
export function issueAuditEntry(
  tenantId: string,
  issuedBy: string,
  at: number,
  grants: readonly GrantRecord[],
): AuditInit {
  const actor = `key:${issuedBy}` as const;
  if (grants.length === 1) {
    const g = grants[0]!;
    const detail = { permissions: g.permissions, expiresAt: g.expiresAt };
    return {
      tenantId,
      at,
      actor,
      action: "token.issue",
      roomId: g.roomId,
      targetUserId: g.userId,
      target: g.id,
      detail,
    };
  }
  const rooms = new Set<string>();
  const users = new Set<string>();
  const named = grants.map((g) => {
    rooms.add(g.roomId);
    users.add(g.userId);
    return { tokenId: g.id, userId: g.userId, roomId: g.roomId, permissions: g.permissions, expiresAt: g.expiresAt };
  });
  const only = (s: Set<string>) => (s.size === 1 ? s.values().next().value! : "");
  return {
    tenantId,
    at,
    actor,
    action: "token.issue",
    roomId: only(rooms),
    targetUserId: only(users),
    detail: { grants: named },
    roomIds: rooms.size > 1 ? [...rooms] : undefined,
    targetUserIds: users.size > 1 ? [...users] : undefined,
  };
}
