import type { Journal, Transact } from "../journal.js";
import type { RestrictionIndex } from "../moderation/restrictions.js";
import type { RevocationIndex } from "./revocations.js";

/**
 * The live state Verify consults and the journal Create writes to. All
 * required: a token issuer without its audit journal, or a verifier
 * without the revocations, would quietly skip a promise.
 */
export interface RoomTokensLive {
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  readonly journal: Journal;
  readonly transact: Transact;
  /**
   * Brings this replica's live state up to every write committed so far
   * (the change feed's catchUp): Create refuses a member blocked on ANY
   * replica a moment ago, not only on this one.
   */
  readonly catchUp?: () => Promise<unknown>;
  /** Told whether each Verify found its token already opened (metrics); unset costs nothing. */
  readonly onCacheLookup?: (hit: boolean) => void;
}
