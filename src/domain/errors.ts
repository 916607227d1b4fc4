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
