import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { RoomgateError } from "../errors.js";
import { journaled, type JournalSink } from "../events/record.js";
import type { Actor, StoredEvent, Transact } from "../journal.js";
import type { TenantStore } from "./tenants.js";

/** What revoking an API key works with. */
export interface ApiKeyRevocationDeps {
  readonly tenants: TenantStore;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
}

/**
 * Revokes an API key by its public id: the row is marked, and an
 * API_KEY_REVOKED event of the key's tenant carries the revocation to every
 * replica's live state (cached keys forgotten, Watch streams opened with the
 * key ended), so the key stops everywhere at once rather than when a cache
 * expires. Unknown key: not_found; already revoked: failed_precondition.
 */
export async function revokeApiKey(
  deps: ApiKeyRevocationDeps,
  keyId: string,
  actor: Actor,
): Promise<{ tenantId: string; event: StoredEvent }> {
  const now = deps.clock();
  const { result, events } = await journaled(
    deps.transact,
    deps.sink,
    async (record) => {
      const key = await deps.tenants.findApiKey(keyId);
      if (!key) throw new RoomgateError("not_found", `no API key ${keyId}`);
      if (key.revokedAt !== null) {
        throw new RoomgateError(
          "failed_precondition",
          `API key ${keyId} was already revoked at ${new Date(key.revokedAt).toISOString()}`,
        );
      }
      if (!(await deps.tenants.revokeApiKey(keyId, now)))
        throw new RoomgateError("failed_precondition", `API key ${keyId} was already revoked`);
      await record({
        audit: [{ tenantId: key.tenantId, at: now, actor, action: "api_key.revoke", target: keyId }],
        events: [
          {
            tenantId: key.tenantId,
            type: EventType.API_KEY_REVOKED,
            actor,
            at: now,
            effects: { apiKeysRevoked: [{ tenantId: key.tenantId, keyId }] },
          },
        ],
      });
      return key.tenantId;
    },
    { withEvents: true },
  );
  return { tenantId: result, event: events[0]! };
}
