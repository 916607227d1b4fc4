import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { lingerAfter } from "./linger.js";

/** What the response class tells its server, and asks it. */
export interface DrainAwareHooks {
  /** A request on `socket` is in flight (from the response's construction). */
  started(socket: Duplex): void;
  /** That request was answered or abandoned (its response's "close"). */
  ended(socket: Duplex): void;
  /** Whether the server is draining: answers then say `Connection: close`. */
  draining(): boolean;
}

/**
 * The response class of both HTTP/1.1 servers of the one-port listener
 * (cleartext, and TLS that chose HTTP/1.1): it counts the request in flight
 * on its connection from construction until its "close" event — seen by
 * overriding `emit`, so no listener is added per request — and, while
 * draining, answers with `Connection: close` (every answer's head goes
 * through `writeHead`, also the implicit one). An answer sent before the
 * request's body was read lingers to read it on (see {@link lingerAfter}).
 */
export function drainAwareResponseClass(hooks: DrainAwareHooks): typeof http.ServerResponse {
  const { started, ended, draining } = hooks;
  // Node passes the response options (highWaterMark, …) as a second argument its types leave out.
  const Base = http.ServerResponse as unknown as new (req: http.IncomingMessage, opts?: object) => http.ServerResponse;
  class DrainAwareResponse extends Base {
    private readonly conn: Duplex;
    private counted = true;
    private readonly request: http.IncomingMessage;
    constructor(req: http.IncomingMessage, opts?: object) {
      super(req, opts);
      this.conn = req.socket;
      this.request = req;
      started(this.conn);
    }
    override writeHead(...args: unknown[]): this {
      if (draining() && !this.headersSent) this.setHeader("connection", "close");
      return (super.writeHead as (...a: unknown[]) => this)(...args);
    }
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      // Answered before the body was read (too large, refused): read on, see lingerAfter.
      if (event === "finish" && !this.request.complete) lingerAfter(this.request, this.conn as net.Socket);
      // Once, as a once("close") listener would (Node emits it once; the guard makes that a fact here).
      if (event === "close" && this.counted) {
        this.counted = false;
        ended(this.conn);
      }
      return super.emit(event, ...args);
    }
  }
  return DrainAwareResponse as unknown as typeof http.ServerResponse;
}
