import { Webhook } from "standardwebhooks";

/**
 * The Standard Webhooks headers for one attempt: `webhook-id` (the delivery
 * id, the same on every attempt so receivers dedupe on it),
 * `webhook-timestamp` (seconds), and `webhook-signature`, one `v1,<sig>`
 * per secret, space-separated — during a rotation's grace period both the
 * new and the old secret sign, and a receiver holding either verifies.
 */
export function signedHeaders(
  msgId: string,
  at: number,
  body: string,
  secrets: readonly string[],
): Record<string, string> {
  const when = new Date(at);
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(at / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(msgId, when, body)).join(" "),
  };
}

/** The body: `{type, timestamp, data}` as Standard Webhooks suggests. */
export function webhookBody(type: string, at: number, data: unknown): string {
  return JSON.stringify({ type, timestamp: new Date(at).toISOString(), data });
}
