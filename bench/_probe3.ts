import { randomBytes } from "node:crypto";
import { measure, formatOps } from "./lib/measure.js";
import { decodeBase64Url } from "../src/domain/tokens/base64url.js";
const s = randomBytes(241).toString("base64url");
const RE = /^[A-Za-z0-9_-]*$/;
const V = new Uint8Array(128);
for (let i = 0; i < 64; i++) V["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
function old(x: string) { const rem = x.length % 4; if (rem === 1 || !RE.test(x)) return undefined; if (rem !== 0) { const sp = rem === 2 ? 15 : 3; if ((V[x.charCodeAt(x.length - 1)] & sp) !== 0) return undefined; } return Buffer.from(x, "base64url"); }
const r: Record<string, () => unknown> = { old: () => old(s), new: () => decodeBase64Url(s), bufferOnly: () => Buffer.from(s, "base64url") };
for (let round = 0; round < 3; round++) for (const [n, f] of Object.entries(r)) console.log(round, n.padEnd(10), formatOps(await measure(n, f, { minMs: 300 })));
