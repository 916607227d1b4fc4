import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { settingsHelp } from "../../src/cli/settings-help.js";
import { SETTINGS } from "../../src/config/settings.js";
import { findSettingsTable, settingsTable, withSettingsTable } from "../../src/config/settings-table.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("the settings table generated from the config schema", () => {
  it("is the README's table, exactly (npm run docs:settings rewrites it)", () => {
    const at = findSettingsTable(readme);
    expect(at, 'README has a table under "## Settings"').toBeDefined();
    expect(readme.slice(at!.start, at!.end)).toBe(settingsTable());
    expect(withSettingsTable(readme)).toBe(readme);
  });

  it("has one row per setting, with its default", () => {
    const rows = settingsTable().split("\n").slice(2);
    expect(rows.map((r) => r.split("|")[1]!.trim())).toEqual(SETTINGS.map((s) => `\`${s.name}\``));
  });

  it("is what serve --help lists: every setting with its default and meaning", () => {
    const help = settingsHelp();
    const lines = help.split("\n");
    for (const s of SETTINGS) {
      const at = lines.indexOf(`  ${s.name} (default: ${s.default})`);
      expect(at, `serve --help lacks ${s.name}`).toBeGreaterThan(0);
      const wrapped: string[] = [];
      for (let i = at + 1; lines[i]?.startsWith("      "); i++) wrapped.push(lines[i]!.trim());
      const meaning = wrapped.join(" ");
      expect(meaning).toBe(s.meaning);
    }
  });
});
