import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClaimsSchema } from "../../../gen/room/tokens/v1/claims_pb.js";
import { encodeClaims } from "../../../src/domain/tokens/claims-encoding.js";

const fields = fc.record({
  tokenId: fc.uint8Array({ maxLength: 20 }),
  tenantId: fc.string(),
  userId: fc.string({ unit: "grapheme" }),
  roomId: fc.string(),
  permissions: fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 40 }),
  issuedAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  notBeforeMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  expiresAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  metadataJson: fc.string(),
});

describe("encodeClaims", () => {
  it("writes exactly the bytes protobuf-es writes for the same claims", () => {
    fc.assert(
      fc.property(fields, (f) => {
        const reference = toBinary(
          ClaimsSchema,
          create(ClaimsSchema, {
            ...f,
            issuedAtMs: BigInt(f.issuedAtMs),
            notBeforeMs: BigInt(f.notBeforeMs),
            expiresAtMs: BigInt(f.expiresAtMs),
          }),
        );
        expect(encodeClaims(f)).toEqual(reference);
      }),
      { numRuns: 500 },
    );
  });

  it("decodes back to the same values", () => {
    const f = {
      tokenId: new Uint8Array([1, 2, 3]),
      tenantId: "t",
      userId: "u",
      roomId: "r",
      permissions: [200, 203],
      issuedAtMs: 1_800_000_000_000,
      notBeforeMs: 1_800_000_000_000,
      expiresAtMs: 1_800_086_400_000,
      metadataJson: '{"note":"x"}',
    };
    const c = fromBinary(ClaimsSchema, encodeClaims(f));
    expect(c.permissions).toEqual([200, 203]);
    expect(c.expiresAtMs).toBe(1_800_086_400_000n);
    expect(c.metadataJson).toBe('{"note":"x"}');
  });
});
