import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Keyring } from "../tokens/keyring.js";

/**
 * Webhook signing secrets at rest.
 *
 * A secret is sealed with AES-256-GCM under a key derived (HKDF-SHA256,
 * info "roomgate webhook secret v1") from the token keyring's ACTIVE key,
 * with the endpoint id as associated data (a sealed secret copied onto
 * another endpoint does not open). The sealed form names the token key id
 * it was derived from: `v1.<keyId>.<base64url(iv ‖ ciphertext ‖ tag)>`.
 *
 * Why the keyring rather than a key of its own: replicas already share it
 * (key file or ROOMGATE_TOKEN_KEYS), so there is no second secret to
 * distribute. Why rotation cannot lose a secret: a rotation keeps the old
 * key as decrypt-only, and every replica re-seals each secret under the new
 * active key when its keyring changes and at start ({@link needsReseal});
 * by the time an operator retires the old key, nothing depends on it. A
 * secret sealed under a key no longer in the keyring fails to open
 * ({@link SecretUnreadableError}); RotateSecret then issues a fresh one.
 */
const VERSION = "v1";
const INFO = Buffer.from("roomgate webhook secret v1");
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored secret whose key is gone from the keyring, or that was tampered with. */
export class SecretUnreadableError extends Error {
  constructor(readonly keyId: number) {
    super(`webhook secret sealed under token key ${keyId} cannot be opened`);
    this.name = "SecretUnreadableError";
  }
}

/** A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** Seals and opens webhook secrets under the current keyring. */
export class SecretBox {
  /** @param keyring - The keyring in use now (it changes on rotation). */
  constructor(private readonly keyring: () => Keyring) {}

  /** Seals `secret` for endpoint `endpointId` under the active key. */
  seal(endpointId: string, secret: string): string {
    const active = this.keyring().active;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", derive(active.secret), iv);
    cipher.setAAD(Buffer.from(endpointId, "utf8"));
    const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return `${VERSION}.${active.id}.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url")}`;
  }

  /** Opens a sealed secret; throws {@link SecretUnreadableError} when it cannot. */
  open(endpointId: string, sealed: string): string {
    const [version, idText, body] = sealed.split(".");
    const keyId = Number(idText);
    const key = this.keyring()
      .list()
      .find((k) => k.id === keyId);
    if (version !== VERSION || body === undefined || key === undefined) throw new SecretUnreadableError(keyId);
    const raw = Buffer.from(body, "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretUnreadableError(keyId);
    try {
      const decipher = createDecipheriv("aes-256-gcm", derive(key.secret), raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(endpointId, "utf8"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      throw new SecretUnreadableError(keyId);
    }
  }

  /** True when `sealed` was sealed under a key other than the active one. */
  needsReseal(sealed: string): boolean {
    return sealed.split(".")[1] !== String(this.keyring().active.id);
  }
}

function derive(ikm: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), INFO, 32));
}
