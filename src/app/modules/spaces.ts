import { AccessLinks } from "../../domain/spaces/access-links.js";
import { Spaces } from "../../domain/spaces/spaces.js";
import { AccessService } from "../../services/access-service.js";
import { SpacesPrivateService } from "../../services/spaces-private-service.js";
import { SpacesService } from "../../services/spaces-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";
import type { TokensModule } from "./tokens.js";

/** Spaces, their rooms and invites, and access links. */
export interface SpacesModule extends FeatureModule {
  readonly spaces: SpacesService;
  readonly spacesPrivate: SpacesPrivateService;
  readonly access: AccessService;
}

/** Builds spaces and access links over the membership store. */
export function spacesModule(k: Kernel, tokens: Pick<TokensModule, "linkTokens" | "userTokens">): SpacesModule {
  const { config, clock, live, stores } = k;
  const deps = {
    store: stores.spaces,
    lists: stores.spaceLists,
    memberships: stores.memberships,
    clock,
    sink: k.sink,
    // Every end-user call in a room refuses a member the room is closed to.
    access: { restrictions: live.restrictions, revocations: live.revocations, clock },
    transact: k.transact,
  };
  const spaces = new Spaces(deps);
  const accessLinks = new AccessLinks({
    ...deps,
    linkTokens: tokens.linkTokens,
    userTokens: tokens.userTokens,
    options: { publicUrl: config.publicUrl, maxTtlSeconds: config.maxTtlSeconds },
    revocationStore: stores.moderation,
  });
  return {
    spaces: new SpacesService(spaces, accessLinks),
    spacesPrivate: new SpacesPrivateService(spaces, accessLinks),
    access: new AccessService(accessLinks),
  };
}
