import { createDecipheriv, createCipheriv, randomBytes, webcrypto } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CompactEncrypt, compactDecrypt } from "jose";
import { ClaimsSchema } from "../gen/room/tokens/v1/claims_pb.js";
import { Keyring } from "../src/domain/tokens/keyring.js";
import { TokenCodec, TokenKind } from "../src/domain/tokens/token-codec.js";
import { decodeBase64Url } from "../src/domain/tokens/base64url.js";
import { measure, formatOps } from "./lib/measure.js";
const secret = randomBytes(32);
const codec = new TokenCodec(new Keyring([{ id: 7, secret, state: "active", createdAt: 0 }]));
const c = create(ClaimsSchema, { tokenId: randomBytes(16), tenantId: "3f0c6a52-8d2e-4f7b-9a41-6c2d1e8b7f30", userId: "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b", roomId: "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b", permissions: [200,201,202,203], metadata: { note: "temporary moderator" }, issuedAtMs: 1n, notBeforeMs: 1n, expiresAtMs: 2n });
const bin = toBinary(ClaimsSchema, c);
const c2 = create(ClaimsSchema, { ...c, metadata: undefined });
const bin2 = toBinary(ClaimsSchema, c2);
const tok = codec.seal(TokenKind.RoomMember, bin);
const ecb = createCipheriv("aes-256-ecb", secret, null); ecb.setAutoPadding(false);
const blk = Buffer.alloc(32);
const k = randomBytes(32), iv = randomBytes(12);
const r: Record<string, () => unknown> = {
  "codec.open bytes only": () => codec.open(TokenKind.RoomMember, tok),
  "decodeBase64Url": () => decodeBase64Url(tok),
  "Buffer.from b64url": () => Buffer.from(tok, "base64url"),
  "ecb.update 32": () => ecb.update(blk),
  "createDecipheriv gcm": () => createDecipheriv("aes-256-gcm", k, iv, { authTagLength: 16 }),
  "fromBinary claims": () => fromBinary(ClaimsSchema, bin),
  "fromBinary claims no metadata": () => fromBinary(ClaimsSchema, bin2),
  "jose open (Uint8Array key)": async () => {},
};
const joseKey = await webcrypto.subtle.importKey("raw", secret, "AES-GCM", false, ["encrypt", "decrypt"]);
const jt = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({a:1,b:"x".repeat(200)}))).setProtectedHeader({alg:"dir",enc:"A256GCM"}).encrypt(joseKey);
r["jose open (Uint8Array key)"] = () => compactDecrypt(jt, secret);
r["jose open (CryptoKey)"] = () => compactDecrypt(jt, joseKey);
r["subtle.decrypt alone"] = async () => {};
const parts = jt.split(".");
const ivb = Buffer.from(parts[2]!, "base64url"), ct = Buffer.concat([Buffer.from(parts[3]!, "base64url"), Buffer.from(parts[4]!, "base64url")]);
const aad = new TextEncoder().encode(parts[0]);
r["subtle.decrypt alone"] = () => webcrypto.subtle.decrypt({ name: "AES-GCM", iv: ivb, additionalData: aad }, joseKey, ct);
for (const [n, f] of Object.entries(r)) console.log(n.padEnd(32), formatOps(await measure(n, f, { minMs: 300 })));
const n64 = await measure("x", () => Promise.all(Array.from({ length: 64 }, () => compactDecrypt(jt, joseKey))), { minMs: 500 });
console.log("jose open CryptoKey, 64 in flight", formatOps(n64 * 64));
