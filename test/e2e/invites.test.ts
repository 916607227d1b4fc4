import { Code, ConnectError } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invites, spaceMembers } from "../../src/store/schema.js";
import { expectCode } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount, spaceRoleOf, spacesClient } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const api = () => spacesClient(srv);

const spaceRole = (spaceId: string, userId: string) => spaceRoleOf(srv, spaceId, userId);

type InviteRow = {
  tenantId: string;
  spaceId: string;
  role: string;
  createdBy: string;
  usedBy: string | null;
  usedAt: number | null;
};

/** An invite as stored (SQL both stores accept). */
function inviteRow(id: string): Promise<InviteRow | undefined> {
  return srv.h.rows.get<InviteRow>(
    sql`select tenant_id as "tenantId", space_id as "spaceId", role as "role", created_by as "createdBy", used_by as "usedBy", used_at as "usedAt"
        from invites where id = ${id}`,
  );
}

async function ownerWithSpace(): Promise<{ owner: TestUser; spaceId: string }> {
  const owner = await createTestUser(srv);
  const { id } = await api().createSpace({ name: "Invites", isPublic: false }, as(owner.token));
  return { owner, spaceId: id };
}

describe("CreateInvite", () => {
  it("the owner creates an unused invite carrying the role", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId, role: "role_space_moderator" }, as(owner.token));
    expect(await inviteRow(id)).toMatchObject({
      tenantId: srv.tenantId,
      spaceId,
      role: "role_space_moderator",
      createdBy: owner.userId,
      usedBy: null,
      usedAt: null,
    });
  });

  it("a wrong role name is invalid_argument and writes nothing", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const before = await rowCount(srv, invites);
    for (const role of ["role_space_owner", "role_room_user", "moderator", "role_space_users", ""]) {
      await expectCode(
        api().createInvite({ spaceId, role }, as(owner.token)),
        Code.InvalidArgument,
        "role must be role_space_moderator or role_space_user",
      );
    }
    expect(await rowCount(srv, invites)).toBe(before);
  });

  it("only the owner may invite: a space moderator, a space user and a stranger are permission_denied", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const mod = await createTestUser(srv);
    const member = await createTestUser(srv);
    for (const [u, role] of [
      [mod, "role_space_moderator"],
      [member, "role_space_user"],
    ] as const) {
      const { id } = await api().createInvite({ spaceId, role }, as(owner.token));
      await api().activateInvite({ spaceId, inviteId: id }, as(u.token));
    }
    const before = await rowCount(srv, invites);
    for (const u of [mod, member, await createTestUser(srv)]) {
      await expectCode(
        api().createInvite({ spaceId, role: "role_space_user" }, as(u.token)),
        Code.PermissionDenied,
        "only the space owner may invite",
      );
    }
    expect(await rowCount(srv, invites)).toBe(before);
  });

  it("an unknown space is not_found; no credential is unauthenticated", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    await expectCode(
      api().createInvite({ spaceId: "nope", role: "role_space_user" }, as(owner.token)),
      Code.NotFound,
      "space not found",
    );
    await expectCode(api().createInvite({ spaceId, role: "role_space_user" }), Code.Unauthenticated);
  });
});

