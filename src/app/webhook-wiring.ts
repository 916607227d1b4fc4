import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { EventBus } from "../domain/events/event-bus.js";
import type { JournalSink } from "../domain/events/record.js";
import type { Transact } from "../domain/journal.js";
import type { Keyring } from "../domain/tokens/keyring.js";
import { systemResolver, type Resolver } from "../domain/webhooks/address-policy.js";
import { WebhookEndpoints } from "../domain/webhooks/endpoints.js";
import { SecretBox } from "../domain/webhooks/secret-box.js";
import type { Database } from "../store/database-port.js";
import type { SqlJournal } from "../store/journal-store.js";
import { SqlWebhookStore } from "../store/webhook-store.js";
import { WebhookWorker } from "./webhooks.js";

/** Longest single backoff wait. */
const MAX_BACKOFF_MS = 3_600_000;
/** The worker's fallback poll (events and due retries wake it sooner). */
const POLL_MS = 5_000;

/** Webhook management and this replica's delivery worker. */
export interface Webhooks {
  readonly endpoints: WebhookEndpoints;
  readonly worker: WebhookWorker;
  /** Stops the worker; call before closing the store. */
  stop(): Promise<void>;
}

/** What the webhooks are built from. */
export interface WebhookWiring {
  readonly config: Config;
  readonly db: Database;
  readonly journal: SqlJournal;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly bus: EventBus;
  readonly keyring: () => Keyring;
  readonly clock: () => number;
  readonly log: Logger;
  /** Test seam: a resolver other than the system's. */
  readonly resolve?: Resolver;
}

/** Builds endpoint management and starts the worker, woken by every announced event. */
export async function startWebhooks(w: WebhookWiring): Promise<Webhooks> {
  const store = new SqlWebhookStore(w.db);
  const box = new SecretBox(w.keyring);
  const policy = { allowPrivateNetworks: w.config.webhookAllowPrivateNetworks };
  const resolve = w.resolve ?? systemResolver;
  const retryMs = w.config.webhookRetrySeconds * 1000;
  const endpoints = new WebhookEndpoints({
    store,
    transact: w.transact,
    sink: w.sink,
    clock: w.clock,
    box,
    policy,
    resolve,
    lastEventId: () => w.journal.lastEventId(),
  });
  const worker = new WebhookWorker({
    store,
    events: w.journal,
    transact: w.transact,
    sink: w.sink,
    box,
    policy,
    resolve,
    retry: { baseMs: w.config.webhookRetryBaseMs, capMs: Math.min(MAX_BACKOFF_MS, retryMs), retryMs },
    timeoutMs: w.config.webhookTimeoutMs,
    clock: w.clock,
    log: w.log,
    pollMs: POLL_MS,
  });
  const unsubscribe = w.bus.subscribeAll((e) => worker.onEvent(e));
  await worker.start();
  return {
    endpoints,
    worker,
    async stop() {
      unsubscribe();
      await worker.stop();
    },
  };
}
