// The `@roomgate/client/web` entry: everything of the client that needs no
// particular HTTP stack — the generated services and messages, the API key
// interceptor and Connect's error classes — so it runs in a browser (with
// @connectrpc/connect-web's fetch transport) or any fetch runtime. It must
// never import @connectrpc/connect-node or a Node built-in:
// test/e2e/client-package.test.ts bundles it for the browser to hold it to that.

export { apiKeyInterceptor } from "./auth.js";
export * from "./services.js";
// Re-exported so callers test errors against the same classes the clients
// throw (`err instanceof ConnectError && err.code === Code.PermissionDenied`)
// and build clients over their own transports.
export { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
