import autocannon from "autocannon";
import { startServer } from "./lib/servers.js";
const kind = process.argv[2] as "ours" | "connect" | "bare";
const rpc = process.argv[3] ?? "Verify";
const s = await startServer(kind, process.env.PROF ? ["--cpu-prof", `--cpu-prof-dir=/tmp/rgprof/${kind}-${rpc}`] : []);
const body = rpc === "Verify" ? JSON.stringify({ token: s.token }) : JSON.stringify({ arguments: [{ user_id: "u", room_id: "r", metadata: { note: "temporary moderator" }, permissions: ["PermissionRoomKick"] }] });
const r = await autocannon({ url: `http://127.0.0.1:${s.port}/room.tokens.private.v1.Service/${rpc}`, method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${s.apiKey}` }, body, connections: 32, duration: 4 });
console.log(kind, rpc, r.requests.total / r.duration, r.non2xx);
await s.stop();
