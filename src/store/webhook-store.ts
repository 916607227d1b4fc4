import { sql } from "drizzle-orm";
import type {
  AttemptResult,
  DeliveryStatus,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookStore,
} from "../domain/webhooks/types.js";
import { num, numOrNull, type Database, type Row } from "./database-port.js";

const ENDPOINT_COLUMNS = sql`id as "id", tenant_id as "tenantId", url as "url", event_types as "eventTypes", room_id as "roomId",
  description as "description", secret as "secret", previous_secret as "previousSecret", previous_secret_until as "previousSecretUntil",
  disabled_at as "disabledAt", disabled_reason as "disabledReason", cursor as "cursor", created_at as "createdAt", updated_at as "updatedAt"`;

const DELIVERY_COLUMNS = sql`d.id as "id", d.endpoint_id as "endpointId", d.tenant_id as "tenantId", d.event_id as "eventId",
  d.event_type as "eventType", d.status as "status", d.attempts as "attempts", d.next_attempt_at as "nextAttemptAt",
  d.first_attempt_at as "firstAttemptAt", d.lease_owner as "leaseOwner", d.lease_until as "leaseUntil",
  d.last_status_code as "lastStatusCode", d.last_error as "lastError", d.created_at as "createdAt", d.updated_at as "updatedAt"`;

/**
 * The head of each endpoint's queue: its unfinished delivery with the lowest
 * event id (no unfinished one before it: two index seeks on the queue index). Only heads are ever claimed, which is what keeps an endpoint's
 * deliveries in event order.
 */
const IS_HEAD = sql`not exists (select 1 from webhook_deliveries h
  where h.endpoint_id = d.endpoint_id and h.status in ('pending', 'delivering') and h.event_id < d.event_id)`;

