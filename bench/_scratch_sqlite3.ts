import Database from "better-sqlite3";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const mig = readdirSync("migrations").filter((f) => f.endsWith(".sql")).map((f) => readFileSync(join("migrations", f), "utf8")).join("\n").split("--> statement-breakpoint");
let seq = 0;
const idFns: Record<string, () => string> = {
  random: () => randomBytes(16).toString("hex"),
  ordered: () => (Date.now().toString(16).padStart(12, "0") + (seq++).toString(16).padStart(8, "0") + randomBytes(6).toString("hex")),
};
function run(name: string, idKind: string, dropUserIdx: boolean) {
  const d = mkdtempSync(join(tmpdir(), "sq-"));
  const file = join(d, "x.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL"); db.pragma(`synchronous = FULL`); db.pragma("foreign_keys = ON");
  for (const s of mig) if (s.trim()) db.exec(s);
  if (dropUserIdx) db.exec("drop index grants_tenant_user_idx");
  db.prepare("insert into tenants (id,name,created_at) values ('t','t',0)").run();
  const g = db.prepare("insert into grants (id, tenant_id, user_id, room_id, permissions, metadata, issued_at, expires_at, issued_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const r = db.prepare("insert into rooms (tenant_id, id, created_at) values (?, ?, ?) on conflict do nothing");
  const idf = idFns[idKind]!;
  const batch = (n: number) => { const users = Array.from({ length: n }, () => randomUUID()); const ids = users.map(() => idf()); return db.transaction(() => { r.run("t", "room", 1); users.forEach((u, i) => g.run(ids[i], "t", u, "room", "[203]", '{"note":"temporary moderator"}', Date.now(), Date.now() + 86400000, "k")); }); };
  for (let i = 0; i < 10; i++) batch(10000)();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.pragma("wal_autocheckpoint = 0");
  const tx = batch(1000); tx();
  const walMB = statSync(file + "-wal").size / 1e6;
  db.pragma("wal_autocheckpoint = 1000");
  const t: number[] = [];
  for (let i = 0; i < 15; i++) { const tx = batch(1000); const t0 = performance.now(); tx(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} at 100k rows: 1000-row txn p50 ${t[7]!.toFixed(2)} ms, min ${t[0]!.toFixed(2)} ms; WAL written by one txn ${walMB.toFixed(2)} MB`);
  db.close(); rmSync(d, { recursive: true });
}
run("as in migrations (random id, user idx)", "random", false);
run("time-ordered id, user idx", "ordered", false);
run("random id, no (tenant,user) idx", "random", true);
run("time-ordered id, no (tenant,user) idx", "ordered", true);
