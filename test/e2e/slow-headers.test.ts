import net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { OnePortServer } from "../../src/server/listener.js";

// A client that sends half a request header must not hold its connection
// for ever (slowloris): the one-port listener hands sockets to an HTTP/1.1
// server that never listens itself, so its header timeout has to be armed
// explicitly. Found while draining keep-alive connections (issue 7).

let server: OnePortServer;
let port: number;
beforeAll(async () => {
  server = new OnePortServer({ handler: (_req, res) => res.end("ok"), headersTimeoutMs: 300 });
  port = await server.listen(0, "127.0.0.1");
});
afterAll(async () => {
  await server.close(100);
});

it("a connection that never finishes its header is answered 408 and closed after the header timeout", async () => {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString()));
  socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
  const outcome = await new Promise<string>((resolve) => {
    socket.on("close", () => resolve("closed"));
    // Generous: the timeout is 300 ms, checked at most every 300 ms.
    setTimeout(() => resolve("still open"), 10_000);
  });
  socket.destroy();
  expect(outcome).toBe("closed");
  expect(received).toMatch(/^HTTP\/1\.1 408/);
});

it("a complete request on the same listener is still served", async () => {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  expect(await res.text()).toBe("ok");
});
