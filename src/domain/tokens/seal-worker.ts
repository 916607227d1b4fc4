/**
 * The sealing thread's entry (see {@link BatchSealer}): seals batches of
 * encoded claims with the active key it was last sent, so a large Create
 * encrypts on the other core while the main thread writes its rows.
 *
 * Messages in (in order, on one port, so a key always precedes the batches
 * sent after it): `{ type: "key", key }` and `{ type: "seal", id, kind,
 * claims, ends }` with every batch's claims in one transferred buffer.
 * Messages out: `{ type: "ready" }` once, then `{ id, keyId, tokens }` or
 * `{ id, error }` per batch.
 */
import { parentPort } from "node:worker_threads";
import { Keyring, type TokenKey } from "./keyring.js";
import { TokenCodec, type TokenKind } from "./token-codec.js";

/** Keys and batches the main thread sends. */
export type SealerRequest =
  | { readonly type: "key"; readonly key: TokenKey }
  | {
      readonly type: "seal";
      readonly id: number;
      readonly kind: TokenKind;
      readonly claims: Uint8Array;
      readonly ends: Uint32Array;
    };

/** What the thread answers. */
export type SealerReply =
  | { readonly type: "ready" }
  | { readonly type: "sealed"; readonly id: number; readonly keyId: number; readonly tokens: string[] }
  | { readonly type: "failed"; readonly id: number; readonly error: string };

const port = parentPort;
if (port !== null) {
  let codec: TokenCodec | undefined;
  port.on("message", (m: SealerRequest) => {
    if (m.type === "key") {
      // Only the active key: this thread seals and never opens.
      codec = new TokenCodec(new Keyring([{ ...m.key, state: "active" }]));
      return;
    }
    try {
      if (codec === undefined) throw new Error("no key yet");
      const tokens = new Array<string>(m.ends.length);
      let start = 0;
      for (let i = 0; i < m.ends.length; i++) {
        tokens[i] = codec.seal(m.kind, m.claims.subarray(start, m.ends[i]));
        start = m.ends[i]!;
      }
      port.postMessage({ type: "sealed", id: m.id, keyId: codec.keyring.active.id, tokens } satisfies SealerReply);
    } catch (err) {
      port.postMessage({
        type: "failed",
        id: m.id,
        error: err instanceof Error ? err.message : String(err),
      } satisfies SealerReply);
    }
  });
  port.postMessage({ type: "ready" } satisfies SealerReply);
}
