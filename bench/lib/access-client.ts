/**
 * bench/access.ts's one-at-a-time client and seeding: Connect JSON over one
 * HTTP/1.1 keep-alive connection (node:http, so a call costs the client
 * little and the round trip is mostly the server's), the state built
 * through the public API only (token Create, 1,000 tokens a call), and the
 * lookups walked page by page with their sealed page tokens.
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

/** One answered call: its status, headers, decoded body and round-trip time. */
export interface Answered {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  /** From the request's first byte written to the response's last byte read, milliseconds. */
  readonly ms: number;
}

/** The permission the member tokens grant and the lookups ask for. */
export const LOOKUP_PERMISSION = "PermissionCanSendMessagesInMainThread";
/** Rows per lookup page (the "one page of 100"). */
export const PAGE_SIZE = 100;
/** Tokens per Create (the server's maximum batch). */
const CREATE_BATCH = 1_000;

/** Sequential Connect JSON calls over one keep-alive connection. */
export class JsonClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly port: number,
    private readonly apiKey: string,
  ) {}

  /** Calls `method` ("package.Service/Method"); resolves with any status. */
  call(method: string, message: unknown): Promise<Answered> {
    const payload = Buffer.from(JSON.stringify(message));
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          path: `/${method}`,
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "connect-protocol-version": "1",
            "content-length": payload.length,
            authorization: `Bearer ${this.apiKey}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.once("error", reject);
          res.once("end", () => {
            const ms = performance.now() - t0;
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text || "{}"), ms });
          });
        },
      );
      req.once("error", reject);
      req.end(payload);
    });
  }

  /** Like {@link call}, but anything but 200 throws with the answer's code and message. */
  async ok(method: string, message: unknown): Promise<Answered> {
    const a = await this.call(method, message);
    if (a.status !== 200) throw new Error(`${method}: HTTP ${a.status} ${a.body["code"]}: ${a.body["message"]}`);
    return a;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One token to create. */
export interface TokenArg {
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: readonly string[];
}

/** Creates the tokens (one Create per 1,000); returns the last Create's event id and the tokens. */
export async function createTokens(
  c: JsonClient,
  args: readonly TokenArg[],
): Promise<{ eventId: string; tokens: string[] }> {
  let eventId = "0";
  const tokens: string[] = [];
  for (let i = 0; i < args.length; i += CREATE_BATCH) {
    const batch = args.slice(i, i + CREATE_BATCH).map((a) => ({
      user_id: a.userId,
      room_id: a.roomId,
      permissions: a.permissions,
    }));
    const a = await c.ok("room.tokens.private.v1.Service/Create", { arguments: batch });
    eventId = String(a.headers["roomgate-event-id"] ?? "");
    if (!/^\d+$/.test(eventId)) throw new Error("Create answered no roomgate-event-id header");
    tokens.push(...(a.body["tokens"] as string[]));
  }
  return { eventId, tokens };
}

/** `n` fresh users, each with one member token in `roomId`. */
export function membersOf(roomId: string, n: number): TokenArg[] {
  return Array.from({ length: n }, () => ({ userId: randomUUID(), roomId, permissions: [LOOKUP_PERMISSION] }));
}

/** One member token for `userId` in each of `n` fresh rooms. */
export function roomsOf(userId: string, n: number): TokenArg[] {
  return Array.from({ length: n }, () => ({ userId, roomId: randomUUID(), permissions: [LOOKUP_PERMISSION] }));
}

/** Which list a lookup pages through. */
export type LookupKind = "members" | "rooms";

/** One lookup page's request. */
export interface PageAsk {
  readonly kind: LookupKind;
  /** The room (members) or the user (rooms). */
  readonly subject: string;
  readonly pageToken?: string;
  readonly minEventId?: string;
}

/** One page: its rows, the next token ("" on the last page) and the round trip. */
export interface PageGot {
  readonly rows: number;
  readonly next: string;
  readonly ms: number;
}

/** Asks for one page of 100; every row must be allowed (the lookups list only those). */
export async function lookupPage(c: JsonClient, ask: PageAsk): Promise<PageGot> {
  const members = ask.kind === "members";
  const a = await c.ok(`room.access.private.v1.Service/${members ? "LookupMembers" : "LookupRooms"}`, {
    [members ? "room_id" : "user_id"]: ask.subject,
    permission: LOOKUP_PERMISSION,
    page_size: PAGE_SIZE,
    page_token: ask.pageToken ?? "",
    min_event_id: ask.minEventId ?? "0",
  });
  const rows = (a.body[members ? "members" : "rooms"] ?? []) as { answer?: { allowed?: boolean } }[];
  if (rows.some((r) => r.answer?.allowed !== true)) throw new Error(`${ask.kind}: a row not allowed`);
  return { rows: rows.length, next: String(a.body["nextPageToken"] ?? ""), ms: a.ms };
}

/**
 * Walks every page from the start; returns each page's round trip, and the
 * token of each page ("" for the first), so later calls can ask for pages
 * at random positions. Throws unless it saw exactly `expected` rows.
 */
export async function walkPages(
  c: JsonClient,
  kind: LookupKind,
  subject: string,
  expected: number,
): Promise<{ ms: number[]; tokens: string[] }> {
  const ms: number[] = [];
  const tokens = [""];
  let seen = 0;
  for (;;) {
    const p = await lookupPage(c, { kind, subject, pageToken: tokens.at(-1)! });
    ms.push(p.ms);
    seen += p.rows;
    if (p.next === "") break;
    if (p.rows !== PAGE_SIZE) throw new Error(`${kind}: a page of ${p.rows} rows before the last`);
    tokens.push(p.next);
  }
  if (seen !== expected) throw new Error(`${kind} of ${subject}: walked ${seen} rows, expected ${expected}`);
  return { ms, tokens };
}
