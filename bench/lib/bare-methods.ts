/**
 * The bare baseline's four methods (bench/lib/bare-server.ts serves them):
 * each decodes its request (Connect JSON by hand, both field spellings;
 * binary with protobuf-es), calls the very domain objects the app's
 * services call, and encodes the answer (JSON by hand, binary with
 * protobuf-es). Binary is not hand-written: protobuf-es's binary codec is
 * already lean, and a hand-rolled one would measure a different codec.
 */
import { create, toBinary, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  GetRoomPermissionsRequestSchema,
  GetRoomPermissionsResponseSchema,
} from "../../gen/room/permissions/v1/service_pb.js";
import {
  CreateRequestSchema,
  CreateResponseSchema,
  VerifyRequestSchema,
  VerifyResponseSchema,
} from "../../gen/room/tokens/private/v1/service_pb.js";
import {
  VerifyAccessTokenRequestSchema,
  VerifyAccessTokenResponseSchema,
} from "../../gen/room/users/private/v1/service_pb.js";
import type { App } from "./bench-app.js";
import type { ApiKeyPrincipal } from "../../src/domain/auth/api-keys.js";
import { RoomgateError, TokenRejectedError } from "../../src/domain/errors.js";
import {
  effectiveRoomPermissions,
  roomPermissionFlags,
  type RoomPermissionDeps,
} from "../../src/domain/room-permissions.js";
import type { TokenRequest } from "../../src/domain/tokens/room-tokens.js";
import { endUserCredential, resolveEndUser } from "../../src/server/end-user-auth.js";
import { SqlRoomStore } from "../../src/store/room-store.js";

type Json = Record<string, unknown>;

/** One unary method, bare: its request decoders, its domain call, its response encoders. */
export interface BareMethod<I extends DescMessage = DescMessage, R = unknown> {
  readonly input: I;
  /** The request as the domain needs it, from Connect JSON (field names by hand, both spellings). */
  fromJson(msg: Json): MessageShape<I> | Json;
  run(req: MessageShape<I> | Json, authorization: string | undefined): R | Promise<R>;
  toJson(r: R): unknown;
  toBinary(r: R): Uint8Array;
}

const str = (msg: Json, camel: string, snake: string): string => String(msg[camel] ?? msg[snake] ?? "");

