import { existsSync, statSync } from "node:fs";
import { z } from "zod";

/**
 * The zod types settings are built from. Each parses the text of one
 * environment variable (undefined when unset or empty) and, on failure, says
 * what is wrong without naming the variable: `loadConfig` puts the name in
 * front. A message never repeats a value that may be secret (URLs with
 * passwords, headers, keys).
 */

/** One setting: its variable, its type (with its default), and what it changes. */
export interface Setting<T extends z.ZodType = z.ZodType> {
  /** The environment variable. */
  readonly env: string;
  /** Parses the variable's text; a default is a `.prefault` in the variable's own form, so help can show it. */
  readonly type: T;
  /** What it changes (Markdown: the README shows it as is, `serve --help` without backticks). */
  readonly doc: string;
  /** The default as shown (Markdown), for a default computed from other settings; else the prefault, or "—". */
  readonly shown?: string;
}

const DIGITS = /^\d+$/;

/** A whole number between `min` and `max`. */
export function wholeNumber(min: number, max: number) {
  const range = (iss: { input?: unknown }) => `must be between ${min} and ${max}, got ${iss.input}`;
  return z
    .string()
    .regex(DIGITS, { error: (iss) => `must be a whole number, got "${iss.input}"` })
    .transform(Number)
    .pipe(z.number().min(min, { error: range }).max(max, { error: range }));
}

/** A switch: on/true/1 or off/false/0 (any case, spaces ignored); unset or blank is `def`. */
export function onOff(def: "on" | "off") {
  return z
    .string()
    .trim()
    .transform((v) => v || def)
    .pipe(
      z.stringbool({
        truthy: ["on", "true", "1"],
        falsy: ["off", "false", "0"],
        error: (iss) => `must be on or off (also true/false, 1/0), got ${JSON.stringify(iss.input)}`,
      }),
    )
    .prefault(def);
}

/** Exactly "true" or "false"; anything else is refused rather than guessed. */
export function trueFalse(def: "true" | "false") {
  return z
    .stringbool({
      truthy: ["true"],
      falsy: ["false"],
      case: "sensitive",
      error: (iss) => `must be true or false, got "${iss.input}"`,
    })
    .prefault(def);
}

/** One of `allowed`; anything else would fail far from the setting. */
export function oneOf<const T extends readonly [string, ...string[]]>(allowed: T) {
  return z.enum(allowed, { error: (iss) => `must be one of ${allowed.join(", ")}, got "${iss.input}"` });
}

/** A host name or address to listen on: no scheme, port or path (those fail later, far from the setting). */
export function hostName() {
  return z
    .string()
    .regex(/^[A-Za-z0-9.:_\-[\]%]+$/, { error: (iss) => `must be a host name or IP address, got "${iss.input}"` });
}

/** Free text (names, keys); optional unless given a default. */
export function text() {
  return z.string();
}

/** A path to an existing file. */
export function existingFile() {
  return z.string().refine((p) => existsSync(p) && statSync(p).isFile(), {
    error: (iss) => `must name an existing file, got "${iss.input}"`,
  });
}

/** A postgres:// or postgresql:// URL (not repeated in the message: it may hold a password). */
export function postgresUrl() {
  return z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" });
}

/** An absolute http(s) URL, without trailing slashes so paths can be appended. */
export function httpUrl() {
  return (
    z
      .url({ error: (iss) => `must be an absolute URL, got "${iss.input}"` })
      // Unparsable text is the check above's to report.
      .refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), {
        error: (iss) => `must be an http or https URL, got "${iss.input}"`,
      })
      .transform((u) => u.replace(/\/+$/, ""))
  );
}

/**
 * The CORS allow-list: "*" or full origins (scheme://host[:port], no path).
 * A browser sends exactly that form, so anything else could never match and
 * would silently allow nothing.
 */
export function originList() {
  const origin = z.string().refine(isOrigin, {
    error: (iss) =>
      `entries must be full origins like https://app.example.com[:port] (scheme, host, optional port, no path or trailing slash), got "${iss.input}"`,
  });
  return z
    .string()
    .transform((raw) =>
      raw
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
    )
    .pipe(z.array(origin))
    .prefault("");
}

function isOrigin(o: string): boolean {
  if (o === "*") return true;
  if (!URL.canParse(o)) return false;
  const url = new URL(o);
  return (url.protocol === "http:" || url.protocol === "https:") && url.origin === o;
}

/**
 * OTLP headers: `key=value` pairs separated by commas (W3C baggage form, values
 * URL-encoded). Checked only for shape; the message never shows them, as they
 * usually carry a collector's API key.
 */
export function keyValueList() {
  return z.string().regex(/^\s*[^\s=,]+\s*=[^,]*(,\s*[^\s=,]+\s*=[^,]*)*$/, {
    error: "must be key=value pairs separated by commas",
  });
}

/** An http(s) URL of a service roomgate sends to (not repeated in the message: it may hold credentials). */
export function collectorUrl() {
  return z.url({ protocol: /^https?$/, error: "must be an http or https URL" });
}
