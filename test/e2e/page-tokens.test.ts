import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as AuditPrivate } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as UsersPrivate, UserKind } from "../../gen/room/users/private/v1/service_pb.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { auditLog, events } from "../../src/store/schema.js";
import { bearer, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, rowCount } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";
import { privateApi, PROTOCOLS, userApi, type Protocol } from "./spaces-management-support.js";

// Issue 19, section 3: page tokens are sealed and bound to tenant, call and
// filters (SPEC "Sessions, lapses and questions from backends"). Before,
// a token was base64url of the keyset position (`rooms.<ms>.<id>`): an
// edited one started the next page elsewhere, and one list's or tenant's
// token was read by another.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const ROOMS = 7;
const PAGE = 2;

/** A fresh tenant with two spaces of {@link ROOMS} rooms each, and a few users. */
async function world() {
  const t = await createTenantWithKey(srv.h.tenants, "paging", Date.now());
  const key = bearer(t.key);
  const owner = await createTestUser(srv, { tenantId: t.tenant.id });
  const api = privateApi(srv, "grpc");
  const spaces: { id: string; rooms: string[] }[] = [];
  for (let s = 0; s < 2; s++) {
    const { id } = await api.createSpace({ name: `space ${s}`, ownerUserId: owner.userId }, key);
    const rooms: string[] = [];
    for (let r = 0; r < ROOMS; r++) rooms.push((await api.createRoom({ spaceId: id, name: `room ${r}` }, key)).id);
    spaces.push({ id, rooms });
  }
  const users = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
  for (let i = 0; i < 4; i++) {
    const n = `${t.tenant.id.slice(0, 8)}-${i}`;
    await users.createUser({ email: `${n}@example.com`, username: `u ${n}`, password: `pw-${n}-secret` }, key);
  }
  return { tenantId: t.tenant.id, key, owner, spaces, users };
}

/** A second page token of ListRooms in `spaceId`. */
async function roomsToken(protocol: Protocol, key: ReturnType<typeof bearer>, spaceId: string): Promise<string> {
  const page = await privateApi(srv, protocol).listRooms({ spaceId, pageSize: PAGE }, key);
  expect(page.nextPageToken).not.toBe("");
  return page.nextPageToken;
}

