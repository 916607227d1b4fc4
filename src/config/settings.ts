import { z } from "zod";
import type { Setting } from "./env-types.js";
import { HTTP_SETTINGS } from "./settings-http.js";
import { LIMIT_SETTINGS } from "./settings-limits.js";
import { SERVER_SETTINGS } from "./settings-server.js";
import { TELEMETRY_SETTINGS } from "./settings-telemetry.js";

/**
 * Every setting roomgate reads, keyed by its `Config` field, in the order
 * `serve --help` and the README list them: the one place a variable, its
 * type, its default and its meaning are written. `loadConfig` parses it,
 * `serve --help` prints it, and the README table is generated from it
 * (`node scripts/settings-table.mjs`; test/docs/settings-table.test.ts).
 */
export const SETTINGS_SCHEMA = {
  ...SERVER_SETTINGS,
  ...LIMIT_SETTINGS,
  ...HTTP_SETTINGS,
  ...TELEMETRY_SETTINGS,
} satisfies Record<string, Setting>;

/** A setting as an operator reads it (plain text: `serve --help`). */
export interface SettingDoc {
  /** The environment variable. */
  readonly name: string;
  /** The default as an operator reads it ("—": unset). */
  readonly default: string;
  /** What it changes. */
  readonly meaning: string;
}

/** The default of `s` as the README shows it (Markdown). */
export function shownDefault(s: Setting): string {
  if (s.shown !== undefined) return s.shown;
  if (s.type instanceof z.ZodPrefault) {
    const value = String(s.type.def.defaultValue);
    return value === "" ? "—" : `\`${value}\``;
  }
  return "—";
}

/** Markdown to the plain text a terminal shows. */
export function plain(markdown: string): string {
  return markdown.replaceAll("`", "");
}

/** Every setting as `serve --help` lists it. */
export const SETTINGS: readonly SettingDoc[] = Object.values(SETTINGS_SCHEMA).map((s: Setting) => ({
  name: s.env,
  default: plain(shownDefault(s)),
  meaning: plain(s.doc),
}));
