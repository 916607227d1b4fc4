import Database from "better-sqlite3";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const mig = readdirSync("migrations").filter((f) => f.endsWith(".sql")).map((f) => readFileSync(join("migrations", f), "utf8")).join("\n").split("--> statement-breakpoint");
const d = mkdtempSync(join(tmpdir(), "sq-"));
const db = new Database(join(d, "x.db"));
db.pragma("journal_mode = WAL"); db.pragma(`synchronous = FULL`); db.pragma("foreign_keys = ON");
for (const s of mig) if (s.trim()) db.exec(s);
db.prepare("insert into tenants (id,name,created_at) values ('t','t',0)").run();
const g = db.prepare("insert into grants (id, tenant_id, user_id, room_id, permissions, metadata, issued_at, expires_at, issued_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?)");
const r = db.prepare("insert into rooms (tenant_id, id, created_at) values (?, ?, ?) on conflict do nothing");
const batch = (n: number) => { const users = Array.from({ length: n }, () => randomUUID()); return db.transaction(() => { r.run("t", "room", 1); for (const u of users) g.run(randomBytes(16).toString("hex"), "t", u, "room", "[203]", '{"note":"temporary moderator"}', Date.now(), Date.now() + 86400000, "k"); }); };
let rows = 0;
for (const target of [0, 20000, 100000, 300000]) {
  while (rows < target) { batch(10000)(); rows += 10000; }
  const t: number[] = [];
  for (let i = 0; i < 15; i++) { const tx = batch(1000); const t0 = performance.now(); tx(); t.push(performance.now() - t0); rows += 1000; }
  t.sort((a, b) => a - b);
  const c = db.pragma("cache_size", { simple: true });
  const size = (db.pragma("page_count", { simple: true }) as number) * 4096 / 1e6;
  console.log(`rows≈${target}: 1000-row insert p50 ${t[7]!.toFixed(2)} ms min ${t[0]!.toFixed(2)}  (db ${size.toFixed(1)} MB, cache_size ${c})`);
}
db.pragma("cache_size = -131072");
const t: number[] = [];
for (let i = 0; i < 15; i++) { const tx = batch(1000); const t0 = performance.now(); tx(); t.push(performance.now() - t0); }
t.sort((a, b) => a - b);
console.log(`same db, cache_size 128MB: p50 ${t[7]!.toFixed(2)} min ${t[0]!.toFixed(2)}`);
db.close(); rmSync(d, { recursive: true });
