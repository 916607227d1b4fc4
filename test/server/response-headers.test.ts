import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeHeaders } from "../../src/server/fast/connect-node-internals.js";
import { ResponseHeaders } from "../../src/server/fast/response-headers.js";

/** One operation on a Headers; both implementations get the same sequence. */
type Op =
  | { readonly kind: "set" | "append"; readonly name: string; readonly value: string }
  | { readonly kind: "delete"; readonly name: string };

const NAMES = ["Content-Type", "content-type", "X-Request-Id", "set-cookie", "Set-Cookie", "grpc-status", "a", "Z"];
const name = fc.constantFrom(...NAMES);
const value = fc.oneof(
  fc.constantFrom("application/json", " padded\t", "a, b", "", "0", "x=1; Path=/"),
  fc.string({ maxLength: 8 }).filter((s) => !/[\0\r\n]/.test(s)),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("set" as const, "append" as const), name, value }),
  fc.record({ kind: fc.constant("delete" as const), name }),
);

function apply(h: Headers, ops: readonly Op[]): void {
  for (const o of ops) {
    if (o.kind === "delete") h.delete(o.name);
    else h[o.kind](o.name, o.value);
  }
}

/** Everything a caller can read back from a Headers. */
function observe(h: Headers): unknown {
  return {
    entries: [...h.entries()],
    keys: [...h.keys()],
    values: [...h.values()],
    forEach: (() => {
      const seen: [string, string][] = [];
      h.forEach((v, k) => {
        seen.push([k, v]);
      });
      return seen;
    })(),
    get: NAMES.map((n) => [n, h.get(n), h.has(n)]),
    setCookie: h.getSetCookie(),
    node: nodeHeaders(h),
    copy: [...new Headers(h).entries()],
  };
}

describe("the fast path's response headers read back as fetch's Headers do", () => {
  it("after any sequence of set, append and delete (names in any case, values padded, repeated, set-cookie)", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const ours = new ResponseHeaders();
        const fetchs = new Headers();
        apply(ours, ops);
        apply(fetchs, ops);
        expect(observe(ours)).toEqual(observe(fetchs));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses an invalid name or value with a TypeError, as fetch does, changing nothing", () => {
    for (const [n, v] of [
      ["bad name", "v"],
      ["", "v"],
      ["x", "a\r\nInjected: 1"],
      ["x", "a\0b"],
    ] as const) {
      const ours = new ResponseHeaders({ kept: "1" });
      expect(() => new Headers().set(n, v)).toThrow(TypeError);
      expect(() => ours.set(n, v)).toThrow(TypeError);
      expect(() => ours.append(n, v)).toThrow(TypeError);
      expect([...ours.entries()]).toEqual([["kept", "1"]]);
    }
  });
});
