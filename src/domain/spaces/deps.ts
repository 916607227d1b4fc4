import type { JournalSink } from "../events/record.js";
import type { Transact } from "../journal.js";
import type { MembershipStore } from "../membership.js";
import type { RoomPermissionDeps } from "../room-permissions.js";
import type { SpaceListStore } from "./list-store.js";
import type { SpaceStore } from "./store.js";

/** What spaces and access links work with; all required, wired once in src/app.ts. */
export interface SpacesDeps {
  readonly store: SpaceStore;
  /** The reads behind the list calls. */
  readonly lists: SpaceListStore;
  readonly memberships: MembershipStore;
  readonly clock: () => number;
  /** Where every change is audited and announced. */
  readonly sink: JournalSink;
  /** The one write transaction (Database.write). */
  readonly transact: Transact;
  /** Live blocks and revocations: a room closed to the caller refuses them. */
  readonly access: Pick<RoomPermissionDeps, "restrictions" | "revocations" | "clock">;
}
