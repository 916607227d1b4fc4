import { describe, expect, it, onTestFinished } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { Spaces } from "../../src/domain/spaces/spaces.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";
import type { NewUser } from "../../src/domain/users/users.js";
import { SqlMembershipStore } from "../../src/store/membership-store.js";
import { SqlSpaceListStore } from "../../src/store/space-list-store.js";
import { SqlSpaceStore } from "../../src/store/space-store.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { DATABASES } from "../store/databases.js";
import { newUser } from "../support/builders.js";
import { wireDomain } from "../support/domain-kit.js";

// Spaces over a real store, journal and change feed, wired as a replica
// wires them. What a write call promises: when it returns, the change is
// committed, and applied and announced on this replica.

const T = "acme";

function user(id: string): NewUser {
  return newUser(id, T);
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
    const { feed, sink, transact, announced: announcedOf } = wireDomain(db);
    const announced = announcedOf(T);
    onTestFinished(() => feed.stop());
    const memberships = new SqlMembershipStore(db);
    const clock = () => 1_000;
    const spaces = new Spaces({
      store: new SqlSpaceStore(db),
      lists: new SqlSpaceListStore(db),
      memberships,
      clock,
      sink,
      transact,
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
