import { randomBytes } from "node:crypto";
import { measure, formatOps } from "./lib/measure.js";
const s = randomBytes(241).toString("base64url");
const RE = /^[A-Za-z0-9_-]*$/;
const T = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") T[c.charCodeAt(0)] = 1;
const loop = (x: string) => { for (let i = 0; i < x.length; i++) { const c = x.charCodeAt(i); if (c > 127 || T[c] === 0) return false; } return true; };
const r: Record<string, () => unknown> = { regex: () => RE.test(s), loop: () => loop(s), enc: () => Buffer.from(s, "base64url").toString("base64url") === s };
for (const [n, f] of Object.entries(r)) console.log(n.padEnd(10), formatOps(await measure(n, f, { minMs: 300 })));
