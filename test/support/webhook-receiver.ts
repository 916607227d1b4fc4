import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** One request the receiver got. */
export interface Received {
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** True when `standardwebhooks` verified it with the receiver's secret. */
  readonly verified: boolean;
  /** The status the receiver answered. */
  readonly status: number;
}

/** How the receiver answers: 204, 500, a dropped connection, or a redirect. */
export type Mode = "ok" | "fail" | "drop" | "redirect" | "hang";

/**
 * A real webhook receiver on 127.0.0.1:listen(0), verifying every request
 * with the `standardwebhooks` library as a tenant's backend would, and
 * deduping on `webhook-id`: `acknowledged` holds each id it answered 2xx,
 * once, in arrival order.
 */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  readonly acknowledged: { id: string; body: unknown }[] = [];
  mode: Mode = "ok";
  redirectTo = "";
  secret = "";
  private server: Server | undefined;
  private waiters: (() => void)[] = [];
  url = "";

  /** Starts listening; `url` is then set. */
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        const id = String(req.headers["webhook-id"] ?? "");
        let verified = false;
        try {
          new Webhook(this.secret).verify(body, req.headers as Record<string, string>);
          verified = true;
        } catch {
          verified = false;
        }
        const mode = this.mode;
        if (mode === "drop") {
          this.requests.push({ id, headers: req.headers, body, verified, status: 0 });
          req.socket.destroy();
        } else if (mode === "hang") {
          this.requests.push({ id, headers: req.headers, body, verified, status: 0 });
        } else if (mode === "redirect") {
          this.requests.push({ id, headers: req.headers, body, verified, status: 302 });
          res.writeHead(302, { location: this.redirectTo }).end();
        } else if (mode === "fail" || !verified) {
          this.requests.push({ id, headers: req.headers, body, verified, status: 500 });
          res.writeHead(500).end("down");
        } else {
          this.requests.push({ id, headers: req.headers, body, verified, status: 204 });
          if (!this.acknowledged.some((a) => a.id === id)) this.acknowledged.push({ id, body: JSON.parse(body) });
          res.writeHead(204).end();
        }
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  /** Resolves once `pred` holds (checked after each request), or rejects after `ms`. */
  async until(pred: () => boolean, ms = 20_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline)
        throw new Error(
          `receiver: ${what} not reached; got ${this.requests.length} requests, ${this.acknowledged.length} acknowledged`,
        );
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
