import type { DescMessage, DescMethodUnary, DescService, JsonWriteOptions, Message } from "@bufbuild/protobuf";
import type {
  ConnectRouter,
  ConnectRouterOptions,
  ContextValues,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Handler } from "../listener.js";
import { bodyOf, readBody } from "./body.js";
import { FastCall } from "./call.js";
import {
  applyInterceptors,
  compressionNegotiate,
  copyHeaders,
  createMethodSerializationLookup,
  getJsonOptions,
  jsonAnswer,
  type MethodSerializationLookup,
  unaryImplementation,
  validateUniversalHandlerOptions,
} from "./connect-internals.js";
import { clientGone } from "./connect-node-internals.js";
import { qualify, type Qualified } from "./qualify.js";
import { RequestHeaders } from "./request-headers.js";
import { ResponseHeaders } from "./response-headers.js";
import { asConnectError, writeConnect, writeGrpc, type Writer } from "./respond.js";

type NodeRequest = Parameters<Handler>[0];
type NodeResponse = Parameters<Handler>[1];

/** Hands a request to connect-node; `body` replaces the request's own when the fast path has read it. */
export type SlowPath = (req: NodeRequest, res: NodeResponse, body?: AsyncIterable<Uint8Array>) => void;

/** Options for {@link createFastPath}: the router's options, as connect-node gets them. */
export interface FastPathOptions extends ConnectRouterOptions {
  readonly slow: SlowPath;
  readonly log: Logger;
  readonly contextValues?: (req: NodeRequest) => ContextValues;
}

/** One unary method the fast path serves. */
interface FastMethod {
  readonly method: DescMethodUnary;
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  /** The interceptors around the implementation, applied once (connect applies them per call). */
  readonly chain: (req: UnaryRequest) => Promise<UnaryResponse>;
}

/**
 * The unary fast path in front of connect-node (issue 11): for a Connect
 * POST (JSON or binary, HTTP/1.1 or h2) or a gRPC call over HTTP/2 to a
 * unary method, it reads the body, parses it with connect's serialization,
 * runs the same interceptors around the same implementation, and writes
 * the answer connect would — without connect-node's per-call abort
 * controllers, header copies and async-iterable plumbing. Every request it
 * does not qualify ({@link qualify}), and every request whose body connect
 * would refuse before any interceptor runs (over the size limit, a
 * Content-Length that does not match, not exactly one uncompressed gRPC
 * envelope, JSON or binary that does not parse), goes to connect-node with
 * the bytes already read, so those answers are connect-node's own.
 *
 * The protocol pieces come from `@connectrpc/connect/protocol*`, which
 * connect marks internal (no semver promise), and some are copies of
 * connect's code: all of them through the fence (connect-internals.ts,
 * connect-node-internals.ts). package.json pins connect and connect-node
 * exactly, and test/e2e/fast-path-differential compares both paths byte for
 * byte, so an upgrade that changes either shows there
 * (scripts/connect-latest.sh runs it against the newest release).
 */
export class FastPath {
  private readonly methods = new Map<string, FastMethod>();
  private readonly opt: ReturnType<typeof validateUniversalHandlerOptions>;
  /** connect's JSON write options, when no custom text encoder asks for its serialization. */
  private readonly jsonText: Partial<JsonWriteOptions> | undefined;

  constructor(private readonly options: FastPathOptions) {
    this.opt = validateUniversalHandlerOptions(options);
    this.jsonText =
      this.opt.jsonOptions && "textEncoder" in this.opt.jsonOptions ? undefined : getJsonOptions(this.opt.jsonOptions);
  }