describe.each(PROTOCOLS)("sealed page tokens over %s", (protocol) => {
  it("paging still walks every row exactly once; the token says nothing readable", async () => {
    const w = await world();
    const api = privateApi(srv, protocol);
    for (const space of w.spaces) {
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await api.listRooms({ spaceId: space.id, pageSize: PAGE, pageToken }, w.key);
        expect(page.rooms.length).toBeLessThanOrEqual(PAGE);
        seen.push(...page.rooms.map((r) => r.id));
        pageToken = page.nextPageToken;
        if (pageToken !== "") {
          const text = Buffer.from(pageToken, "base64url").toString("latin1");
          expect(text).not.toContain("rooms");
          for (const id of space.rooms) expect(text).not.toContain(id);
        }
      } while (pageToken !== "");
      expect(seen.length).toBe(ROOMS);
      expect(new Set(seen)).toEqual(new Set(space.rooms));
    }
    // The page size may change between pages: only the filters are bound.
    const token = await roomsToken(protocol, w.key, w.spaces[0]!.id);
    const rest = await api.listRooms({ spaceId: w.spaces[0]!.id, pageSize: 100, pageToken: token }, w.key);
    expect(rest.rooms.length).toBe(ROOMS - PAGE);
    expect(rest.nextPageToken).toBe("");
  });

  it("an edited (every character, one at a time), truncated or extended token is invalid_argument; the real one still works", async () => {
    const w = await world();
    const api = privateApi(srv, protocol);
    const spaceId = w.spaces[0]!.id;
    const token = await roomsToken(protocol, w.key, spaceId);
    const before = await api.listRooms({ spaceId, pageSize: PAGE, pageToken: token }, w.key);
    const written = { audit: await rowCount(srv, auditLog), events: await rowCount(srv, events) };
    const edits: string[] = [];
    for (let i = 0; i < token.length; i++) {
      const c = token[i] === "A" ? "B" : "A";
      edits.push(token.slice(0, i) + c + token.slice(i + 1));
    }
    edits.push(token.slice(0, -1), token.slice(0, -4), token.slice(4), `${token}A`, `${token}AAAA`, `${token}=`, "");
    for (const edited of edits.filter((e) => e !== "")) {
      await expectCode(
        api.listRooms({ spaceId, pageSize: PAGE, pageToken: edited }, w.key),
        Code.InvalidArgument,
        "page_token: not a token from a previous response",
      );
    }
    // The old readable form is refused too.
    const legacy = Buffer.from(`rooms.${Date.now()}.${w.spaces[0]!.rooms[3]}`, "utf8").toString("base64url");
    await expectCode(api.listRooms({ spaceId, pageToken: legacy }, w.key), Code.InvalidArgument);
    // Nothing else changed: the genuine token gives the same page, and nothing was written.
    const again = await api.listRooms({ spaceId, pageSize: PAGE, pageToken: token }, w.key);
    expect(again.rooms.map((r) => r.id)).toEqual(before.rooms.map((r) => r.id));
    expect({ audit: await rowCount(srv, auditLog), events: await rowCount(srv, events) }).toEqual(written);
  });

  it("a token of one list is refused by every other list, the end-user surface's included", async () => {
    const w = await world();
    const api = privateApi(srv, protocol);
    const spaceId = w.spaces[0]!.id;
    const token = await roomsToken(protocol, w.key, spaceId);
    await expectCode(api.listInvites({ spaceId, pageToken: token }, w.key), Code.InvalidArgument);
    await expectCode(api.listSpaces({ pageToken: token }, w.key), Code.InvalidArgument);
    await expectCode(
      api.listMembers({ spaceId, roomId: w.spaces[0]!.rooms[0]!, pageToken: token }, w.key),
      Code.InvalidArgument,
    );
    await expectCode(w.users.listUsers({ pageToken: token }, w.key), Code.InvalidArgument);
    const audit = createClient(AuditPrivate, grpcTransport(srv.baseUrl));
    await expectCode(audit.list({ pageToken: token }, w.key), Code.InvalidArgument);
    // The same list on the end-user surface is another call.
    await expectCode(
      userApi(srv, protocol).listRooms({ spaceId, pageToken: token }, as(w.owner.token)),
      Code.InvalidArgument,
    );
    // And the other way round: a ListUsers token is no ListRooms token.
    const usersPage = await w.users.listUsers({ pageSize: 1 }, w.key);
    await expectCode(api.listRooms({ spaceId, pageToken: usersPage.nextPageToken }, w.key), Code.InvalidArgument);
  });

  it("a token of another tenant is refused, though the call and filters are the same", async () => {
    const a = await world();
    const b = await world();
    const usersA = await a.users.listUsers({ pageSize: 1 }, a.key);
    await expectCode(b.users.listUsers({ pageSize: 1, pageToken: usersA.nextPageToken }, b.key), Code.InvalidArgument);
    const spacesA = await privateApi(srv, protocol).listSpaces({ pageSize: 1 }, a.key);
    await expectCode(
      privateApi(srv, protocol).listSpaces({ pageSize: 1, pageToken: spacesA.nextPageToken }, b.key),
      Code.InvalidArgument,
    );
    // Each still works in its own tenant.
    await a.users.listUsers({ pageSize: 1, pageToken: usersA.nextPageToken }, a.key);
  });

  it("a token made under other filters is refused", async () => {
    const w = await world();
    const api = privateApi(srv, protocol);
    const token = await roomsToken(protocol, w.key, w.spaces[0]!.id);
    await expectCode(api.listRooms({ spaceId: w.spaces[1]!.id, pageToken: token }, w.key), Code.InvalidArgument);
    const all = await w.users.listUsers({ pageSize: 1 }, w.key);
    await expectCode(
      w.users.listUsers({ pageSize: 1, kind: UserKind.REGISTERED, pageToken: all.nextPageToken }, w.key),
      Code.InvalidArgument,
    );
    const registered = await w.users.listUsers({ pageSize: 1, kind: UserKind.REGISTERED }, w.key);
    await w.users.listUsers({ pageSize: 1, kind: UserKind.REGISTERED, pageToken: registered.nextPageToken }, w.key);
    await expectCode(
      w.users.listUsers({ pageSize: 1, pageToken: registered.nextPageToken }, w.key),
      Code.InvalidArgument,
    );
  });
});

describe("the audit log's pages", () => {
  it("walk every entry of a filter once, and a token of one filter is refused under another", async () => {
    const w = await world();
    const audit: Client<typeof AuditPrivate> = createClient(AuditPrivate, grpcTransport(srv.baseUrl));
    const all = await audit.list({ pageSize: 500 }, w.key);
    expect(all.nextPageToken).toBe("");
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await audit.list({ pageSize: 3, pageToken }, w.key);
      seen.push(...page.entries.map((e) => String(e.id)));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(all.entries.map((e) => String(e.id)));
    expect(seen.length).toBeGreaterThan(3);
    const first = await audit.list({ pageSize: 1 }, w.key);
    await expectCode(
      audit.list({ pageSize: 1, roomId: w.spaces[0]!.rooms[0]!, pageToken: first.nextPageToken }, w.key),
      Code.InvalidArgument,
    );
  });
});