function permissionNumber(name: unknown): number {
  if (typeof name === "number") return name;
  const n = (Permission as unknown as Record<string, number | undefined>)[String(name)];
  if (n === undefined) throw new RoomgateError("invalid_argument", `unknown permission ${String(name)}`);
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The four benchmarked methods, by path, over `app`'s own domain objects. */
export function bareMethods(app: App, principal: ApiKeyPrincipal): Map<string, BareMethod> {
  const tokens = app.roomTokens;
  const deps: RoomPermissionDeps = {
    rooms: new SqlRoomStore(app.db),
    memberships: app.memberships,
    restrictions: app.restrictions,
    revocations: app.revocations,
    clock: app.clock,
  };
  const methods: [string, BareMethod][] = [
    [
      "/room.tokens.private.v1.Service/Create",
      {
        input: CreateRequestSchema,
        fromJson: (msg) => msg,
        async run(req) {
          const list = ((req as Json)["arguments"] ?? []) as Json[];
          const args: TokenRequest[] = list.map((a) => ({
            userId: str(a, "userId", "user_id"),
            roomId: str(a, "roomId", "room_id"),
            metadata: a["metadata"] as JsonObject | undefined,
            permissions: ((a["permissions"] ?? []) as unknown[]).map(permissionNumber),
            ttlSeconds: (a["ttlSeconds"] ?? a["ttl_seconds"]) as number | undefined,
          }));
          return tokens.issue(principal.tenantId, principal.keyId, args);
        },
        toJson: (t: string[]) => ({ tokens: t }),
        toBinary: (t: string[]) => toBinary(CreateResponseSchema, create(CreateResponseSchema, { tokens: t })),
      } as BareMethod,
    ],
    [
      "/room.tokens.private.v1.Service/Verify",
      {
        input: VerifyRequestSchema,
        fromJson: (msg) => ({ token: str(msg, "token", "token") }),
        run: (req) => tokens.verify(principal.tenantId, String((req as Json)["token"])),
        toJson: (v: ReturnType<typeof tokens.verify>) => ({
          tokenId: v.tokenId,
          userId: v.userId,
          roomId: v.roomId,
          permissions: v.permissions.map((p) => Permission[p]),
          metadata: v.metadata,
          issuedAt: iso(v.issuedAt),
          expiresAt: iso(v.expiresAt),
          notBefore: iso(v.notBefore),
          restrictions: v.restrictions.map((r) =>
            r.until === null ? { kind: r.kind } : { kind: r.kind, until: iso(r.until) },
          ),
        }),
        toBinary: (v: ReturnType<typeof tokens.verify>) =>
          toBinary(
            VerifyResponseSchema,
            create(VerifyResponseSchema, {
              tokenId: v.tokenId,
              userId: v.userId,
              roomId: v.roomId,
              permissions: [...v.permissions],
              metadata: v.metadata,
              issuedAt: timestampFromMs(v.issuedAt),
              notBefore: timestampFromMs(v.notBefore),
              expiresAt: timestampFromMs(v.expiresAt),
              restrictions: v.restrictions.map((r) => ({
                kind: r.kind,
                until: r.until === null ? undefined : timestampFromMs(r.until),
              })),
            }),
          ),
      } as BareMethod,
    ],
    [
      "/room.users.private.v1.Service/VerifyAccessToken",
      {
        input: VerifyAccessTokenRequestSchema,
        fromJson: (msg) => ({ token: str(msg, "token", "token") }),
        run(req) {
          const c = app.userTokens.verify(String((req as Json)["token"]));
          if (c.tenantId !== principal.tenantId) throw new TokenRejectedError("invalid");
          return c;
        },
        toJson: (c: ReturnType<typeof app.userTokens.verify>) => ({
          tokenId: c.tokenId,
          userId: c.userId,
          roomId: c.roomId,
          issuedAt: iso(c.issuedAt),
          expiresAt: iso(c.expiresAt),
        }),
        toBinary: (c: ReturnType<typeof app.userTokens.verify>) =>
          toBinary(
            VerifyAccessTokenResponseSchema,
            create(VerifyAccessTokenResponseSchema, {
              tokenId: c.tokenId,
              userId: c.userId,
              roomId: c.roomId,
              issuedAt: timestampFromMs(c.issuedAt),
              expiresAt: timestampFromMs(c.expiresAt),
            }),
          ),
      } as BareMethod,
    ],
    [
      "/room.permissions.v1.Service/GetRoomPermissions",
      {
        input: GetRoomPermissionsRequestSchema,
        fromJson: (msg) => ({ roomId: str(msg, "roomId", "room_id") }),
        async run(req, authorization) {
          const token = endUserCredential(authorization ?? null, null);
          if (token === undefined) throw new RoomgateError("unauthenticated", "missing credential");
          const caller = resolveEndUser(token, app.userTokens, tokens);
          const roomId = String((req as Json)["roomId"]);
          return { roomId, granted: await effectiveRoomPermissions(caller, roomId, deps) };
        },
        toJson: (r: { roomId: string; granted: Permission[] }) => ({
          roomPermissions: {
            permissions: roomPermissionFlags(r.granted),
            roomId: r.roomId,
            granted: r.granted.map((p) => Permission[p]),
          },
        }),
        toBinary: (r: { roomId: string; granted: Permission[] }) =>
          toBinary(
            GetRoomPermissionsResponseSchema,
            create(GetRoomPermissionsResponseSchema, {
              roomPermissions: { permissions: roomPermissionFlags(r.granted), roomId: r.roomId, granted: r.granted },
            }),
          ),
      } as BareMethod,
    ],
  ];
  return new Map(methods);
}
