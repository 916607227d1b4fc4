import { RemovalBarrier } from "../domain/feed/removal-barrier.js";
import type { Database } from "../store/database-port.js";
import { SqlJournal } from "../store/journal-store.js";
import { SqlReplicaRegistry } from "../store/replica-store.js";

/**
 * For the CLI's removing writes (API-key revoke, a keyring change): the
 * command returns only once every live replica applied everything up to
 * the last stored event, or lost its lease (see RemovalBarrier) — the same
 * rule as a removing write answered by a server. The CLI keeps no live
 * state of its own, so it is no replica and waits for all of them.
 */
export function settleAcrossReplicas(db: Database): () => Promise<number> {
  const journal = new SqlJournal(db);
  const log = {
    warn: (_obj: object, msg: string) => process.stderr.write(`roomgate: ${msg}\n`),
    error: (_obj: object, msg: string) => process.stderr.write(`roomgate: ${msg}\n`),
  };
  const barrier = new RemovalBarrier({ registry: new SqlReplicaRegistry(db), serverId: "cli", log });
  return async () => {
    const id = await journal.lastEventId();
    if (id > 0) await barrier.waitApplied(id);
    return id;
  };
}
