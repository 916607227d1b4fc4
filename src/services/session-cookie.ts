/**
 * Name of the session cookie Login sets (seed 002's "session cookie"); the
 * end-user credential check in src/server reads it back.
 */
export const SESSION_COOKIE = "roomgate_session";
