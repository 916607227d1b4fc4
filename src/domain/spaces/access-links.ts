import type {
  AccessLinksDeps,
  AccessRequest,
  GeneratedAccess,
  LinkListRequest,
  LinkManager,
  LinkPage,
  Redemption,
} from "./access-link-types.js";
import { generateLink } from "./link-generation.js";
import { listLinks, revokeLink } from "./link-management.js";
import { redeemLink } from "./link-redemption.js";
import type { StoredEvent } from "../journal.js";

export type {
  AccessLinkOptions,
  AccessLinksDeps,
  AccessRequest,
  GeneratedAccess,
  LinkListRequest,
  LinkManager,
  LinkPage,
  Redemption,
} from "./access-link-types.js";

/**
 * Access links for unregistered users (seed 001 generateAccess), their
 * redemption, listing and revocation; the rules are listed in ./rules.ts. A
 * link is a row in the store plus an access-link token whose token id is
 * the row's id, so the token alone names the link and nothing guessable does.
 */
export class AccessLinks {
  constructor(private readonly deps: AccessLinksDeps) {}

  /** See {@link generateLink}. */
  generate(who: LinkManager, req: AccessRequest): Promise<GeneratedAccess> {
    return generateLink(this.deps, who, req);
  }

  /** See {@link redeemLink}. */
  redeem(accessToken: string): Promise<Redemption> {
    return redeemLink(this.deps, accessToken);
  }

  /** See {@link listLinks}. */
  list(who: LinkManager, req: LinkListRequest): Promise<LinkPage> {
    return listLinks(this.deps, who, req);
  }

  /** See {@link revokeLink}. */
  revoke(who: LinkManager, spaceId: string, roomId: string, linkId: string, reason: string): Promise<StoredEvent> {
    return revokeLink(this.deps, who, spaceId, roomId, linkId, reason);
  }
}
