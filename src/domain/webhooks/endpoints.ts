import { randomBytes } from "node:crypto";
import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink, type RecordFn } from "../events/record.js";
import { checkId, checkOptionalId } from "../ids.js";
import type { Actor, Transact } from "../journal.js";
import { decodeKeyset, encodeKeyset, pageSizeOf } from "../paging.js";
import { checkUrlForm, resolveChecked, UnsafeUrlError, type AddressPolicy, type Resolver } from "./address-policy.js";
import { generateWebhookSecret, type SecretBox } from "./secret-box.js";
import type { WebhookDelivery, WebhookEndpoint, WebhookStore } from "./types.js";
import { checkDescription, checkEventTypes } from "./validation.js";

/**
 * Endpoints per tenant: every one costs each replica's worker a query per
 * pass, and a tenant fanning out to more receivers should use one and
 * spread from there.
 */
export const MAX_ENDPOINTS_PER_TENANT = 50;

/** Default and longest grace period of a rotated-out secret. */
export const DEFAULT_GRACE_SECONDS = 86_400;
export const MAX_GRACE_SECONDS = 7 * 86_400;

/** Everything endpoint management works with. */
export interface WebhookEndpointsDeps {
  readonly store: WebhookStore;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
  readonly box: SecretBox;
  readonly policy: AddressPolicy;
  readonly resolve: Resolver;
  /** The highest stored event id (a new endpoint starts after it). */
  readonly lastEventId: () => Promise<number>;
}

/** Who manages: the tenant and the acting API key. */
export interface WebhookCaller {
  readonly tenantId: string;
  readonly actor: Actor;
}

/** CreateEndpoint's fields. */
export interface EndpointInit {
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly roomId: string;
  readonly description: string;
}

/** UpdateEndpoint's fields: undefined leaves a field as it is. */
export interface EndpointPatch {
  readonly url?: string;
  readonly eventTypes?: readonly string[];
  readonly roomId?: string;
  readonly description?: string;
  readonly enabled?: boolean;
}

/**
 * The tenant's webhook endpoints: every change checked, written through
 * {@link journaled} (audit entry "webhook.*" and a WEBHOOK_ENDPOINT_CHANGED
 * event, which also wakes every replica's delivery worker). Secrets leave
 * only in the answers to create and rotate.
 */
export class WebhookEndpoints {
  constructor(private readonly deps: WebhookEndpointsDeps) {}