/** Webhook endpoints and deliveries, in SQL both stores accept. */
export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly db: Database) {}

  async insertEndpoint(e: WebhookEndpoint): Promise<void> {
    await this.db.run(
      sql`insert into webhook_endpoints (id, tenant_id, url, event_types, room_id, description, secret, previous_secret,
            previous_secret_until, disabled_at, disabled_reason, cursor, created_at, updated_at)
          values (${e.id}, ${e.tenantId}, ${e.url}, ${JSON.stringify(e.eventTypes)}, ${e.roomId}, ${e.description}, ${e.secret},
            ${e.previousSecret}, ${e.previousSecretUntil}, ${e.disabledAt}, ${e.disabledReason}, ${e.cursor}, ${e.createdAt}, ${e.updatedAt})`,
    );
  }

  async getEndpoint(tenantId: string, id: string): Promise<WebhookEndpoint | undefined> {
    const row = await this.db.get(
      sql`select ${ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = ${tenantId} and id = ${id}`,
    );
    return row === undefined ? undefined : endpoint(row);
  }

  async countEndpoints(tenantId: string): Promise<number> {
    return num(
      (await this.db.get(sql`select count(*) as "n" from webhook_endpoints where tenant_id = ${tenantId}`))?.n ?? 0,
    );
  }

  async listEndpoints(
    tenantId: string,
    after: { at: number; id: string } | undefined,
    limit: number,
  ): Promise<WebhookEndpoint[]> {
    const pos =
      after === undefined
        ? sql.empty()
        : sql` and (created_at < ${after.at} or (created_at = ${after.at} and id < ${after.id}))`;
    const rows = await this.db.all(
      sql`select ${ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = ${tenantId}${pos} order by created_at desc, id desc limit ${limit}`,
    );
    return rows.map(endpoint);
  }

  async allEndpoints(enabledOnly: boolean): Promise<WebhookEndpoint[]> {
    const where = enabledOnly ? sql` where disabled_at is null` : sql.empty();
    return (await this.db.all(sql`select ${ENDPOINT_COLUMNS} from webhook_endpoints${where} order by id`)).map(
      endpoint,
    );
  }

  async saveEndpoint(e: WebhookEndpoint): Promise<void> {
    await this.db.run(
      sql`update webhook_endpoints set url = ${e.url}, event_types = ${JSON.stringify(e.eventTypes)}, room_id = ${e.roomId},
            description = ${e.description}, secret = ${e.secret}, previous_secret = ${e.previousSecret},
            previous_secret_until = ${e.previousSecretUntil}, disabled_at = ${e.disabledAt}, disabled_reason = ${e.disabledReason},
            updated_at = ${e.updatedAt}
          where id = ${e.id}`,
    );
  }

  deleteEndpoint(tenantId: string, id: string): Promise<number> {
    // Deliveries go first: SQLite enforces the cascade only with foreign_keys on.
    return this.db.write(async () => {
      await this.db.run(sql`delete from webhook_deliveries where endpoint_id = ${id} and tenant_id = ${tenantId}`);
      return this.db.run(sql`delete from webhook_endpoints where tenant_id = ${tenantId} and id = ${id}`);
    });
  }

  async advanceCursor(id: string, from: number, to: number): Promise<boolean> {
    return (
      (await this.db.run(sql`update webhook_endpoints set cursor = ${to} where id = ${id} and cursor = ${from}`)) === 1
    );
  }

  async insertDeliveries(ds: readonly WebhookDelivery[]): Promise<void> {
    for (const d of ds) {
      await this.db.run(
        sql`insert into webhook_deliveries (id, endpoint_id, tenant_id, event_id, event_type, status, attempts, next_attempt_at,
              first_attempt_at, lease_owner, lease_until, last_status_code, last_error, created_at, updated_at)
            values (${d.id}, ${d.endpointId}, ${d.tenantId}, ${d.eventId}, ${d.eventType}, ${d.status}, ${d.attempts}, ${d.nextAttemptAt},
              ${d.firstAttemptAt}, ${d.leaseOwner}, ${d.leaseUntil}, ${d.lastStatusCode}, ${d.lastError}, ${d.createdAt}, ${d.updatedAt})
            on conflict (endpoint_id, event_id) do nothing`,
      );
    }
  }

  async getDelivery(tenantId: string, id: string): Promise<WebhookDelivery | undefined> {
    const row = await this.db.get(
      sql`select ${DELIVERY_COLUMNS} from webhook_deliveries d where d.tenant_id = ${tenantId} and d.id = ${id}`,
    );
    return row === undefined ? undefined : delivery(row);
  }

  async listDeliveries(
    endpointId: string,
    beforeEventId: number | undefined,
    limit: number,
  ): Promise<WebhookDelivery[]> {
    const pos = beforeEventId === undefined ? sql.empty() : sql` and d.event_id < ${beforeEventId}`;
    const rows = await this.db.all(
      sql`select ${DELIVERY_COLUMNS} from webhook_deliveries d where d.endpoint_id = ${endpointId}${pos} order by d.event_id desc limit ${limit}`,
    );
    return rows.map(delivery);
  }

  async restartPending(endpointId: string, now: number): Promise<void> {
    await this.db.run(
      sql`update webhook_deliveries set next_attempt_at = ${now}, first_attempt_at = null, updated_at = ${now}
          where endpoint_id = ${endpointId} and status = 'pending'`,
    );
  }

  async resetDelivery(id: string, now: number): Promise<WebhookDelivery | undefined> {
    const row = await this.db.get(
      sql`update webhook_deliveries set status = 'pending', next_attempt_at = ${now}, first_attempt_at = null, lease_owner = null,
            lease_until = null, updated_at = ${now}
          where id = ${id} and status <> 'delivering'
          returning id as "id"`,
    );
    if (row === undefined) return undefined;
    const got = await this.db.get(sql`select ${DELIVERY_COLUMNS} from webhook_deliveries d where d.id = ${id}`);
    return got === undefined ? undefined : delivery(got);
  }

  async claimDue(owner: string, now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.db.all(
      sql`select ${DELIVERY_COLUMNS} from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
          where e.disabled_at is null and d.status in ('pending', 'delivering') and ${IS_HEAD}
            and ((d.status = 'pending' and d.next_attempt_at <= ${now}) or (d.status = 'delivering' and d.lease_until <= ${now}))
          order by d.next_attempt_at, d.event_id limit ${limit}`,
    );
    const claimed: WebhookDelivery[] = [];
    for (const r of rows.map(delivery)) {
      // The caller holds the write lock, so nothing changed since the select;
      // the guard only makes a misuse outside a transaction harmless.
      const n = await this.db.run(
        sql`update webhook_deliveries set status = 'delivering', lease_owner = ${owner}, lease_until = ${leaseUntil},
              attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, ${now}), updated_at = ${now}
            where id = ${r.id} and status = ${r.status} and attempts = ${r.attempts}`,
      );
      if (n === 1) {
        claimed.push({
          ...r,
          status: "delivering",
          leaseOwner: owner,
          leaseUntil,
          attempts: r.attempts + 1,
          firstAttemptAt: r.firstAttemptAt ?? now,
        });
      }
    }
    return claimed;
  }

  async finishAttempt(id: string, owner: string, r: AttemptResult): Promise<boolean> {
    const n = await this.db.run(
      sql`update webhook_deliveries set status = ${r.status}, last_status_code = ${r.statusCode}, last_error = ${r.error},
            next_attempt_at = ${r.nextAttemptAt}, first_attempt_at = ${r.firstAttemptAt}, lease_owner = null, lease_until = null,
            updated_at = ${r.at}
          where id = ${id} and status = 'delivering' and lease_owner = ${owner}`,
    );
    return n === 1;
  }

  async nextDueAt(): Promise<number | undefined> {
    const row = await this.db.get(
      sql`select min(case when d.status = 'pending' then d.next_attempt_at else d.lease_until end) as "at"
          from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
          where e.disabled_at is null and d.status in ('pending', 'delivering') and ${IS_HEAD}`,
    );
    return row?.at === null || row?.at === undefined ? undefined : num(row.at);
  }
}

function endpoint(r: Row): WebhookEndpoint {
  return {
    id: String(r.id),
    tenantId: String(r.tenantId),
    url: String(r.url),
    eventTypes: JSON.parse(String(r.eventTypes)) as string[],
    roomId: String(r.roomId),
    description: String(r.description),
    secret: String(r.secret),
    previousSecret: r.previousSecret === null || r.previousSecret === undefined ? null : String(r.previousSecret),
    previousSecretUntil: numOrNull(r.previousSecretUntil),
    disabledAt: numOrNull(r.disabledAt),
    disabledReason: String(r.disabledReason),
    cursor: num(r.cursor),
    createdAt: num(r.createdAt),
    updatedAt: num(r.updatedAt),
  };
}

function delivery(r: Row): WebhookDelivery {
  return {
    id: String(r.id),
    endpointId: String(r.endpointId),
    tenantId: String(r.tenantId),
    eventId: num(r.eventId),
    eventType: num(r.eventType),
    status: String(r.status) as DeliveryStatus,
    attempts: num(r.attempts),
    nextAttemptAt: num(r.nextAttemptAt),
    firstAttemptAt: numOrNull(r.firstAttemptAt),
    leaseOwner: r.leaseOwner === null || r.leaseOwner === undefined ? null : String(r.leaseOwner),
    leaseUntil: numOrNull(r.leaseUntil),
    lastStatusCode: num(r.lastStatusCode),
    lastError: String(r.lastError),
    createdAt: num(r.createdAt),
    updatedAt: num(r.updatedAt),
  };
}
