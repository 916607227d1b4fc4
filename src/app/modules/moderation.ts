import { roomPermissionsRoute } from "../../server/compat/room-permissions-route.js";
import { gatedRoute } from "../../server/freshness.js";
import { RestrictionLapses } from "../../domain/moderation/lapses.js";
import { roleExpirySource } from "../../domain/moderation/lapses-roles.js";
import { Moderation } from "../../domain/moderation/moderation.js";
import type { RoomPermissionDeps } from "../../domain/room-permissions.js";
import { StreamLimits } from "../../domain/stream-limits.js";
import { ModerationPrivateService } from "../../services/moderation-private-service.js";
import { ModerationService } from "../../services/moderation-service.js";
import { PermissionsService } from "../../services/permissions-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";
import type { TokensModule } from "./tokens.js";

/** Moderation (blocks, mutes and their lapses) and "my permissions" in a room. */
export interface ModerationModule extends FeatureModule {
  readonly moderation: ModerationService;
  readonly moderationPrivate: ModerationPrivateService;
  readonly permissions: PermissionsService;
  /** Records and announces timed blocks and mutes as they lapse. */
  readonly lapses: RestrictionLapses;
  /** The domain's moderation actions (what both services call). */
  readonly actions: Moderation;
}

/** Options of {@link moderationModule}. */
export interface ModerationOptions {
  /** Arm a real timer for lapses (else the caller runs `lapses.runDue()`). */
  readonly lapseTimer: boolean;
}

/** Builds moderation and the permission services, and starts the lapses (those due while down are sent now). */
export async function moderationModule(
  k: Kernel,
  tokens: Pick<TokensModule, "userTokens" | "roomTokens">,
  opts: ModerationOptions,
): Promise<ModerationModule> {
  const { clock, sink, transact, stores, live } = k;
  const moderation = new Moderation({
    store: stores.moderation,
    transact,
    sink,
    memberships: stores.memberships,
    clock,
  });
  // "My permissions" and end-user moderation judge the caller the same way.
  const deps: RoomPermissionDeps = {
    rooms: stores.rooms,
    memberships: stores.memberships,
    restrictions: live.restrictions,
    revocations: live.revocations,
    clock,
  };
  const permissions = new PermissionsService(deps, k.fresh, {
    // Driven by the bus, which every replica's feed fills: works on any replica.
    deps: { ...deps, bus: live.bus, appliedId: () => live.feed.appliedId },
    limits: new StreamLimits(
      "permission streams",
      k.config.maxPermissionStreamsPerUser,
      k.config.maxPermissionStreamsPerTenant,
    ),
    shutdown: k.shutdown.signal,
    fresh: k.fresh,
  });
  const lapses = new RestrictionLapses({
    store: stores.moderation,
    // Roles granted with an expiry lapse on the same timer, exactly once.
    sources: [roleExpirySource(stores.roleExpiry)],
    transact,
    sink,
    bus: live.bus,
    clock,
    onError: (err) => k.log.error({ err }, "restriction lapse failed; retrying"),
  });
  await lapses.start(k.shutdown.signal, { timer: opts.lapseTimer });
  const route = roomPermissionsRoute({ permissions, userTokens: tokens.userTokens, roomTokens: tokens.roomTokens });
  return {
    moderation: new ModerationService(moderation, deps),
    moderationPrivate: new ModerationPrivateService(moderation),
    permissions,
    lapses,
    actions: moderation,
    routes: [gatedRoute(route, k.consistency.gate)],
    close: () => lapses.stop(),
  };
}
