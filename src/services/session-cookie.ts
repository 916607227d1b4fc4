/**
 * Name of the session cookie Login sets (seed 002's "session cookie"); the
 * end-user credential check in src/server reads it back.
 */
export const SESSION_COOKIE = "roomgate_session";

/** Name of the refresh cookie (issue 19); sent only to Refresh, by its Path. */
export const REFRESH_COOKIE = "roomgate_refresh";

/** The one path the refresh cookie is sent to. */
export const REFRESH_PATH = "/room.users.v1.Service/Refresh";

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The session cookie: HttpOnly so page scripts cannot read the token,
 * SameSite=Lax against cross-site POSTs, Secure whenever the login itself
 * came over TLS (over cleartext a Secure cookie would simply be dropped).
 */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

/**
 * The refresh cookie: like the session cookie, but SameSite=Strict and
 * scoped to the refresh call's path, so no other request ever carries it.
 */
export function refreshCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${REFRESH_COOKIE}=${token}; Path=${REFRESH_PATH}; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}
