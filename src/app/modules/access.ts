import { AccessChecker } from "../../domain/access/access-checker.js";
import { AccessPrivateService } from "../../services/access-private-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";

/** How often expired tokens are dropped from the access index (memory only; they never count after expiry). */
const PRUNE_EVERY_MS = 60_000;

/** Check, CheckBulk and the lookups: backends' questions without a token (issue 20). */
export interface AccessModule extends FeatureModule {
  readonly checker: AccessChecker;
  readonly accessPrivate: AccessPrivateService;
}

/** Builds the checker over this replica's live memory. */
export function accessModule(k: Kernel): AccessModule {
  const { live, clock } = k;
  const checker = new AccessChecker({
    index: live.access,
    revocations: live.revocations,
    restrictions: live.restrictions,
    clock,
  });
  const prune = setInterval(() => live.access.pruneExpired(clock()), PRUNE_EVERY_MS);
  prune.unref();
  return {
    checker,
    accessPrivate: new AccessPrivateService(checker, live.feed),
    close: () => clearInterval(prune),
  };
}
