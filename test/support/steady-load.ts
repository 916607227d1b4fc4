import http from "node:http";

/** How one call of a steady load ended. */
export type Outcome =
  /** Answered (any status): the server read the request and said what became of it. */
  | "answered"
  /** The connection was refused before anything was sent: nothing reached the server. */
  | "refused"
  /** Sent on a connection the server had accepted, and never answered (reset, hang-up): the client cannot tell what ran. */
  | "failed";

/** One call's record. */
export interface CallRecord {
  readonly outcome: Outcome;
  /** `performance.now()` when the request was handed to the agent. */
  readonly sentAt: number;
  readonly status?: number;
  /** The answer's Connection header. */
  readonly connection?: string;
  readonly error?: string;
  /** `performance.now()` when the outcome was known. */
  readonly endedAt: number;
}

/** A steady HTTP/1.1 keep-alive load of one call, `lanes` at a time, until stopped or refused. */
export interface SteadyLoad {
  readonly records: CallRecord[];
  /** Stops sending; resolves when every lane has finished its call in flight. */
  stop(): Promise<void>;
  /** Resolves once every lane ended (the server refuses connections, or stop()). */
  readonly done: Promise<void>;
}

/**
 * Each lane sends `body` to `path` on `port`, waits for the answer and sends
 * again, over one keep-alive agent (`lanes` sockets at most) — a backend
 * verifying steadily. A lane ends when a connection is refused (the server
 * has stopped accepting; nothing was lost) or on stop().
 */
export function steadyLoad(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
  lanes = 32,
): SteadyLoad {
  const agent = new http.Agent({ keepAlive: true, maxSockets: lanes });
  const records: CallRecord[] = [];
  let stopped = false;
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const r = await once(agent, port, path, headers, body);
      records.push(r);
      if (r.outcome === "refused") return;
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, lane)).then(() => agent.destroy());
  return {
    records,
    done,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

function once(
  agent: http.Agent,
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<CallRecord> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            outcome: "answered",
            sentAt,
            status: res.statusCode!,
            connection: res.headers["connection"],
            endedAt: performance.now(),
          }),
        );
        res.on("error", (err) =>
          resolve({ outcome: "failed", sentAt, error: String(err), endedAt: performance.now() }),
        );
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      resolve({
        outcome: err.code === "ECONNREFUSED" ? "refused" : "failed",
        sentAt,
        error: `${err.code ?? ""} ${err.message}`,
        endedAt: performance.now(),
      }),
    );
    req.end(body);
  });
}
