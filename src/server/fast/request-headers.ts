import type http from "node:http";
import type http2 from "node:http2";
import { nodeHeaderToWebHeader } from "./connect-node-internals.js";

/** Leading or trailing HTTP whitespace, which the fetch Headers class strips from values. */
const EDGE_WS = /^[\t\n\r ]|[\t\n\r ]$/;

/**
 * The request's headers as a fetch `Headers`, read straight from Node's
 * header object. connect-node copies every header into a new `Headers` per
 * call (and `createHandlerContext` copies that again); the interceptors only
 * ever `get` three or four of them, so `get`/`has` read Node's object and
 * only the rarer methods (iteration, tracing's propagation, writes) build
 * the copy, once, on first use. Written by hand: connect exports no such
 * view. Values read the same as connect-node's copy: Node has already
 * lower-cased names and joined repeated fields (`cookie` with "; ", the
 * rest with ", "); arrays (set-cookie) are joined as `Headers.get` joins
 * them; HTTP/2 pseudo-headers are left out.
 */
export class RequestHeaders implements Headers {
  private copy: Headers | undefined;

  constructor(private readonly node: http.IncomingHttpHeaders | http2.IncomingHttpHeaders) {}

  get(name: string): string | null {
    if (this.copy) return this.copy.get(name);
    const key = name.toLowerCase();
    if (key.charCodeAt(0) === 58 /* ":" */) return null;
    const v = this.node[key];
    if (v === undefined) return null;
    const s = typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : String(v);
    return EDGE_WS.test(s) ? s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "") : s;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /** The full copy, as connect-node builds it (`nodeHeaderToWebHeader`). */
  private full(): Headers {
    this.copy ??= nodeHeaderToWebHeader(this.node);
    return this.copy;
  }

  append(name: string, value: string): void {
    this.full().append(name, value);
  }
  delete(name: string): void {
    this.full().delete(name);
  }
  set(name: string, value: string): void {
    this.full().set(name, value);
  }
  getSetCookie(): string[] {
    return this.full().getSetCookie();
  }
  forEach(cb: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.full().forEach((v, k) => {
      cb.call(thisArg, v, k, this);
    });
  }
  entries(): ReturnType<Headers["entries"]> {
    return this.full().entries();
  }
  keys(): ReturnType<Headers["keys"]> {
    return this.full().keys();
  }
  values(): ReturnType<Headers["values"]> {
    return this.full().values();
  }
  [Symbol.iterator](): ReturnType<Headers["entries"]> {
    return this.full()[Symbol.iterator]();
  }
}
