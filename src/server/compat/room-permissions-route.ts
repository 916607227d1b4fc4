import { toJson } from "@bufbuild/protobuf";
import { RoomPermissionFlagsSchema } from "../../../gen/room/permissions/v1/service_pb.js";
import type { SubjectTokens } from "../../domain/auth/subject-tokens.js";
import { RoomgateError } from "../../domain/errors.js";
import type { RoomTokens } from "../../domain/tokens/room-tokens.js";
import type { PermissionsService } from "../../services/permissions-service.js";
import { HTTP_STATUS, seed002ErrorShape, type CompatErrorCode, type CompatReply, type CompatRoute } from "../compat.js";
import { authenticateEndUser } from "../end-user-auth.js";

/** What the seed 002 route needs: the service and the end-user token kinds. */
export interface RoomPermissionsRouteDeps {
  readonly permissions: PermissionsService;
  readonly userTokens: SubjectTokens;
  readonly roomTokens: RoomTokens;
}

/** Seed 002's error text for a credential that does not open. */
const WRONG_CREDENTIAL = "Wrong Bearer, please renew Web API Access Token";
const MISSING_CREDENTIAL = "Missing credential: send the session cookie or Authorization: Bearer <access token>";

const HEX = "[0-9A-Fa-f]";
const CONT = `%[89ABab]${HEX}`;
/**
 * One character of the id segment: anything but "%" and "/", or a
 * percent-encoded well-formed UTF-8 sequence (no overlongs, surrogates or
 * values past U+10FFFF). The dispatcher decodes params with
 * decodeURIComponent, which throws on anything else; such a path simply
 * does not match (404) instead of reaching it.
 */
const SEGMENT_CHAR = [
  "[^%/]",
  `%[0-7]${HEX}`,
  `%[Cc][2-9A-Fa-f]${CONT}`,
  `%[Dd]${HEX}${CONT}`,
  `%[Ee]0%[AaBb]${HEX}${CONT}`,
  `%[Ee][1-9A-Ca-c]${CONT}${CONT}`,
  `%[Ee][Dd]%[89]${HEX}${CONT}`,
  `%[Ee][EeFf]${CONT}${CONT}`,
  `%[Ff]0%[9AaBb]${HEX}${CONT}${CONT}`,
  `%[Ff][1-3]${CONT}${CONT}${CONT}`,
  `%[Ff]4%8${HEX}${CONT}${CONT}`,
].join("|");

/**
 * The route's path. An empty id is matched on purpose so it gets seed 002's
 * 400 rather than a bare 404.
 */
export const ROOM_PERMISSIONS_PATH = new RegExp(`^/api/v1/room-permissions/((?:${SEGMENT_CHAR})*)$`);

/**
 * Seed 002's `GET /api/v1/room-permissions/{roomId}`: the session cookie
 * (or a bearer user access token / room member token) → the caller's flags
 * in seed 002's exact body. A thin adapter over {@link PermissionsService};
 * every error is in seed 002's shape, `{"errorText","httpStatusCode"}`.
 */
export function roomPermissionsRoute(deps: RoomPermissionsRouteDeps): CompatRoute {
  return {
    method: "GET",
    path: ROOM_PERMISSIONS_PATH,
    errorShape: seed002ErrorShape,
    async handle(ctx) {
      try {
        // The same resolution as the end-user RPCs (see endUserInterceptor).
        const caller = authenticateEndUser(
          header(ctx.headers, "authorization"),
          header(ctx.headers, "cookie"),
          deps.userTokens,
          deps.roomTokens,
        );
        if (caller === undefined) return error(401, "unauthenticated", MISSING_CREDENTIAL);
        ctx.tenant(caller.tenantId);
        const roomId = ctx.params[0] ?? "";
        const rp = await deps.permissions.roomPermissionsOf(caller, roomId);
        return reply(200, {
          httpStatusCode: 200,
          roomPermissions: {
            permissions: toJson(RoomPermissionFlagsSchema, rp.permissions!, { alwaysEmitImplicit: true }),
            roomId: renderRoomId(rp.roomId),
          },
        });
      } catch (err) {
        if (!(err instanceof RoomgateError)) throw err;
        // The domain's wording for a bad token says nothing a client can act
        // on; the seed's text tells them to renew it.
        return error(HTTP_STATUS[err.kind], err.kind, err.kind === "unauthenticated" ? WRONG_CREDENTIAL : err.message);
      }
    },
  };
}

/**
 * Seed 002 shows `"roomId": 3`: an id that is a canonical safe integer is
 * written as a JSON number; anything else ("007", uuids) stays a string so
 * it round-trips unchanged.
 */
export function renderRoomId(roomId: string): number | string {
  if (!/^(0|[1-9][0-9]*)$/.test(roomId)) return roomId;
  const n = Number(roomId);
  return Number.isSafeInteger(n) ? n : roomId;
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(name === "cookie" ? "; " : ", ") : v;
}

function reply(status: number, body: unknown): CompatReply {
  // Per-caller answers: no shared cache may keep one.
  return { status, body, headers: { "cache-control": "no-store" } };
}

function error(status: number, code: CompatErrorCode, errorText: string): CompatReply {
  return reply(status, seed002ErrorShape(status, code, errorText));
}