  /**
   * Wraps the router the routes register on, so that every service
   * registered without options of its own (with them, its calls could
   * differ from the router's) is also served here, by the same objects.
   */
  recording(router: ConnectRouter): ConnectRouter {
    const add = (desc: DescService, impl: object) => this.addService(desc, impl);
    const wrapped: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service(desc, impl, opts) {
        if (opts === undefined) add(desc, impl);
        router.service(desc, impl, opts);
        return wrapped;
      },
      rpc(...args: unknown[]) {
        (router.rpc as (...a: unknown[]) => unknown)(...args);
        return wrapped;
      },
    } as ConnectRouter;
    return wrapped;
  }

  private addService(desc: DescService, impl: object): void {
    // connect 2.3's requestGate runs before the body is read; the fast path has no such step: leave such routers to connect.
    if ((this.opt as { requestGate?: unknown }).requestGate !== undefined) return;
    for (const method of desc.methods) {
      const fn = (impl as Record<string, unknown>)[method.localName];
      if (method.methodKind !== "unary" || typeof fn !== "function") continue;
      const unary = method as DescMethodUnary;
      this.methods.set(`/${desc.typeName}/${method.name}`, {
        method: unary,
        serialization: createMethodSerializationLookup(unary, this.opt.binaryOptions, this.opt.jsonOptions, this.opt),
        chain: applyInterceptors(
          unaryImplementation(unary, (fn as (...a: unknown[]) => unknown).bind(impl), (req) => FastCall.of(req)!),
          this.opt.interceptors,
        ),
      });
    }
  }

  private toJson(m: FastMethod, message: unknown): string {
    return jsonAnswer(m.method.output, message, this.jsonText!, this.opt.writeMaxBytes);
  }

  /** Serves the request and returns true, or returns false (nothing touched) for connect-node to serve it. */
  serve(req: NodeRequest, res: NodeResponse, path: string): boolean {
    const m = this.methods.get(path);
    if (!m) return false;
    const q = qualify(req, this.opt.readMaxBytes, this.opt.maxTimeoutMs);
    if (!q) return false;
    readBody(req, this.opt.readMaxBytes, (r) => {
      if (r.kind === "over") return this.options.slow(req, res, r.replay);
      if (r.kind === "gone") return void (res.destroyed || res.destroy());
      const input = this.parse(req, m, q, r.bytes);
      if (input === undefined) return this.options.slow(req, res, bodyOf(r.bytes));
      this.run(req, res, m, q, input);
    });
    return true;
  }

  /** The request message, or undefined when connect would refuse the body before any interceptor runs. */
  private parse(req: NodeRequest, m: FastMethod, q: Qualified, bytes: Buffer): Message | undefined {
    let payload: Uint8Array = bytes;
    if (q.grpc) {
      // Exactly one uncompressed envelope (connect's framing rules; anything else is its error to give).
      if (bytes.length < 5 || bytes[0] !== 0 || bytes.readUInt32BE(1) !== bytes.length - 5) return undefined;
      payload = bytes.subarray(5);
    } else {
      const cl = req.headers["content-length"];
      if (cl !== undefined && parseInt(cl, 10) !== bytes.length) return undefined;
    }
    try {
      return m.serialization.getI(q.binary).parse(payload);
    } catch {
      return undefined;
    }
  }

  private run(req: NodeRequest, res: NodeResponse, m: FastMethod, q: Qualified, message: Message): void {
    const headers = req.headers;
    const compression = q.grpc
      ? compressionNegotiate(
          this.opt.acceptCompression,
          null,
          str(headers["grpc-accept-encoding"]),
          "Grpc-Accept-Encoding",
        ).response
      : compressionNegotiate(this.opt.acceptCompression, null, str(headers["accept-encoding"]), "Accept-Encoding")
          .response;
    const responseHeader = new ResponseHeaders({
      "content-type": q.grpc ? "application/grpc+proto" : q.binary ? "application/proto" : "application/json",
    });
    if (q.grpc && compression) responseHeader.set("grpc-encoding", compression.name);
    const call = new FastCall({
      method: m.method,
      protocolName: q.grpc ? "grpc" : "connect",
      req,
      res,
      header: new RequestHeaders(headers),
      message,
      contextValues: this.options.contextValues?.(req),
      deadline: q.deadline,
      shutdownSignal: this.opt.shutdownSignal,
      responseHeader,
      responseTrailer: q.grpc ? new ResponseHeaders({ "grpc-status": "0" }) : undefined,
    });
    const w: Writer = {
      res,
      compression,
      compressMinBytes: this.opt.compressMinBytes,
      jsonOptions: this.opt.jsonOptions,
    };
    const write = q.grpc ? writeGrpc : writeConnect;
    const fail = (e: unknown) => {
      call.end(e);
      write(w, call, undefined, asConnectError(e));
    };
    let pending: Promise<UnaryResponse>;
    try {
      pending = m.chain(call.request);
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending
      .then((out) => {
        if (out !== call.ownResponse) {
          copyHeaders(out.header, call.responseHeader);
          copyHeaders(out.trailer, call.responseTrailer);
        }
        let body: Uint8Array | string;
        try {
          body =
            q.binary || !this.jsonText
              ? m.serialization.getO(q.binary).serialize(out.message)
              : this.toJson(m, out.message);
        } catch (e) {
          return fail(e);
        }
        call.end();
        write(w, call, body, undefined);
      }, fail)
      .catch((err: unknown) => {
        // As connect-node: a client that went away is not a server failure.
        if (!clientGone(err))
          this.options.log.error({ err, rpc: `${m.method.parent.typeName}/${m.method.name}` }, "rpc handler failed");
      });
  }
}

function str(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
}
