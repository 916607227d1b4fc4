import type { Setting } from "./env-types.js";
import { SETTINGS_SCHEMA, shownDefault } from "./settings.js";

/** The heading of the README section the table lives in. */
export const SETTINGS_HEADING = "## Settings";

/**
 * The README's settings table, generated from {@link SETTINGS_SCHEMA}:
 * columns padded to one width, as a Markdown formatter leaves them.
 */
export function settingsTable(): string {
  const rows = Object.values(SETTINGS_SCHEMA).map((s: Setting) => [`\`${s.env}\``, shownDefault(s), s.doc]);
  const header = ["Variable", "Default", "Meaning"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Where the table sits in `readme`: its first and past-last character, or undefined when absent. */
export function findSettingsTable(readme: string): { start: number; end: number } | undefined {
  const section = readme.indexOf(`\n${SETTINGS_HEADING}\n`);
  if (section < 0) return undefined;
  const start = readme.indexOf("\n|", section);
  const next = readme.indexOf("\n## ", section + 1);
  if (start < 0 || (next >= 0 && start > next)) return undefined;
  let end = start + 1;
  while (readme.startsWith("|", end)) {
    const eol = readme.indexOf("\n", end);
    end = eol < 0 ? readme.length : eol + 1;
  }
  return { start: start + 1, end: end === readme.length ? end : end - 1 };
}

/** `readme` with its settings table replaced by the generated one. */
export function withSettingsTable(readme: string): string {
  const at = findSettingsTable(readme);
  if (at === undefined) throw new Error(`README has no table under "${SETTINGS_HEADING}"`);
  return readme.slice(0, at.start) + settingsTable() + readme.slice(at.end);
}
