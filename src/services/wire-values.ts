import type { Timestamp } from "@bufbuild/protobuf/wkt";

/**
 * `ms` since the epoch as a google.protobuf.Timestamp, built as the plain
 * object protobuf-es messages are. `timestampFromMs` goes through the
 * reflective `create()`, which Verify's profile (issue 21) showed among its
 * heaviest frames for a call that answers from memory; the fields are the
 * same (whole seconds down, nanoseconds 0–999,999,999 up).
 */
export function timestampOf(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}
