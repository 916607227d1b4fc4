import type { JsonObject } from "@bufbuild/protobuf";

/** What the store keeps for each issued room member token. */
export interface GrantRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: number[];
  readonly metadata: JsonObject;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly issuedBy: string;
}

/** Persistence for grants; `recordGrants` is all-or-nothing. */
export interface GrantStore {
  recordGrants(records: readonly GrantRecord[]): Promise<void>;
}
