import { createClient, type Client } from "@connectrpc/connect";
import { Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Moderation } from "../../gen/room/moderation/v1/service_pb.js";
import type { TestServer } from "./server.js";
import { as, spacesClient } from "./spaces-clients.js";
import { createTestUser, type TestUser } from "./users.js";
import { connectTransport, grpcTransport } from "./clients.js";

/** A space with an owner, a space moderator, a member and one public and one private room. */
export interface Scene {
  readonly spaceId: string;
  readonly owner: TestUser;
  readonly spaceMod: TestUser;
  readonly spaceUser: TestUser;
  /** Public room, created by the owner. */
  readonly publicRoom: string;
  /** Private room, created by the owner. */
  readonly privateRoom: string;
}

/** Builds a {@link Scene} through the real end-user calls. */
export async function scene(srv: TestServer, opts: { spacePublic?: boolean } = {}): Promise<Scene> {
  const api = spacesClient(srv);
  const owner = await createTestUser(srv);
  const spaceMod = await createTestUser(srv);
  const spaceUser = await createTestUser(srv);
  const { id: spaceId } = await api.createSpace({ name: "Space", isPublic: opts.spacePublic ?? true }, as(owner.token));
  for (const [u, role] of [
    [spaceMod, "role_space_moderator"],
    [spaceUser, "role_space_user"],
  ] as const) {
    const { id: inviteId } = await api.createInvite({ spaceId, role }, as(owner.token));
    await api.activateInvite({ spaceId, inviteId }, as(u.token));
  }
  const { id: publicRoom } = await api.createRoom({ spaceId, name: "Lobby", isPublic: true }, as(owner.token));
  const { id: privateRoom } = await api.createRoom({ spaceId, name: "Board", isPublic: false }, as(owner.token));
  return { spaceId, owner, spaceMod, spaceUser, publicRoom, privateRoom };
}

/** room.moderation.v1 over Connect JSON (browser) and gRPC (service). */
export function moderationClients(srv: TestServer): {
  connect: Client<typeof Moderation>;
  grpc: Client<typeof Moderation>;
} {
  return {
    connect: createClient(Moderation, connectTransport(srv.baseUrl)),
    grpc: createClient(Moderation, grpcTransport(srv.baseUrl)),
  };
}

/** room.moderation.private.v1 over gRPC. */
export function moderationPrivateClient(srv: TestServer): Client<typeof ModerationPrivate> {
  return createClient(ModerationPrivate, grpcTransport(srv.baseUrl));
}
