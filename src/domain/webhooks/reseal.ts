import { journaled, RECORDS_NOTHING } from "../events/record.js";
import type { Transact } from "../journal.js";
import type { SecretBox } from "./secret-box.js";
import type { WebhookStore } from "./types.js";

/**
 * Re-seals every endpoint secret (and rotated-out secret) not sealed under
 * the active token key — after a key rotation, at start and when the
 * keyring changes — so retiring the old key later loses nothing. One
 * transaction per endpoint; one that cannot be opened is reported and left.
 */
export async function resealSecrets(
  store: WebhookStore,
  box: SecretBox,
  transact: Transact,
  onError: (endpointId: string, err: unknown) => void,
): Promise<void> {
  for (const e of await store.allEndpoints(false)) {
    const stale = box.needsReseal(e.secret) || (e.previousSecret !== null && box.needsReseal(e.previousSecret));
    if (!stale) continue;
    try {
      // The same secrets under the active key: no change to audit or announce.
      await journaled(transact, RECORDS_NOTHING, async () => {
        const cur = await store.getEndpoint(e.tenantId, e.id);
        if (cur === undefined) return;
        const secret = box.seal(cur.id, box.open(cur.id, cur.secret));
        const previousSecret =
          cur.previousSecret === null ? null : box.seal(cur.id, box.open(cur.id, cur.previousSecret));
        await store.saveEndpoint({ ...cur, secret, previousSecret });
      });
    } catch (err) {
      onError(e.id, err);
    }
  }
}
