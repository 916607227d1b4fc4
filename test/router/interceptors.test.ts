import { Code, ConnectError, createContextValues, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { RoomgateError } from "../../src/domain/errors.js";
import { ApiKeyGate } from "../../src/server/api-key-auth.js";
import { endUserInterceptor } from "../../src/server/end-user-auth.js";
import { apiKeyInterceptor, errorInterceptor, strictFieldsInterceptor } from "../../src/server/interceptors.js";

// The interceptors run without async frames where they have nothing to
// await; these pin that they still behave as async ones did: a refusal is a
// rejected promise (never a synchronous throw), and a call they let through
// is the rest of the chain's own promise.

function request(
  typeName: string,
  method: string,
  headers: Record<string, string> = {},
  message: object = {},
): UnaryRequest {
  return {
    stream: false,
    service: { typeName },
    method: { name: method },
    header: new Headers(headers),
    contextValues: createContextValues(),
    message,
    url: `http://x/${typeName}/${method}`,
  } as unknown as UnaryRequest;
}

const answer = Promise.resolve({ stream: false } as UnaryResponse);
const passThrough = () => answer;
const noTokens = {} as never;
const noKeys = new ApiKeyGate({ authenticate: async () => undefined });

/** Calls `fn`, which must not throw synchronously, and returns its settled promise's error. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  let p: Promise<unknown>;
  expect(() => (p = fn())).not.toThrow();
  return await p!.then(
    () => "resolved",
    (err: unknown) => err,
  );
}

describe("interceptors without async frames", () => {
  it("let a call through as the chain's own promise", () => {
    const req = request("room.tokens.v1.Service", "Anything");
    expect(endUserInterceptor(noTokens, noTokens)(passThrough as never)(req)).toBe(answer);
    expect(strictFieldsInterceptor()(passThrough as never)(req)).toBe(answer);
    expect(apiKeyInterceptor(noKeys)(passThrough as never)(req)).toBe(answer);
  });

  it("refuse with a rejected promise, never a synchronous throw", async () => {
    const endUser = await rejection(() =>
      endUserInterceptor(noTokens, noTokens)(passThrough as never)(
        request("room.users.v1.Service", "Me", { authorization: "Basic x" }),
      ),
    );
    expect(endUser).toBeInstanceOf(RoomgateError);
    const binary = request(
      "room.tokens.private.v1.Service",
      "Verify",
      { "content-type": "application/proto" },
      { $unknown: [{ no: 99, wireType: 0, data: new Uint8Array([1]) }] },
    );
    const strict = await rejection(() => strictFieldsInterceptor()(passThrough as never)(binary));
    expect(strict).toMatchObject({ code: Code.InvalidArgument, rawMessage: "unknown field in request" });
    const missingKey = await rejection(() =>
      apiKeyInterceptor(noKeys)(passThrough as never)(request("room.tokens.private.v1.Service", "Verify")),
    );
    expect((missingKey as RoomgateError).kind).toBe("unauthenticated");
  });

  it("the error interceptor converts a synchronous throw and a rejection of the chain alike", async () => {
    const log = pino({ level: "silent" });
    const denied = new RoomgateError("permission_denied", "no");
    const thrown = await rejection(() =>
      errorInterceptor(log)((() => {
        throw denied;
      }) as never)(request("room.tokens.v1.Service", "X")),
    );
    const rejected = await rejection(() =>
      errorInterceptor(log)((() => Promise.reject(denied)) as never)(request("room.tokens.v1.Service", "X")),
    );
    for (const e of [thrown, rejected]) {
      expect(e).toBeInstanceOf(ConnectError);
      expect(e).toMatchObject({ code: Code.PermissionDenied, rawMessage: "no" });
    }
    const internal = await rejection(() =>
      errorInterceptor(log)((() => Promise.reject(new Error("secret detail"))) as never)(
        request("room.tokens.v1.Service", "X"),
      ),
    );
    expect(internal).toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
  });

  it("the error interceptor converts an error thrown part-way through a response stream", async () => {
    const log = pino({ level: "silent" });
    async function* stream(fail: unknown) {
      yield { n: 1 };
      throw fail;
    }
    const read = async (fail: unknown) => {
      const res = (await errorInterceptor(log)((() =>
        Promise.resolve({ stream: true, message: stream(fail) })) as never)(
        request("room.events.private.v1.Service", "Watch"),
      )) as unknown as { message: AsyncIterable<unknown> };
      const got: unknown[] = [];
      try {
        for await (const m of res.message) got.push(m);
      } catch (err) {
        return { got, err };
      }
      return { got, err: undefined };
    };
    const internal = await read(new Error("secret detail"));
    expect(internal.got).toEqual([{ n: 1 }]);
    expect(internal.err).toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
    const denied = await read(new RoomgateError("unauthenticated", "token revoked"));
    expect(denied.err).toMatchObject({ code: Code.Unauthenticated, rawMessage: "token revoked" });
  });
});
