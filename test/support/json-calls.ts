import http from "node:http";

/** A Connect JSON answer: status and parsed body. */
export interface JsonAnswer {
  readonly status: number;
  readonly json: any;
  readonly headers?: http.IncomingHttpHeaders;
}

/**
 * A Connect JSON POST on a connection of its own (`agent: false`, no
 * keep-alive): successive calls are new connections, so a cluster may hand
 * each to another worker — what a fresh client of the service sees. An
 * empty `bearer` sends no Authorization header.
 */
export function postFresh(
  port: number,
  path: string,
  bearer: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          ...(bearer === "" ? {} : { authorization: `Bearer ${bearer}` }),
          ...headers,
        },
      },
      (res) => collect(res, resolve, reject),
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Reads an answer's body and parses it as JSON (undefined when empty). */
function collect(res: http.IncomingMessage, resolve: (a: JsonAnswer) => void, reject: (err: Error) => void): void {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (c: string) => (text += c));
  res.on("end", () =>
    resolve({ status: res.statusCode!, json: text === "" ? undefined : JSON.parse(text), headers: res.headers }),
  );
  res.on("error", reject);
}

/** A GET on a connection of its own (seed 002's REST route). */
export function getFresh(port: number, path: string, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "GET", agent: false, headers }, (res) =>
      collect(res, resolve, reject),
    );
    req.on("error", reject);
    req.end();
  });
}

/** The procedures the consistency tests call, by path. */
export const RPC = {
  create: "/room.tokens.private.v1.Service/Create",
  verify: "/room.tokens.private.v1.Service/Verify",
  revoke: "/room.tokens.private.v1.Service/Revoke",
  revokeUser: "/room.tokens.private.v1.Service/RevokeUser",
  act: "/room.moderation.private.v1.Service/Act",
  permissions: "/room.permissions.v1.Service/GetRoomPermissions",
  createUser: "/room.users.private.v1.Service/CreateUser",
  verifyAccessToken: "/room.users.private.v1.Service/VerifyAccessToken",
  login: "/room.users.v1.Service/Login",
  logout: "/room.users.v1.Service/Logout",
  refresh: "/room.users.v1.Service/Refresh",
  check: "/room.access.private.v1.Service/Check",
  lookupMembers: "/room.access.private.v1.Service/LookupMembers",
  consumerCreateUser: "/room.consumer.private.v1.Service/CreateUser",
  revokeRole: "/room.spaces.private.v1.Service/RevokeRole",
  deleteUser: "/room.users.private.v1.Service/DeleteUser",
} as const;
