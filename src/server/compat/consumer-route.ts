import { RoomgateError, invalidArgument } from "../../domain/errors.js";
import type { ConsumerUserInput, ConsumerUsers } from "../../domain/users/consumer.js";
import { RateLimitedError, type ApiKeyGate } from "../api-key-auth.js";
import { connectErrorShape, HTTP_STATUS, type CompatReply, type CompatRoute } from "../compat.js";

type FieldType = "string" | "boolean" | "string|number";

/** Seed 003's body fields, exactly, plus the role expiry; anything else is refused. */
const FIELDS: Readonly<Record<Exclude<keyof ConsumerUserInput, "expiry">, FieldType>> = {
  chatRoom: "string",
  externalUserId: "string|number",
  isModerator: "boolean",
  email: "string",
  profilePic: "string",
  meta: "string",
  username: "string",
  uniqueUserIdentifier: "string",
};

/** The domain names fields as the proto does; this route's callers know the seed's names. */
const JSON_NAMES: Readonly<Record<string, string>> = {
  chat_room: "chatRoom",
  external_user_id: "externalUserId",
  profile_pic: "profilePic",
  unique_user_identifier: "uniqueUserIdentifier",
  expires_at: "expiresAt",
  ttl_seconds: "ttlSeconds",
};

/**
 * Seed 003's `POST /consumer/api/v1/user?auth=<API key>`: the seed's JSON
 * body and response, over the same domain call as
 * room.consumer.private.v1.Service/CreateUser, admitted by the same
 * {@link ApiKeyGate} (key and per-key rate limit) as the RPCs. The seed
 * documents no error shape, so every error of the route is Connect-shaped
 * JSON (`{"code","message"}`) with the status Connect would use.
 */
export function consumerRoute(consumers: ConsumerUsers, gate: ApiKeyGate): CompatRoute {
  return {
    method: "POST",
    path: /^\/consumer\/api\/v1\/user$/,
    errorShape: connectErrorShape,
    async handle(ctx) {
      try {
        const presented = ctx.query.getAll("auth");
        if (presented.length === 0 || presented[0] === "") {
          throw new RoomgateError("unauthenticated", "missing API key: pass ?auth=<key>");
        }
        // The key is a secret: it is checked, never echoed or logged.
        if (presented.length > 1) throw new RoomgateError("unauthenticated", "invalid API key");
        const caller = await gate.admit(presented[0]!, "room.consumer.private.v1.Service/CreateUser");
        ctx.tenant(caller.tenantId);
        const r = await consumers.createOrLogin(caller, parseBody(ctx.body));
        return {
          status: 200,
          body: { accessToken: r.accessToken, username: r.username, userId: r.userId, isModerator: r.isModerator },
          headers: NO_STORE,
        };
      } catch (err) {
        if (err instanceof RoomgateError) return errorReply(err);
        throw err;
      }
    },
  };
}

// The response carries a bearer token: no cache may keep it.
const NO_STORE = { "cache-control": "no-store" } as const;

function errorReply(err: RoomgateError): CompatReply {
  const status = HTTP_STATUS[err.kind];
  const headers: Record<string, string> = { ...NO_STORE };
  if (err instanceof RateLimitedError) headers["retry-after"] = String(Math.ceil(err.retryAfterMs / 1000));
  return { status, body: connectErrorShape(status, err.kind, jsonFieldNames(err.message)), headers };
}

function jsonFieldNames(message: string): string {
  const m = /^([a-z_]+):/.exec(message);
  const renamed = m ? JSON_NAMES[m[1]!] : undefined;
  return renamed ? renamed + message.slice(m![1]!.length) : message;
}

/**
 * Checks the body strictly: an object with seed 003's fields only, each of
 * its type (null counts as absent). `externalUserId` may be a number, as
 * the seed allows; it is kept as its decimal string, and only whole numbers
 * JSON can carry exactly are accepted so that no id is silently rounded.
 */
export function parseBody(body: unknown): ConsumerUserInput {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw invalidArgument("request body must be a JSON object");
  const out: Record<string, string | boolean> = {
    chatRoom: "",
    externalUserId: "",
    isModerator: false,
    email: "",
    profilePic: "",
    meta: "",
    username: "",
    uniqueUserIdentifier: "",
  };
  const { expiresAt, ttlSeconds, ...seed } = body as Record<string, unknown>;
  for (const [key, value] of Object.entries(seed)) {
    if (!Object.hasOwn(FIELDS, key)) throw invalidArgument(`unknown field "${key.slice(0, 64)}"`);
    const type = FIELDS[key as keyof typeof FIELDS];
    if (value === null) continue;
    if (type === "boolean") {
      if (typeof value !== "boolean") throw invalidArgument(`${key}: must be true or false`);
      out[key] = value;
    } else if (typeof value === "string") {
      out[key] = value;
    } else if (type === "string|number" && typeof value === "number") {
      if (!Number.isSafeInteger(value))
        throw invalidArgument(`${key}: a number must be a whole number below 2^53; send larger ids as strings`);
      out[key] = String(value);
    } else {
      throw invalidArgument(`${key}: must be a ${type === "string" ? "string" : "string or number"}`);
    }
  }
  return { ...(out as unknown as ConsumerUserInput), expiry: parseExpiry(expiresAt, ttlSeconds) };
}

/**
 * The role expiry this route adds to seed 003's body: `expiresAt` as an
 * RFC 3339 time (as the RPC's JSON gives a Timestamp) or `ttlSeconds` as a
 * whole number; the domain checks the rest (both given, past, too far).
 */
function parseExpiry(expiresAt: unknown, ttlSeconds: unknown): ConsumerUserInput["expiry"] {
  let at: number | undefined;
  if (expiresAt !== undefined && expiresAt !== null) {
    // Date.parse alone takes many shapes; an RFC 3339 time with its zone is asked for.
    if (typeof expiresAt !== "string" || !RFC3339.test(expiresAt) || Number.isNaN(Date.parse(expiresAt)))
      throw invalidArgument("expiresAt: must be an RFC 3339 time such as 2030-01-01T00:00:00Z");
    at = Date.parse(expiresAt);
  }
  let ttl = 0;
  if (ttlSeconds !== undefined && ttlSeconds !== null) {
    if (typeof ttlSeconds !== "number" || !Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0)
      throw invalidArgument("ttlSeconds: must be a whole number of seconds above 0");
    ttl = ttlSeconds;
  }
  return { expiresAt: at, ttlSeconds: ttl };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
