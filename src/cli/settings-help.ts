import { SETTINGS } from "../config/settings.js";

/** The settings table as `serve --help` prints it: name, default, meaning. */
export function settingsHelp(): string {
  const width = Math.max(...SETTINGS.map((s) => s.name.length));
  const rows = SETTINGS.map((s) => `  ${s.name.padEnd(width)}  ${s.meaning} (default: ${s.default})`);
  return ["", "Settings (environment variables):", ...rows].join("\n");
}
