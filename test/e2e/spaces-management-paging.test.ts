import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { bearer } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as } from "../support/spaces-clients.js";
import { createTestUser, type TestUser } from "../support/users.js";
import { privateApi, PROTOCOLS, userApi, type Protocol } from "./spaces-management-support.js";

// Issue 9: every list is paged without gaps or repeats while other calls
// insert. Each test reads a list page by page (page size 3) while a second
// loop keeps adding items; every item that existed before the first page
// must be seen exactly once, and nothing twice.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const EXISTING = 20;
const PAGE = 3;

interface Listed {
  readonly ids: string[];
  readonly next: string;
}

/**
 * Pages through `read` while `insert` runs in a loop (at least until the
 * paging ends, and at least `EXISTING` inserts, interleaved with it); returns
 * every id seen, in order.
 */
async function pageWhileInserting(
  read: (pageToken: string) => Promise<Listed>,
  insert: (i: number) => Promise<unknown>,
): Promise<{ seen: string[]; inserted: number }> {
  let done = false;
  let inserted = 0;
  const writer = (async () => {
    while (!done || inserted < EXISTING) {
      await insert(inserted);
      inserted++;
    }
  })();
  const seen: string[] = [];
  try {
    let token = "";
    do {
      const page = await read(token);
      expect(page.ids.length).toBeLessThanOrEqual(PAGE);
      seen.push(...page.ids);
      token = page.next;
      // The writer gets in between pages: another row is inserted before the next page is read.
      const made = inserted;
      await vi.waitFor(() => expect(inserted).toBeGreaterThan(made), { timeout: 10_000, interval: 1 });
    } while (token !== "");
  } finally {
    done = true;
    await writer;
  }
  return { seen, inserted };
}

function expectEachOnce(seen: readonly string[], existing: readonly string[]): void {
  expect(new Set(seen).size, "an item was listed twice").toBe(seen.length);
  const set = new Set(seen);
  expect(
    existing.filter((id) => !set.has(id)),
    "items that existed before the first page but were not listed",
  ).toEqual([]);
}

async function tenant() {
  const t = await createTenantWithKey(srv.h.tenants, "paging", Date.now());
  return { tenantId: t.tenant.id, key: bearer(t.key), user: () => createTestUser(srv, { tenantId: t.tenant.id }) };
}

describe.each(PROTOCOLS)("paging under concurrent inserts over %s", (protocol: Protocol) => {
  const key = () => privateApi(srv, protocol);
  const api = () => userApi(srv, protocol);

  it("ListSpaces (API key and owner)", async () => {
    const t = await tenant();
    const owner = await t.user();
    const existing: string[] = [];
    for (let i = 0; i < EXISTING; i++)
      existing.push((await key().createSpace({ name: `s${i}`, isPublic: false, ownerUserId: owner.userId }, t.key)).id);
    const make = () => key().createSpace({ name: "new", isPublic: false, ownerUserId: owner.userId }, t.key);

    const viaKey = await pageWhileInserting(async (pageToken) => {
      const r = await key().listSpaces({ pageSize: PAGE, pageToken }, t.key);
      return { ids: r.spaces.map((s) => s.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaKey.seen, existing);

    const viaOwner = await pageWhileInserting(async (pageToken) => {
      const r = await api().listSpaces({ pageSize: PAGE, pageToken }, as(owner.token));
      return { ids: r.spaces.map((s) => s.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaOwner.seen, [...existing, ...viaKey.seen]);
  });

  it("ListRooms (API key and a space member)", async () => {
    const t = await tenant();
    const owner = await t.user();
    const { id: spaceId } = await key().createSpace({ name: "s", isPublic: true, ownerUserId: owner.userId }, t.key);
    const existing: string[] = [];
    for (let i = 0; i < EXISTING; i++)
      existing.push((await key().createRoom({ spaceId, name: `r${i}`, isPublic: true }, t.key)).id);
    const make = () => key().createRoom({ spaceId, name: "new", isPublic: true }, t.key);

    const viaKey = await pageWhileInserting(async (pageToken) => {
      const r = await key().listRooms({ spaceId, pageSize: PAGE, pageToken }, t.key);
      return { ids: r.rooms.map((x) => x.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaKey.seen, existing);

    const viaOwner = await pageWhileInserting(async (pageToken) => {
      const r = await api().listRooms({ spaceId, pageSize: PAGE, pageToken }, as(owner.token));
      return { ids: r.rooms.map((x) => x.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaOwner.seen, [...existing, ...viaKey.seen]);
  });

  it("ListMembers (API key and a room moderator), members ordered by user id", async () => {
    const t = await tenant();
    const owner = await t.user();
    const { id: spaceId } = await key().createSpace({ name: "s", isPublic: false, ownerUserId: owner.userId }, t.key);
    const { id: roomId } = await api().createRoom({ spaceId, name: "r", isPublic: false }, as(owner.token));
    const existing: string[] = [owner.userId];
    const grant = async (): Promise<TestUser> => {
      const u = await t.user();
      await key().grantRole({ spaceId, roomId, targetUserId: u.userId, role: "role_room_user" }, t.key);
      return u;
    };
    for (let i = 0; i < EXISTING; i++) existing.push((await grant()).userId);

    // User ids are random: new members land before and after the cursor alike.
    const viaKey = await pageWhileInserting(async (pageToken) => {
      const r = await key().listMembers({ spaceId, roomId, pageSize: PAGE, pageToken }, t.key);
      return { ids: r.members.map((m) => m.userId), next: r.nextPageToken };
    }, grant);
    expectEachOnce(viaKey.seen, existing);

    const viaOwner = await pageWhileInserting(async (pageToken) => {
      const r = await api().listMembers({ spaceId, roomId, pageSize: PAGE, pageToken }, as(owner.token));
      return { ids: r.members.map((m) => m.userId), next: r.nextPageToken };
    }, grant);
    expectEachOnce(viaOwner.seen, [...existing, ...viaKey.seen]);
  });

  it("ListInvites (API key and owner)", async () => {
    const t = await tenant();
    const owner = await t.user();
    const { id: spaceId } = await key().createSpace({ name: "s", isPublic: false, ownerUserId: owner.userId }, t.key);
    const existing: string[] = [];
    for (let i = 0; i < EXISTING; i++)
      existing.push((await key().createInvite({ spaceId, role: "role_space_user" }, t.key)).id);
    const make = () => api().createInvite({ spaceId, role: "role_space_user" }, as(owner.token));

    const viaKey = await pageWhileInserting(async (pageToken) => {
      const r = await key().listInvites({ spaceId, pageSize: PAGE, pageToken }, t.key);
      return { ids: r.invites.map((x) => x.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaKey.seen, existing);

    const viaOwner = await pageWhileInserting(async (pageToken) => {
      const r = await api().listInvites({ spaceId, pageSize: PAGE, pageToken }, as(owner.token));
      return { ids: r.invites.map((x) => x.id), next: r.nextPageToken };
    }, make);
    expectEachOnce(viaOwner.seen, [...existing, ...viaKey.seen]);
  });
});
