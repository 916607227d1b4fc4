// The checks every stored effect passes before it is written or applied:
// shared by the live-state effects (effects.ts) and the access facts
// (src/domain/access/facts.ts).

/**
 * A stored (or about to be stored) effects value that is not a valid
 * live effects value. The feed logs it and skips that event's effects.
 */
export class InvalidEffectsError extends Error {
  constructor(
    /** Where in the value the problem is, e.g. "revocations[2].at". */
    readonly path: string,
    problem: string,
  ) {
    super(`invalid effects at ${path}: ${problem}`);
    this.name = "InvalidEffectsError";
  }
}

/**
 * A plain object with only `allowed` keys (`loose`: other keys allowed too,
 * for reading a discriminant before the variant's own check).
 */
export function record(v: unknown, path: string, allowed: readonly string[], loose = false): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new InvalidEffectsError(path, "must be an object");
  const o = v as Record<string, unknown>;
  if (!loose) {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) throw new InvalidEffectsError(`${path}.${k}`, "unknown field");
    }
  }
  return o;
}

/** An optional array, each item checked by `item`. */
export function list<T>(v: unknown, path: string, item: (v: unknown, path: string) => T): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidEffectsError(path, "must be an array");
  return v.map((x, i) => item(x, `${path}[${i}]`));
}

/** A non-empty string (ids). */
export function id(v: unknown, path: string): string {
  if (typeof v !== "string" || v.length === 0) throw new InvalidEffectsError(path, "must be a non-empty string");
  return v;
}

/** A time in ms since the epoch (JSON carries any finite number exactly). */
export function time(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new InvalidEffectsError(path, "must be a finite number (ms)");
  return v;
}