describe("ActivateInvite", () => {
  it("gives the caller the invite's role and works exactly once", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId, role: "role_space_moderator" }, as(owner.token));
    const first = await createTestUser(srv);
    const second = await createTestUser(srv);
    await api().activateInvite({ spaceId, inviteId: id }, as(first.token));
    expect(await spaceRole(spaceId, first.userId)).toBe("role_space_moderator");
    expect(await inviteRow(id)).toMatchObject({ usedBy: first.userId });
    expect((await inviteRow(id))?.usedAt).toBeGreaterThan(0);

    await expectCode(
      api().activateInvite({ spaceId, inviteId: id }, as(second.token)),
      Code.FailedPrecondition,
      "invite already used",
    );
    await expectCode(
      api().activateInvite({ spaceId, inviteId: id }, as(first.token)),
      Code.FailedPrecondition,
      "invite already used",
    );
    expect(await spaceRole(spaceId, second.userId)).toBeUndefined();
    expect((await inviteRow(id))?.usedBy).toBe(first.userId);
  });

  it("30+ simultaneous activations by different users over HTTP/2: exactly one succeeds", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId, role: "role_space_user" }, as(owner.token));
    const users = await Promise.all(Array.from({ length: 40 }, () => createTestUser(srv)));
    const membersBefore = await rowCount(srv, spaceMembers, eq(spaceMembers.spaceId, spaceId));
    const h2 = spacesClient(srv, "2");
    const results = await Promise.allSettled(
      users.map((u) => h2.activateInvite({ spaceId, inviteId: id }, as(u.token))),
    );

    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(39);
    for (const f of failed) {
      expect(f.reason).toBeInstanceOf(ConnectError);
      expect(Code[(f.reason as ConnectError).code]).toBe(Code[Code.FailedPrecondition]);
      expect((f.reason as ConnectError).rawMessage).toBe("invite already used");
    }
    expect(await rowCount(srv, spaceMembers, eq(spaceMembers.spaceId, spaceId))).toBe(membersBefore + 1);
    const winner = users[results.findIndex((r) => r.status === "fulfilled")]!;
    expect((await inviteRow(id))?.usedBy).toBe(winner.userId);
    expect(await spaceRole(spaceId, winner.userId)).toBe("role_space_user");
  });

  it("an invite of another space, an unknown one or an empty id is refused and stays unused", async () => {
    const a = await ownerWithSpace();
    const b = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId: a.spaceId, role: "role_space_user" }, as(a.owner.token));
    const u = await createTestUser(srv);
    await expectCode(
      api().activateInvite({ spaceId: b.spaceId, inviteId: id }, as(u.token)),
      Code.NotFound,
      "invite not found",
    );
    await expectCode(
      api().activateInvite({ spaceId: a.spaceId, inviteId: "no-such-invite" }, as(u.token)),
      Code.NotFound,
      "invite not found",
    );
    await expectCode(
      api().activateInvite({ spaceId: a.spaceId, inviteId: "" }, as(u.token)),
      Code.InvalidArgument,
      "invite_id: must not be empty",
    );
    await expectCode(api().activateInvite({ spaceId: a.spaceId, inviteId: id }), Code.Unauthenticated);
    expect((await inviteRow(id))?.usedAt).toBeNull();
    expect(await spaceRole(b.spaceId, u.userId)).toBeUndefined();
    // Still usable by its rightful invitee.
    await api().activateInvite({ spaceId: a.spaceId, inviteId: id }, as(u.token));
    expect(await spaceRole(a.spaceId, u.userId)).toBe("role_space_user");
  });

  it("a user of another tenant cannot activate (not_found) and the invite stays unused", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId, role: "role_space_moderator" }, as(owner.token));
    const foreigner = await createTestUser(srv, { tenantId: srv.otherTenantId });
    await expectCode(
      api().activateInvite({ spaceId, inviteId: id }, as(foreigner.token)),
      Code.NotFound,
      "invite not found",
    );
    expect((await inviteRow(id))?.usedAt).toBeNull();
    expect(await spaceRole(spaceId, foreigner.userId)).toBeUndefined();
  });

  it("never downgrades: the owner activating a role_space_user invite is refused, stays owner, and the invite stays unused", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const { id } = await api().createInvite({ spaceId, role: "role_space_user" }, as(owner.token));
    await expectCode(api().activateInvite({ spaceId, inviteId: id }, as(owner.token)), Code.FailedPrecondition);
    expect(await spaceRole(spaceId, owner.userId)).toBe("role_space_owner");
    expect((await inviteRow(id))?.usedAt).toBeNull();
  });

  it("upgrades a space user to moderator", async () => {
    const { owner, spaceId } = await ownerWithSpace();
    const u = await createTestUser(srv);
    for (const role of ["role_space_user", "role_space_moderator"]) {
      const { id } = await api().createInvite({ spaceId, role }, as(owner.token));
      await api().activateInvite({ spaceId, inviteId: id }, as(u.token));
      expect(await spaceRole(spaceId, u.userId)).toBe(role);
    }
  });
});
