import { describe, expect, it, onTestFinished } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { EventBus } from "../../src/domain/events/event-bus.js";
import { ChangeFeed } from "../../src/domain/feed/change-feed.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { Spaces } from "../../src/domain/spaces/spaces.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import type { NewUser } from "../../src/domain/users/users.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlSpaceListStore } from "../../src/store/space-list-store.js";
import { SqlSpaceStore } from "../../src/store/space-store.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { DATABASES } from "../store/databases.js";

// Spaces over a real store, journal and change feed, wired as a replica
// wires them. What a write call promises: when it returns, the change is
// committed, and applied and announced on this replica.

const T = "acme";
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function user(id: string): NewUser {
  return {
    id,
    tenantId: T,
    kind: "registered",
    username: id,
    email: null,
    passwordHash: null,
    phone: null,
    externalUserId: null,
    uniqueUserIdentifier: null,
    profilePic: null,
    meta: null,
    tenantModerator: false,
    createdAt: 1,
  };
}

describe.each(DATABASES)("Spaces on %s", (_name, open) => {
  async function setup() {
    const db = await open();
    await new SqlTenantStore(db).createTenant(
      { id: T, name: T, createdAt: 1 },
      { id: "k", hash: new Uint8Array(32), label: "t" },
    );
    const users = new SqlUserStore(db);
    for (const id of ["owner", "member"]) await users.insertUser(user(id));
    const journal = new SqlJournal(db);
    const bus = new EventBus();
    const announced: StoredEvent[] = [];
    bus.subscribe(T, (e) => announced.push(e));
    const feed = new ChangeFeed({
      source: { eventsAfter: (a, n) => journal.feedEventsAfter(a, n), lastId: () => journal.lastEventId() },
      apply: () => undefined,
      publish: (events) => bus.publish(events),
      pollMs: 60_000,
      log: silent,
    });
    feed.start(0);
    onTestFinished(() => feed.stop());
    const memberships = new SqlMembershipStore(db);
    const clock = () => 1_000;
    const spaces = new Spaces({
      store: new SqlSpaceStore(db),
      lists: new SqlSpaceListStore(db),
      memberships,
      clock,
      sink: { journal, feed },
      transact: (fn) => db.write(fn),
      access: { restrictions: new RestrictionIndex(), revocations: new RevocationIndex(), clock },
    });
    const owner = { tenantId: T, userId: "owner", roomScope: undefined, issuedAt: 1 };
    const spaceId = await spaces.createSpace(owner, { name: "s", isPublic: false });
    const roomId = await spaces.createRoom(owner, spaceId, { name: "r", isPublic: false });
    return { spaces, memberships, announced, owner, spaceId, roomId };
  }

  /** Role grants announced, as [user, room, role]; read at once, before anything else runs. */
  const grants = (announced: StoredEvent[]) =>
    announced.filter((e) => e.type === EventType.ROLE_GRANTED).map((e) => [e.userId, e.roomId, e.role]);

  it("grantRole returns once the role is stored and its event announced", async () => {
    const { spaces, memberships, announced, owner, spaceId, roomId } = await setup();
    await spaces.grantRole(owner, { spaceId, roomId, targetUserId: "member", role: "role_room_user" });
    expect(grants(announced)).toEqual([["member", roomId, "role_room_user"]]);
    expect((await memberships.roomRolesOf(T, "member", roomId)).roomRole).toBe("role_room_user");
  });

  it("grantRoleAsBackend returns once the role is stored and its event announced", async () => {
    const { spaces, memberships, announced, spaceId, roomId } = await setup();
    await spaces.grantRoleAsBackend(T, "k", { spaceId, roomId, targetUserId: "member", role: "role_room_moderator" });
    expect(grants(announced)).toEqual([["member", roomId, "role_room_moderator"]]);
    expect((await memberships.roomRolesOf(T, "member", roomId)).roomRole).toBe("role_room_moderator");
  });
});
