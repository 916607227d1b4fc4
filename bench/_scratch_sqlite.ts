import Database from "better-sqlite3";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const mig = readdirSync("migrations").filter((f) => f.endsWith(".sql")).map((f) => readFileSync(join("migrations", f), "utf8")).join("\n").split("--> statement-breakpoint");
function open(sync: string, extra: string[] = []) {
  const d = mkdtempSync(join(tmpdir(), "sq-"));
  const db = new Database(join(d, "x.db"));
  db.pragma("journal_mode = WAL"); db.pragma(`synchronous = ${sync}`); db.pragma("foreign_keys = ON");
  for (const e of extra) db.pragma(e);
  for (const s of mig) if (s.trim()) db.exec(s);
  db.prepare("insert into tenants (id,name,created_at) values ('t','t',0)").run();
  const g = db.prepare("insert into grants (id, tenant_id, user_id, room_id, permissions, metadata, issued_at, expires_at, issued_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const r = db.prepare("insert into rooms (tenant_id, id, created_at) values (?, ?, ?) on conflict do nothing");
  const users = Array.from({ length: 1000 }, () => randomUUID());
  const tx = db.transaction(() => { r.run("t", "room", 1); for (const u of users) g.run(randomBytes(16).toString("hex"), "t", u, "room", "[203]", '{"note":"temporary moderator"}', 1, 2, "k"); });
  return { d, db, tx };
}
const variants: [string, string, string[]][] = [["FULL", "FULL", []], ["NORMAL", "NORMAL", []], ["OFF", "OFF", []], ["FULL cache64MB", "FULL", ["cache_size = -65536"]], ["FULL autocheckpoint off", "FULL", ["wal_autocheckpoint = 0"]]];
const dbs = variants.map(([n, s, e]) => ({ n, ...open(s, e) }));
const t: Record<string, number[]> = {};
for (let i = 0; i < 60; i++) for (const v of dbs) { const t0 = performance.now(); v.tx(); (t[v.n] ??= []).push(performance.now() - t0); }
for (const v of dbs) { const a = t[v.n]!; const first = a.slice(0, 10).sort((x, y) => x - y); const last = a.slice(-20).sort((x, y) => x - y); console.log(v.n.padEnd(26), "first10 p50", first[5]!.toFixed(2), " last20 p50", last[10]!.toFixed(2), "last20 min", last[0]!.toFixed(2)); v.db.close(); rmSync(v.d, { recursive: true }); }
