/** Where a delivery stands. */
export type DeliveryStatus = "pending" | "delivering" | "succeeded" | "failed";

/** A webhook endpoint as stored; its secrets sealed (see secret-box.ts). */
export interface WebhookEndpoint {
  readonly id: string;
  readonly tenantId: string;
  readonly url: string;
  /** Event type names (EventType proto names); empty: every type. */
  readonly eventTypes: readonly string[];
  /** Only this room's events; "" for every room. */
  readonly roomId: string;
  readonly description: string;
  readonly secret: string;
  readonly previousSecret: string | null;
  /** Until when `previousSecret` signs too. */
  readonly previousSecretUntil: number | null;
  /** Null while enabled. */
  readonly disabledAt: number | null;
  readonly disabledReason: string;
  /** The last event id deliveries were enqueued up to. */
  readonly cursor: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One event on its way to one endpoint. */
export interface WebhookDelivery {
  /** Also the `webhook-id` header: stable across attempts, receivers dedupe on it. */
  readonly id: string;
  readonly endpointId: string;
  readonly tenantId: string;
  readonly eventId: number;
  readonly eventType: number;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly firstAttemptAt: number | null;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  readonly lastStatusCode: number;
  readonly lastError: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The outcome of one attempt, as recorded. */
export interface AttemptResult {
  readonly status: "pending" | "succeeded" | "failed";
  readonly statusCode: number;
  readonly error: string;
  readonly nextAttemptAt: number;
  readonly firstAttemptAt: number;
  readonly at: number;
}

/** Where endpoints and deliveries are kept (src/store/webhook-store.ts). */
export interface WebhookStore {
  insertEndpoint(e: WebhookEndpoint): Promise<void>;
  getEndpoint(tenantId: string, id: string): Promise<WebhookEndpoint | undefined>;
  countEndpoints(tenantId: string): Promise<number>;
  /** Newest first, after the keyset position when given. */
  listEndpoints(
    tenantId: string,
    after: { at: number; id: string } | undefined,
    limit: number,
  ): Promise<WebhookEndpoint[]>;
  /** Every endpoint of every tenant (re-sealing, fan-out); `enabledOnly` skips disabled ones. */
  allEndpoints(enabledOnly: boolean): Promise<WebhookEndpoint[]>;
  /** Writes every mutable field of `e`. */
  saveEndpoint(e: WebhookEndpoint): Promise<void>;
  deleteEndpoint(tenantId: string, id: string): Promise<number>;
  /** Moves the cursor forward only (a concurrent fan-out may have passed it). */
  advanceCursor(id: string, from: number, to: number): Promise<boolean>;
  /** Inserts deliveries; one already there for the (endpoint, event) is kept. */
  insertDeliveries(ds: readonly WebhookDelivery[]): Promise<void>;
  getDelivery(tenantId: string, id: string): Promise<WebhookDelivery | undefined>;
  /** One endpoint's deliveries, highest event id first, below `beforeEventId` when given. */
  listDeliveries(endpointId: string, beforeEventId: number | undefined, limit: number): Promise<WebhookDelivery[]>;
  /** Re-enabling: the endpoint's pending deliveries are due now, with a fresh retry period. */
  restartPending(endpointId: string, now: number): Promise<void>;
  /** Makes a delivery pending again, due at `now`. */
  resetDelivery(id: string, now: number): Promise<WebhookDelivery | undefined>;
  /**
   * Claims up to `limit` deliveries that are each the head of an enabled
   * endpoint's queue (its lowest unfinished event) and due, or whose lease
   * expired. Call inside a write transaction.
   */
  claimDue(owner: string, now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt's outcome if `owner` still holds the lease; false otherwise. */
  finishAttempt(id: string, owner: string, r: AttemptResult): Promise<boolean>;
  /** When the earliest head becomes due (or its lease expires); undefined when none waits. */
  nextDueAt(): Promise<number | undefined>;
}
