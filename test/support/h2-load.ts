import http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { Service } from "../../gen/room/tokens/private/v1/service_pb.js";
import { grpcTokensClient } from "./clients.js";
import type { Outcome } from "./steady-load.js";

/**
 * Steady HTTP/2 loads (connect-node's gRPC transport and @grpc/grpc-js) whose
 * calls are judged by the HTTP/2 frames their streams saw, not by what the
 * client library makes of them: both libraries report a stream refused by
 * GOAWAY and a stream reset under an accepted call alike (UNAVAILABLE or
 * INTERNAL, the RST code not among the error's fields), and grpc-js retries
 * a refused stream by itself (its "transparent retry").
 */

/** Request header naming the call (each of its streams carries it; the server ignores it). */
const CALL_HEADER = "x-drain-call";

/** What the client saw of one stream. */
interface StreamFacts {
  readonly session: http2.ClientHttp2Session;
  /** Its id, once it was given one (a stream without one was never sent). */
  id?: number;
  /** The RST_STREAM code it closed with (NO_ERROR for a normal end). */
  rstCode?: number;
  /** A grpc-status arrived (in the trailers, or a trailers-only answer): the server said what became of the call. */
  status: boolean;
}

/** One call's record. */
export interface H2CallRecord {
  readonly outcome: Outcome;
  /** Why, for failure messages: the streams' ids and RST codes, the GOAWAY's last stream id, the library's error code. */
  readonly why: string;
}

/**
 * Every stream of every call, and every session's GOAWAY. A call is
 * - answered: the library gave a result, or a stream got a grpc-status;
 * - refused: every stream it opened was never sent (no id) or was refused by
 *   GOAWAY (id above the GOAWAY's last stream id, closed with
 *   REFUSED_STREAM: the server never processed it), or it opened none (the
 *   connection was refused) — the client may retry it;
 * - failed: else — a stream the server accepted (at or below the last stream
 *   id, or on a session that never sent GOAWAY) ended without an answer.
 */
export class StreamLedger {
  /** @param prefix the ids of this load's calls start with it (another load may share the sessions' wrapper). */
  constructor(readonly prefix: string) {}
  private readonly calls = new Map<string, StreamFacts[]>();
  /** Session → the last stream id of the GOAWAY it received. */
  private readonly goaway = new Map<http2.ClientHttp2Session, number>();
  private readonly watched = new WeakSet<http2.ClientHttp2Session>();
  /** Answers (grpc-status) that arrived on a session after its GOAWAY: the drain finished those streams. */
  answeredAfterGoaway = 0;
  /** Calls refused by a GOAWAY: sent, and closed with REFUSED_STREAM above its last stream id (they raced the drain). */
  refusedByGoaway = 0;

  /** Records a stream the library opened (the call is named by its CALL_HEADER). */
  opened(stream: http2.ClientHttp2Stream, headers: http2.OutgoingHttpHeaders): void {
    const call = String(headers[CALL_HEADER]);
    if (!call.startsWith(this.prefix)) return;
    const session = stream.session as http2.ClientHttp2Session;
    this.watch(session);
    const facts: StreamFacts = { session, status: false };
    const list = this.calls.get(call) ?? [];
    list.push(facts);
    this.calls.set(call, list);
    const answered = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] === undefined || facts.status) return;
      facts.status = true;
      if (this.goaway.has(session)) this.answeredAfterGoaway++;
    };
    stream.on("response", answered);
    stream.on("trailers", answered);
    stream.once("close", () => {
      facts.id = stream.id;
      facts.rstCode = stream.rstCode;
    });
  }

  private watch(session: http2.ClientHttp2Session): void {
    if (this.watched.has(session)) return;
    this.watched.add(session);
    // Node emits "goaway" before it closes the streams above the last stream id.
    session.on("goaway", (_code: number, lastStreamId: number) => this.goaway.set(session, lastStreamId));
  }

  /** Judges a call that ended: `ok` when the library gave a result; `error` names the library's error code. */
  judge(call: string, ok: boolean, error: string): H2CallRecord {
    if (ok) return { outcome: "answered", why: "ok" };
    const streams = this.calls.get(call) ?? [];
    this.calls.delete(call);
    if (streams.some((s) => s.status)) return { outcome: "answered", why: `server status (${error})` };
    const seen = streams.map((s) => {
      const last = this.goaway.get(s.session);
      const byGoaway =
        s.id !== undefined && last !== undefined && s.id > last && s.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      return {
        byGoaway,
        refused: byGoaway || s.id === undefined,
        text: `stream ${s.id ?? "unsent"} rst ${s.rstCode} goaway-last ${last ?? "none"}`,
      };
    });
    const why = `${error}; ${streams.length === 0 ? "no stream" : seen.map((s) => s.text).join(", ")}`;
    if (!seen.every((s) => s.refused)) return { outcome: "failed", why };
    if (seen.some((s) => s.byGoaway)) this.refusedByGoaway++;
    return { outcome: "refused", why };
  }
}