  /** Creates an endpoint; returns it with its secret (shown this once). */
  async create(caller: WebhookCaller, init: EndpointInit): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const url = await this.checkUrl(init.url);
    const eventTypes = checkEventTypes(init.eventTypes);
    const roomId = checkOptionalId("room_id", init.roomId) ?? "";
    const description = checkDescription(init.description);
    const id = `whe_${randomBytes(16).toString("hex")}`;
    const secret = generateWebhookSecret();
    const now = this.deps.clock();
    // The audit log keeps the origin only: a query string may carry a receiver's token.
    const endpoint = await this.change(caller, "created", id, { origin: new URL(url).origin }, async () => {
      // Counted under the write lock: concurrent creations cannot overshoot.
      if ((await this.deps.store.countEndpoints(caller.tenantId)) >= MAX_ENDPOINTS_PER_TENANT) {
        throw new RoomgateError(
          "resource_exhausted",
          `a tenant has at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints; delete one first`,
        );
      }
      const e: WebhookEndpoint = {
        id,
        tenantId: caller.tenantId,
        url,
        eventTypes,
        roomId,
        description,
        secret: this.deps.box.seal(id, secret),
        previousSecret: null,
        previousSecretUntil: null,
        disabledAt: null,
        disabledReason: "",
        // Read under the write lock: every event committed so far is before
        // the endpoint, every later one (its own creation's excepted) after.
        cursor: 0,
        createdAt: now,
        updatedAt: now,
      };
      return e;
    });
    return { endpoint, secret };
  }

  /** One endpoint of the caller's tenant; not_found otherwise. */
  async get(tenantId: string, id: string): Promise<WebhookEndpoint> {
    checkId("id", id);
    const e = await this.deps.store.getEndpoint(tenantId, id);
    if (e === undefined) throw new RoomgateError("not_found", `webhook endpoint ${JSON.stringify(id)} not found`);
    return e;
  }

  /** One page of endpoints, newest first. */
  async list(
    tenantId: string,
    pageSize: number,
    pageToken: string,
  ): Promise<{ endpoints: WebhookEndpoint[]; nextPageToken: string }> {
    const size = pageSizeOf(pageSize);
    // Keyset on (created_at, the id's 32 hex digits): the prefix is the same for all.
    const after = pageToken === "" ? undefined : decodeKeyset(pageToken);
    const rows = await this.deps.store.listEndpoints(
      tenantId,
      after && { at: after.at, id: `whe_${after.id}` },
      size + 1,
    );
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    const nextPageToken = rows.length > size && last ? encodeKeyset({ at: last.createdAt, id: last.id.slice(4) }) : "";
    return { endpoints: page, nextPageToken };
  }

  /** Changes the fields set; enabling clears the disabled state. */
  async update(caller: WebhookCaller, id: string, patch: EndpointPatch): Promise<WebhookEndpoint> {
    checkId("id", id);
    const url = patch.url === undefined ? undefined : await this.checkUrl(patch.url);
    const eventTypes = patch.eventTypes === undefined ? undefined : checkEventTypes(patch.eventTypes);
    const roomId = patch.roomId === undefined ? undefined : (checkOptionalId("room_id", patch.roomId) ?? "");
    const description = patch.description === undefined ? undefined : checkDescription(patch.description);
    const now = this.deps.clock();
    const fields = Object.keys(patch).filter((k) => patch[k as keyof EndpointPatch] !== undefined);
    return this.change(caller, "updated", id, { fields }, async (old) => {
      const e = old!;
      const disabled = patch.enabled === undefined ? e.disabledAt : patch.enabled ? null : (e.disabledAt ?? now);
      const next: WebhookEndpoint = {
        ...e,
        url: url ?? e.url,
        eventTypes: eventTypes ?? e.eventTypes,
        roomId: roomId ?? e.roomId,
        description: description ?? e.description,
        disabledAt: disabled,
        disabledReason:
          disabled === null ? "" : patch.enabled === false ? "disabled by UpdateEndpoint" : e.disabledReason,
        updatedAt: now,
      };
      await this.deps.store.saveEndpoint(next);
      // Back from disabled: the waiting deliveries get a whole retry period again.
      if (e.disabledAt !== null && disabled === null) await this.deps.store.restartPending(e.id, now);
      return next;
    });
  }

  /** Deletes an endpoint and its deliveries. */
  async delete(caller: WebhookCaller, id: string): Promise<void> {
    checkId("id", id);
    await this.change(caller, "deleted", id, {}, async () => {
      await this.deps.store.deleteEndpoint(caller.tenantId, id);
      return undefined;
    });
  }

  /** Gives the endpoint a new secret; the old one signs too for `graceSeconds`. */
  async rotate(
    caller: WebhookCaller,
    id: string,
    graceSeconds: number,
  ): Promise<{ secret: string; previousUntil: number }> {
    checkId("id", id);
    if (graceSeconds > MAX_GRACE_SECONDS)
      throw invalidArgument(`grace_seconds: exceeds the maximum of ${MAX_GRACE_SECONDS}`);
    const now = this.deps.clock();
    const previousUntil = now + (graceSeconds === 0 ? DEFAULT_GRACE_SECONDS : graceSeconds) * 1000;
    const secret = generateWebhookSecret();
    await this.change(caller, "secret_rotated", id, {}, async (old) => {
      const e = old!;
      await this.deps.store.saveEndpoint({
        ...e,
        secret: this.deps.box.seal(id, secret),
        previousSecret: e.secret,
        previousSecretUntil: previousUntil,
        updatedAt: now,
      });
      return undefined;
    });
    return { secret, previousUntil };
  }

  /** One page of an endpoint's deliveries, newest event first. */
  async deliveries(
    tenantId: string,
    endpointId: string,
    pageSize: number,
    pageToken: string,
  ): Promise<{ deliveries: WebhookDelivery[]; nextPageToken: string }> {
    const size = pageSizeOf(pageSize);
    const before = pageToken === "" ? undefined : decodeEventToken(pageToken);
    await this.get(tenantId, endpointId);
    const rows = await this.deps.store.listDeliveries(endpointId, before, size + 1);
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      deliveries: page,
      nextPageToken: rows.length > size && last ? Buffer.from(String(last.eventId)).toString("base64url") : "",
    };
  }

  /** Sends a delivery again, once the endpoint's earlier ones are done. */
  async redeliver(caller: WebhookCaller, deliveryId: string): Promise<WebhookDelivery> {
    checkId("delivery_id", deliveryId);
    const now = this.deps.clock();
    const found = await this.deps.store.getDelivery(caller.tenantId, deliveryId);
    if (found === undefined) throw new RoomgateError("not_found", `delivery ${JSON.stringify(deliveryId)} not found`);
    return this.change(caller, "redelivery_requested", found.endpointId, { deliveryId }, async () => {
      const d = await this.deps.store.resetDelivery(deliveryId, now);
      if (d === undefined)
        throw new RoomgateError(
          "failed_precondition",
          `delivery ${JSON.stringify(deliveryId)} is being sent now; try again later`,
        );
      return d;
    });
  }

  /** Checks a URL's form, then that its host resolves to allowed addresses. */
  private async checkUrl(raw: string): Promise<string> {
    const url = checkUrlForm(raw, this.deps.policy);
    try {
      await resolveChecked(url, this.deps.policy, this.deps.resolve);
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw invalidArgument(`url: ${err.message}`);
      throw err;
    }
    return url.href;
  }

  /**
   * One management change in one journaled write: reads the endpoint under
   * the lock (not_found when it is not the caller's), runs `fn`, records
   * the audit entry and the event. A creation inserts the endpoint after the
   * event, with the cursor at that event, so it receives only later ones.
   */
  private change<T>(
    caller: WebhookCaller,
    reason: string,
    id: string,
    detail: Record<string, unknown>,
    fn: (old: WebhookEndpoint | undefined) => Promise<T>,
  ): Promise<T> {
    const at = this.deps.clock();
    return journaled(this.deps.transact, this.deps.sink, async (record: RecordFn) => {
      const old = reason === "created" ? undefined : await this.deps.store.getEndpoint(caller.tenantId, id);
      if (reason !== "created" && old === undefined)
        throw new RoomgateError("not_found", `webhook endpoint ${JSON.stringify(id)} not found`);
      const result = await fn(old);
      await record({
        audit: [
          { tenantId: caller.tenantId, at, actor: caller.actor, action: `webhook.${reason}`, target: id, detail },
        ],
        events: [
          { tenantId: caller.tenantId, type: EventType.WEBHOOK_ENDPOINT_CHANGED, actor: caller.actor, at, reason },
        ],
      });
      if (reason === "created") {
        const e = result as WebhookEndpoint;
        await this.deps.store.insertEndpoint({ ...e, cursor: await this.deps.lastEventId() });
      }
      return result;
    });
  }
}

function decodeEventToken(token: string): number {
  const text = /^[A-Za-z0-9_-]{1,24}$/.test(token) ? Buffer.from(token, "base64url").toString("latin1") : "";
  if (!/^[1-9]\d{0,15}$/.test(text) || Buffer.from(text).toString("base64url") !== token) {
    throw invalidArgument("page_token: not a token from a previous response");
  }
  return Number(text);
}
