import { systemResolver, type Resolver } from "../../domain/webhooks/address-policy.js";
import { WebhookEndpoints } from "../../domain/webhooks/endpoints.js";
import { SecretBox } from "../../domain/webhooks/secret-box.js";
import { WebhooksPrivateService } from "../../services/webhooks-private-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";
import { WebhookWorker } from "../webhooks.js";
import type { TokensModule } from "./tokens.js";

/** Longest single backoff wait. */
const MAX_BACKOFF_MS = 3_600_000;
/** The worker's fallback poll (events and due retries wake it sooner). */
const POLL_MS = 5_000;

/** Webhook management and this replica's delivery worker. */
export interface WebhooksModule extends FeatureModule {
  readonly webhooksPrivate: WebhooksPrivateService;
  readonly worker: WebhookWorker;
}

/**
 * Builds endpoint management and starts the worker, woken by every
 * announced event. Secrets follow the active token key: a keyring reload
 * re-seals them, so the old key can be retired.
 */
export async function webhooksModule(
  k: Kernel,
  tokens: Pick<TokensModule, "codec" | "onKeysReloaded">,
  resolver: Resolver | undefined,
): Promise<WebhooksModule> {
  const { config, stores, transact, sink, clock } = k;
  const store = stores.webhooks;
  const box = new SecretBox(() => tokens.codec.keyring);
  const policy = { allowPrivateNetworks: config.webhookAllowPrivateNetworks };
  const resolve = resolver ?? systemResolver;
  const retryMs = config.webhookRetrySeconds * 1000;
  const lastEventId = () => stores.journal.lastEventId();
  const endpoints = new WebhookEndpoints({ store, transact, sink, clock, box, policy, resolve, lastEventId });
  const worker = new WebhookWorker({
    ...{ store, events: stores.journal, transact, sink, box, policy, resolve, clock, log: k.log },
    retry: { baseMs: config.webhookRetryBaseMs, capMs: Math.min(MAX_BACKOFF_MS, retryMs), retryMs },
    timeoutMs: config.webhookTimeoutMs,
    pollMs: POLL_MS,
  });
  const unsubscribe = k.live.bus.subscribeAll((e) => worker.onEvent(e));
  await worker.start();
  tokens.onKeysReloaded(() => void worker.reseal());
  return {
    webhooksPrivate: new WebhooksPrivateService(endpoints),
    worker,
    async close() {
      unsubscribe();
      await worker.stop();
    },
  };
}
