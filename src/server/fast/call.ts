import type { DescMethodUnary, DescService, Message } from "@bufbuild/protobuf";
import {
  createContextValues,
  type ContextValues,
  type HandlerContext,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type http from "node:http";
import type http2 from "node:http2";
import { handlerSignal, mergeRequest, unaryResponse } from "./connect-internals.js";
import { requestUrl, watchClientGone } from "./connect-node-internals.js";
import type { RequestHeaders } from "./request-headers.js";
import { ResponseHeaders } from "./response-headers.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Own property naming a request's call: it survives an interceptor's `{ ...req }`. */
const CALL = Symbol("roomgate.fastCall");

/** The per-call facts a {@link FastCall} is built from. */
export interface CallInit {
  readonly method: DescMethodUnary;
  readonly protocolName: "connect" | "grpc";
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  readonly header: RequestHeaders;
  readonly message: Message;
  readonly contextValues: ContextValues | undefined;
  /** Absolute deadline (epoch ms) from the call's timeout header, if any. */
  readonly deadline: number | undefined;
  readonly shutdownSignal: AbortSignal | undefined;
  readonly responseHeader: Headers;
  /** gRPC always has a trailer (grpc-status); Connect's is made on first use. */
  readonly responseTrailer: Headers | undefined;
}

/**
 * One unary call: the `HandlerContext` the implementation gets, and (as
 * {@link request}) the `UnaryRequest` the interceptors see. connect builds
 * both per call with a deadline controller, a linked controller listening on
 * the request, the shutdown signal and the deadline, and two header copies —
 * even though a unary implementation here never looks at its signal. Here
 * the signal, the trailer, the URL and the values are made on first use, and
 * behave as connect's when they are: the signal aborts on the deadline (a
 * `deadline_exceeded` ConnectError), on shutdown, when the client goes away,
 * and when the call ends. Written by hand because connect's
 * `createHandlerContext` is exactly the eager version of this; the parts
 * copied from connect (the signal, the URL, the merged context, the answer)
 * are in the fence (connect-internals.ts, connect-node-internals.ts).
 */
export class FastCall implements HandlerContext {
  readonly requestMethod = "POST";
  readonly method: DescMethodUnary;
  readonly service: DescService;
  readonly protocolName: string;
  readonly header: RequestHeaders;
  readonly responseHeader: Headers;
  private trailer: Headers | undefined;
  private ctxValues: ContextValues | undefined;
  private urlText: string | undefined;
  private controller: AbortController | undefined;
  private cleanup: (() => void) | undefined;
  /** Set by {@link end}: a signal first asked for afterwards is born aborted, as connect's already is. */
  private ended = false;
  /** The response {@link response} made, to tell it from one an interceptor made. */
  ownResponse: UnaryResponse | undefined;
  /** The request the interceptors get (see {@link request}). */
  readonly request: UnaryRequest;

  /** The call a request belongs to (its own request, or an interceptor's copy of it), if it is a fast-path one. */
  static of(req: UnaryRequest): FastCall | undefined {
    return (req as unknown as { [CALL]?: FastCall })[CALL];
  }

  constructor(private readonly init: CallInit) {
    this.method = init.method;
    this.service = init.method.parent;
    this.protocolName = init.protocolName;
    this.header = init.header;
    this.responseHeader = init.responseHeader;
    this.trailer = init.responseTrailer;
    this.ctxValues = init.contextValues;
    const self = this;
    // A plain object, its lazy parts as own getters: an interceptor that
    // passes on `{ ...req, message }` copies them all (evaluated, as
    // connect's eager ones are), and the symbol finds the call again.
    this.request = {
      stream: false,
      message: init.message,
      method: init.method,
      service: this.service,
      requestMethod: "POST",
      header: init.header,
      get url() {
        return self.url;
      },
      get signal() {
        return self.signal;
      },
      get contextValues() {
        return self.contextValues;
      },
      [CALL]: this,
    } as UnaryRequest;
  }

  get requestHeader(): Headers {
    return this.header;
  }

  get responseTrailer(): Headers {
    return (this.trailer ??= new ResponseHeaders());
  }

  /** The trailer if anything made it (Connect muxes it into the headers only then). */
  get trailerIfAny(): Headers | undefined {
    return this.trailer;
  }

  get contextValues(): ContextValues {
    return (this.ctxValues ??= createContextValues());
  }

  /** HandlerContext's name for {@link contextValues}. */
  get values(): ContextValues {
    return this.contextValues;
  }

  get url(): string {
    this.urlText ??= requestUrl(this.init.req);
    return this.urlText;
  }

  timeoutMs(): number | undefined {
    return this.init.deadline === undefined ? undefined : this.init.deadline - Date.now();
  }

  get signal(): AbortSignal {
    return (this.controller ??= this.link()).signal;
  }

  /**
   * Ends the call as connect's `context.abort(reason)` does: the signal (if
   * anyone asked for it) aborts, and its timer and listeners are removed.
   */
  end(reason?: unknown): void {
    this.ended = true;
    if (!this.controller) return;
    this.cleanup?.();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Builds the signal connect would have built, now that someone uses it. */
  private link(): AbortController {
    if (this.ended) {
      const ac = new AbortController();
      ac.abort();
      return ac;
    }
    const { deadline, shutdownSignal, req, res } = this.init;
    const linked = handlerSignal(deadline, shutdownSignal, (onGone) => watchClientGone(req, res, onGone));
    this.cleanup = linked.cleanup;
    return linked.controller;
  }

  /** The implementation's answer, as connect's innermost `next` gives it: the call's own headers and trailer. */
  response(message: unknown): UnaryResponse {
    this.ownResponse = unaryResponse(this, this.method, message);
    return this.ownResponse;
  }

  /** The context the implementation gets when an interceptor passed on a request of its own. */
  contextFor(req: UnaryRequest): HandlerContext {
    return req === this.request ? this : mergeRequest(this, req);
  }
}
