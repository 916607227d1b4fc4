import { RoomgateError } from "./errors.js";

/** Open streams of one tenant: in all, and by user. */
interface TenantCount {
  total: number;
  readonly users: Map<string, number>;
}

/**
 * Bounds the open streams of one kind on this replica (permission Watch,
 * events Watch) per user — or per API key — and per tenant. A slot is taken synchronously, so N streams opened at once get
 * exactly the bound, and is given back by the function {@link acquire}
 * returns (call it once, however the stream ends).
 */
export class StreamLimits {
  private readonly tenants = new Map<string, TenantCount>();

  /** `what` names the streams in refusals ("permission streams"); `perUser` may be Infinity. */
  constructor(
    private readonly what: string,
    private readonly perUser: number,
    private readonly perTenant: number,
  ) {}

  /** Takes a slot for `userId` of `tenantId`, or throws resource_exhausted. */
  acquire(tenantId: string, userId: string): () => void {
    let t = this.tenants.get(tenantId);
    const mine = t?.users.get(userId) ?? 0;
    if (mine >= this.perUser)
      throw new RoomgateError(
        "resource_exhausted",
        `too many open ${this.what} for this user (at most ${this.perUser})`,
      );
    if ((t?.total ?? 0) >= this.perTenant) {
      throw new RoomgateError(
        "resource_exhausted",
        `too many open ${this.what} for this tenant (at most ${this.perTenant})`,
      );
    }
    if (!t) this.tenants.set(tenantId, (t = { total: 0, users: new Map() }));
    t.total++;
    t.users.set(userId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(tenantId, userId);
    };
  }

  /** Open streams, every tenant together (metrics, tests). */
  get open(): number {
    let n = 0;
    for (const t of this.tenants.values()) n += t.total;
    return n;
  }

  private release(tenantId: string, userId: string): void {
    const t = this.tenants.get(tenantId);
    if (!t) return;
    const mine = (t.users.get(userId) ?? 1) - 1;
    if (mine <= 0) t.users.delete(userId);
    else t.users.set(userId, mine);
    if (--t.total <= 0) this.tenants.delete(tenantId);
  }
}
