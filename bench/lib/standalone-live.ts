import type { Transact } from "../../src/domain/journal.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import type { RoomTokensLive } from "../../src/domain/tokens/room-tokens.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";

/**
 * Live state for RoomTokens used on its own, without a store: fresh indexes,
 * a journal that keeps nothing and a transaction that just runs. For codec
 * and verify measurements only: what it issues is audited nowhere.
 */
export function standaloneLive(overrides: Partial<RoomTokensLive> = {}): RoomTokensLive {
  const transact: Transact = (fn) => fn();
  return {
    revocations: new RevocationIndex(),
    restrictions: new RestrictionIndex(),
    journal: { record: async () => [] },
    transact,
    ...overrides,
  };
}
