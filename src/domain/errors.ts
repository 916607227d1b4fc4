/**
 * The failure kinds the domain can report. They mirror Connect codes by name
 * so the transport maps them one-to-one, without the domain depending on it.
 */
export type ErrorKind =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted";

/**
 * RoomgateError is a failure meant for the caller: its message is safe to
 * show. Anything else thrown is treated as internal and never leaves the
 * server verbatim.
 */
export class RoomgateError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "RoomgateError";
  }
}

/** Shorthand for an invalid_argument failure. */
export function invalidArgument(message: string): RoomgateError {
  return new RoomgateError("invalid_argument", message);
}

/** Why a member may not be in a room at all. */
export type RoomAccessReason = "room_blocked" | "removed";

/**
 * permission_denied because the room is closed to the member: a room block
 * (until it lapses or is lifted) or a kick/revocation for that room after
 * the credential was issued. The transport turns `reason`, `roomId` and
 * `until` into a machine-readable error detail.
 */
export class RoomAccessDeniedError extends RoomgateError {
  constructor(
    readonly reason: RoomAccessReason,
    readonly roomId: string,
    /** When a timed block lapses (ms); null when it lasts until lifted. */
    readonly until: number | null,
  ) {
    super(
      "permission_denied",
      reason === "room_blocked"
        ? `blocked from room ${JSON.stringify(roomId)}${until === null ? "" : ` until ${new Date(until).toISOString()}`}`
        : `removed from room ${JSON.stringify(roomId)} after this credential was issued: sign in or get a new token`,
    );
    this.name = "RoomAccessDeniedError";
  }
}

/** Why a token was refused. */
export type TokenRejection = "invalid" | "expired" | "not_yet_valid" | "revoked";

/**
 * unauthenticated because a presented token does not hold. Callers that try
 * several token kinds, or that report an expired link differently, branch
 * on `rejection`, never on the message.
 */
export class TokenRejectedError extends RoomgateError {
  constructor(readonly rejection: TokenRejection) {
    super("unauthenticated", TOKEN_MESSAGES[rejection]);
    this.name = "TokenRejectedError";
  }
}

const TOKEN_MESSAGES: Readonly<Record<TokenRejection, string>> = {
  invalid: "invalid token",
  expired: "token expired",
  not_yet_valid: "token not yet valid",
  revoked: "token revoked",
};
