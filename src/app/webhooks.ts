import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { toJson } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { EventSchema, EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { journaled, type JournalSink } from "../domain/events/record.js";
import type { StoredEvent, Transact } from "../domain/journal.js";
import type { AddressPolicy, Resolver } from "../domain/webhooks/address-policy.js";
import { signedHeaders, webhookBody } from "../domain/webhooks/payload.js";
import { afterFailure, type RetryPolicy } from "../domain/webhooks/retry-policy.js";
import { SecretUnreadableError, type SecretBox } from "../domain/webhooks/secret-box.js";
import type { WebhookDelivery, WebhookEndpoint, WebhookStore } from "../domain/webhooks/types.js";
import { deliveriesFor } from "../domain/webhooks/fan-out.js";
import { resealSecrets } from "../domain/webhooks/reseal.js";
import { eventTypeName } from "../domain/webhooks/validation.js";
import { toProtoEvent } from "../services/events-private-service.js";
import { endpointDisabled } from "./webhook-disabled.js";
import { postWebhook, type PostResult } from "./webhook-http.js";

/** Everything the delivery worker works with. */
export interface WebhookWorkerDeps {
  readonly store: WebhookStore;
  readonly events: {
    eventsAfter(tenantId: string, roomId: string | undefined, afterId: number, limit: number): Promise<StoredEvent[]>;
  };
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly box: SecretBox;
  readonly policy: AddressPolicy;
  readonly resolve: Resolver;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly clock: () => number;
  readonly log: Logger;
  /** Fallback wake-up when nothing else wakes the worker (ms). */
  readonly pollMs: number;
}

/** Events read per endpoint per fan-out step. */
const FANOUT_BATCH = 500;
/** Deliveries claimed per step (each is a different endpoint's head). */
const CLAIM_BATCH = 32;
/** Requests one worker has open at once. */
const MAX_IN_FLIGHT = 64;

/**
 * Sends the stored event log to the tenants' webhook endpoints. Every
 * replica runs one; they share the work through the store:
 *
 * - fan-out: for each enabled endpoint, events after its cursor that match
 *   its filters become pending deliveries, and the cursor moves on, in one
 *   write (a replica that lost the race for a cursor skips it);
 * - claim: in one write, the due head of each endpoint's queue is leased to
 *   this worker (the write lock makes the claim exclusive across replicas);
 * - send, outside any transaction; then record the outcome if the lease
 *   still holds. A worker that dies mid-send leaves a lease that expires,
 *   after which any replica sends again (at least once; same webhook-id).
 *
 * Woken by every event the change feed announces (this replica's writes and
 * the others'), by the earliest due retry, and by a slow poll.
 */
export class WebhookWorker {
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Deliveries being sent now. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Tenants with an enabled endpoint, as of the last fan-out. */
  private activeTenants = new Set<string>();

  constructor(private readonly deps: WebhookWorkerDeps) {}

  /** Re-seals secrets under the active key, then starts working. */
  async start(): Promise<void> {
    await this.reseal();
    this.kick();
  }

  /**
   * An event was announced. Only tenants with enabled endpoints have work;
   * an endpoint change (on any replica) may add one. Skipping the rest keeps
   * a busy event log without webhooks free of extra queries.
   */
  onEvent(e: StoredEvent): void {
    if (this.activeTenants.has(e.tenantId) || e.type === EventType.WEBHOOK_ENDPOINT_CHANGED) this.kick();
  }

  /** Runs a pass now, or right after the one in progress. Never throws. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    let failed = false;
    this.running = this.pass()
      .catch((err: unknown) => {
        failed = true;
        this.deps.log.error({ err }, "webhook worker pass failed; retrying");
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        } else if (failed && this.timer === undefined && !this.stopped) {
          // A failed pass armed no timer: the poll retries it.
          this.timer = setTimeout(() => this.kick(), this.deps.pollMs).unref();
        }
      });
  }

  /** Stops: aborts requests in flight (their deliveries go back to pending) and waits for the pass. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
    await Promise.all(this.inFlight);
  }

  /** Re-seals secrets sealed under a key other than the active one (see {@link resealSecrets}). */
  reseal(): Promise<void> {
    const { store, box, transact, log } = this.deps;
    return resealSecrets(store, box, transact, (endpointId, err) =>
      log.error({ endpointId, err }, "webhook secret could not be re-sealed"),
    );
  }

  private async pass(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.fanOut();
    let due: number | undefined;
    for (;;) {
      if (this.stopped) return;
      // A read first: most passes find nothing due and take no write lock.
      due = await this.deps.store.nextDueAt();
      const now = this.deps.clock();
      if (due === undefined || due > now) break;
      const room = MAX_IN_FLIGHT - this.inFlight.size;
      if (room <= 0) break;
      const claimed = await this.write(() =>
        this.deps.store.claimDue(this.owner, now, now + this.leaseMs(), Math.min(room, CLAIM_BATCH)),
      );
      if (claimed.length === 0) break;
      // Not awaited: a slow receiver must not hold up the other endpoints.
      // Each one done wakes the worker for its endpoint's next delivery.
      for (const d of claimed) {
        const p: Promise<void> = this.deliver(d)
          .catch((err: unknown) =>
            this.deps.log.error(
              { err, deliveryId: d.id, endpointId: d.endpointId },
              "webhook delivery failed; its lease will expire",
            ),
          )
          .finally(() => {
            this.inFlight.delete(p);
            this.kick();
          });
        this.inFlight.add(p);
      }
    }
    // No endpoint anywhere and nothing due: sleep until an event wakes the
    // worker (an endpoint's creation is one) — no idle timer per process.
    if (due === undefined && this.activeTenants.size === 0) return;
    const wait = Math.min(this.deps.pollMs, due === undefined ? Infinity : Math.max(0, due - this.deps.clock()));
    this.timer = setTimeout(() => this.kick(), wait + 5).unref();
  }

  /**
   * A bookkeeping write (claim, fan-out, an attempt's outcome) on the one
   * path of every state change; it records nothing, so nothing is announced.
   */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    return journaled(this.deps.transact, this.deps.sink, () => fn());
  }

  /** A lease outlives the request's own bound, so only a dead worker's lease lapses. */
  private leaseMs(): number {
    return this.deps.timeoutMs * 2 + 1_000;
  }

  /** Enqueues, for every enabled endpoint, the matching events after its cursor. */
  private async fanOut(): Promise<void> {
    const { store, events, clock } = this.deps;
    const endpoints = await store.allEndpoints(true);
    this.activeTenants = new Set(endpoints.map((e) => e.tenantId));
    for (const e of endpoints) {
      let from = e.cursor;
      for (;;) {
        const batch = await events.eventsAfter(e.tenantId, undefined, from, FANOUT_BATCH);
        if (batch.length === 0) break;
        const to = batch[batch.length - 1]!.id;
        const moved = await this.write(async () => {
          // The endpoint as it is now, under the write lock: its filters may
          // have changed since the list was read, and a stale filter must not
          // decide (and skip past) events. Another replica moved the cursor,
          // or the endpoint is gone or disabled: nothing to do here.
          const cur = await store.getEndpoint(e.tenantId, e.id);
          if (cur === undefined || cur.disabledAt !== null || cur.cursor !== from) return false;
          await store.insertDeliveries(deliveriesFor(cur, batch, clock()));
          return store.advanceCursor(e.id, from, to);
        });
        if (!moved || batch.length < FANOUT_BATCH) break;
        from = to;
      }
    }
  }

  private async deliver(d: WebhookDelivery): Promise<void> {
    const { store, box, clock } = this.deps;
    const endpoint = await store.getEndpoint(d.tenantId, d.endpointId);
    if (endpoint === undefined) return;
    const [event] = await this.deps.events.eventsAfter(d.tenantId, undefined, d.eventId - 1, 1);
    let result: PostResult;
    if (event === undefined || event.id !== d.eventId) {
      result = { ok: false, statusCode: 0, error: "event no longer stored (pruned)" };
    } else {
      const now = clock();
      let secrets: string[] | undefined;
      try {
        secrets = [box.open(endpoint.id, endpoint.secret)];
        if (endpoint.previousSecret !== null && (endpoint.previousSecretUntil ?? 0) > now)
          secrets.push(box.open(endpoint.id, endpoint.previousSecret));
      } catch (err) {
        if (!(err instanceof SecretUnreadableError)) throw err;
      }
      if (secrets === undefined) {
        result = {
          ok: false,
          statusCode: 0,
          error: "signing secret cannot be opened (token key retired?): rotate the secret",
        };
      } else {
        const body = webhookBody(eventTypeName(event.type), event.at, toJson(EventSchema, toProtoEvent(event)));
        result = await postWebhook(endpoint.url, signedHeaders(d.id, now, body, secrets), body, {
          policy: this.deps.policy,
          resolve: this.deps.resolve,
          timeoutMs: this.deps.timeoutMs,
          signal: this.abort.signal,
        });
      }
    }
    await this.record(d, endpoint, result);
  }

  /** Records an attempt; after the retry period, gives up and disables the endpoint. */
  private async record(d: WebhookDelivery, endpoint: WebhookEndpoint, r: PostResult): Promise<void> {
    const { store, clock } = this.deps;
    const at = clock();
    const first = d.firstAttemptAt ?? at;
    const base = { statusCode: r.statusCode, error: r.error.slice(0, 500), firstAttemptAt: first, at };
    if (r.ok) {
      await this.write(() =>
        store.finishAttempt(d.id, this.owner, { ...base, status: "succeeded", nextAttemptAt: at }),
      );
      return;
    }
    if (this.abort.signal.aborted) {
      // Shutdown: back to pending at once, for whichever replica runs next.
      await this.write(() => store.finishAttempt(d.id, this.owner, { ...base, status: "pending", nextAttemptAt: at }));
      return;
    }
    const decision = r.error.startsWith("event no longer stored")
      ? { giveUp: true as const }
      : afterFailure(this.deps.retry, d.attempts, first, at);
    if (!decision.giveUp) {
      await this.write(() =>
        store.finishAttempt(d.id, this.owner, { ...base, status: "pending", nextAttemptAt: decision.nextAttemptAt }),
      );
      return;
    }
    const reason = `delivery ${d.id} (event ${d.eventId}) failed for the whole retry period; last error: ${base.error}`;
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      if (!(await store.finishAttempt(d.id, this.owner, { ...base, status: "failed", nextAttemptAt: at }))) return;
      const cur = await store.getEndpoint(endpoint.tenantId, endpoint.id);
      if (cur === undefined || cur.disabledAt !== null) return;
      await store.saveEndpoint({ ...cur, disabledAt: at, disabledReason: reason.slice(0, 1000), updatedAt: at });
      await record(endpointDisabled(cur, d, at));
    });
    this.deps.log.warn(
      { endpointId: endpoint.id, tenantId: endpoint.tenantId, deliveryId: d.id },
      "webhook endpoint disabled after persistent failure",
    );
  }
}
