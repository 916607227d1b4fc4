import { randomUUID } from "node:crypto";

/** Longest `x-request-id` taken from a caller. */
const MAX_LENGTH = 128;
/** Printable ASCII without spaces: safe in a log line and a response header. */
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * The caller's `x-request-id` when it is printable and bounded, otherwise a
 * new one: a request id never carries control characters or unbounded
 * input into the logs.
 */
export function requestIdFrom(header: string | null | undefined): string {
  if (header && header.length <= MAX_LENGTH && PRINTABLE.test(header)) return header;
  return randomUUID();
}