/** A steady load: `lanes` calls at a time, each lane one after another until a call is refused. */
export interface H2Load {
  readonly records: H2CallRecord[];
  readonly ledger: StreamLedger;
  /** Resolves once every lane ended (a refusal: the server stopped accepting); the client is closed then. */
  readonly done: Promise<void>;
  /** Closes the client now (idempotent): for a test that ends before the load did. */
  close(): void;
}

/** One Verify, by whichever client: resolves on a result, rejects with the library's error. */
type Call = (callId: string) => Promise<void>;

function run(
  ledger: StreamLedger,
  lanes: number,
  call: Call,
  errorOf: (e: unknown) => string,
  cleanup: () => void,
): H2Load {
  const records: H2CallRecord[] = [];
  let n = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      const id = `${ledger.prefix}${n++}`;
      let record: H2CallRecord;
      try {
        await call(id);
        record = ledger.judge(id, true, "");
      } catch (e) {
        record = ledger.judge(id, false, errorOf(e));
      }
      records.push(record);
      if (record.outcome === "refused") return;
    }
  };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    cleanup();
  };
  const done = Promise.all(Array.from({ length: lanes }, lane)).then(close);
  return { records, ledger, done, close };
}

/** connect-node's session manager, telling the ledger of each stream it opens (its public `sessionManager` option). */
class ObservedSessions extends Http2SessionManager {
  constructor(
    url: string,
    private readonly ledger: StreamLedger,
  ) {
    super(url);
  }
  override async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    this.ledger.opened(stream, headers);
    return stream;
  }
}

/**
 * Verify over connect-node's gRPC transport: h2c, one session (one session
 * manager), `lanes` concurrent streams. The library's error: its Code, and
 * the Node error code of its cause (ECONNREFUSED for a refused connection).
 */
export function connectGrpcLoad(baseUrl: string, apiKey: string, token: string, lanes: number): H2Load {
  const ledger = new StreamLedger("c");
  const sessions = new ObservedSessions(baseUrl, ledger);
  const client = createClient(Service, createGrpcTransport({ baseUrl, sessionManager: sessions }));
  const call: Call = async (id) => {
    await client.verify({ token }, { headers: { authorization: `Bearer ${apiKey}`, [CALL_HEADER]: id } });
  };
  const errorOf = (e: unknown): string => {
    if (!(e instanceof ConnectError)) return String(e);
    const cause = (e.cause as NodeJS.ErrnoException | undefined)?.code;
    return `${Code[e.code]}${cause ? `/${cause}` : ""}`;
  };
  return run(ledger, lanes, call, errorOf, () => sessions.abort());
}

/**
 * Verify over @grpc/grpc-js (one channel, one HTTP/2 connection, `lanes`
 * concurrent calls). grpc-js has no public seam for its streams: while the
 * load runs, `http2.connect` is wrapped — only to tell the ledger of the
 * streams of the sessions made for `port` — and put back when it ends (a
 * test worker runs one file at a time). The library's error: its status
 * code.
 */
export function grpcJsLoad(port: number, apiKey: string, token: string, lanes: number): H2Load {
  const ledger = new StreamLedger("g");
  const connect = http2.connect;
  const authority = `127.0.0.1:${port}`;
  const observed = ((...args: Parameters<typeof http2.connect>) => {
    const session = (connect as (...a: unknown[]) => http2.ClientHttp2Session)(...args);
    if (!String(args[0]).endsWith(authority)) return session;
    const request = session.request.bind(session);
    session.request = (headers?: http2.OutgoingHttpHeaders, options?: http2.ClientSessionRequestOptions) => {
      const stream = request(headers, options);
      ledger.opened(stream, headers ?? {});
      return stream;
    };
    return session;
  }) as typeof http2.connect;
  http2.connect = observed;
  const client = grpcTokensClient(authority);
  const call: Call = (id) =>
    new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${apiKey}`);
      md.set(CALL_HEADER, id);
      client.Verify({ token }, md, (err) => (err ? reject(err) : resolve()));
    });
  const errorOf = (e: unknown): string => {
    const code = (e as grpc.ServiceError).code;
    return typeof code === "number" ? (grpc.status[code] ?? String(code)) : String(e);
  };
  return run(ledger, lanes, call, errorOf, () => {
    if (http2.connect === observed) http2.connect = connect;
    client.close();
  });
}
