import { EventTypeSchema } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument } from "../errors.js";
import { ID_FORBIDDEN } from "../ids.js";

/** Every event type name an endpoint may ask for (the events log's names). */
export const EVENT_TYPE_NAMES: ReadonlyMap<string, number> = new Map(
  EventTypeSchema.values.filter((v) => v.number !== 0).map((v) => [v.name, v.number]),
);

/** The name of an event type number, as payloads and filters carry it. */
export function eventTypeName(type: number): string {
  return EventTypeSchema.values.find((v) => v.number === type)?.name ?? `EVENT_TYPE_${type}`;
}

/** Longest description accepted (UTF-8 bytes). */
export const MAX_DESCRIPTION_BYTES = 1024;

/** Event type filter: known names, no repeats; [] means every type. */
export function checkEventTypes(names: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (!EVENT_TYPE_NAMES.has(n))
      throw invalidArgument(`event_types: unknown event type ${JSON.stringify(n.slice(0, 64))}`);
    if (seen.has(n)) throw invalidArgument(`event_types: ${n} given twice`);
    seen.add(n);
  }
  return [...seen];
}

/** Free text for the operator: bounded, no control characters. */
export function checkDescription(d: string): string {
  if (Buffer.byteLength(d, "utf8") > MAX_DESCRIPTION_BYTES)
    throw invalidArgument(`description: longer than ${MAX_DESCRIPTION_BYTES} bytes`);
  if (ID_FORBIDDEN.test(d)) throw invalidArgument("description: must not contain control characters");
  return d;
}

/** True when an event of `type` in `roomId` goes to an endpoint with these filters. */
export function matches(
  filter: { readonly eventTypes: readonly string[]; readonly roomId: string },
  type: number,
  roomId: string,
): boolean {
  if (filter.roomId !== "" && filter.roomId !== roomId) return false;
  return filter.eventTypes.length === 0 || filter.eventTypes.includes(eventTypeName(type));
}
