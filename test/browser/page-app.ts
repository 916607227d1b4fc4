// The page under test, bundled by esbuild at test time: logs in with
// connect-web (the session cookie comes back cross-origin), then watches
// its permissions and greys the send button when sending is not allowed.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";

// The repository's tsconfig has no DOM library (src is Node-only): the few
// browser members used here are typed by hand.
interface Element {
  textContent: string | null;
  disabled: boolean;
}
const { document, location } = globalThis as unknown as {
  document: { getElementById(id: string): Element | null; body: { dataset: Record<string, string> } };
  location: { search: string };
};

const q = new URLSearchParams(location.search);
const transport = createConnectTransport({
  baseUrl: q.get("api")!,
  // The session cookie is sent to roomgate's origin, and set by it.
  fetch: (input, init) => fetch(input, { ...init, credentials: "include" }),
});
const send = document.getElementById("send")!;
const status = document.getElementById("status")!;

async function main(): Promise<void> {
  await createClient(Users, transport).login({
    tenantId: q.get("tenant")!,
    username: q.get("user")!,
    password: q.get("password")!,
  });
  status.textContent = "logged in";
  let answers = 0;
  for await (const a of createClient(Permissions, transport).watch({ roomId: q.get("room")! })) {
    send.disabled = !a.roomPermissions?.permissions?.canSendMessagesInMainThread;
    document.body.dataset["answers"] = String(++answers);
    status.textContent = `answer ${answers}`;
  }
  status.textContent = "ended";
}

main().catch((err: unknown) => {
  const e = ConnectError.from(err);
  status.textContent = `error ${Code[e.code]}: ${e.rawMessage}`;
});
