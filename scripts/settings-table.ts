// Rewrites the README's settings table from the config schema (src/config/settings*.ts).
//   tsx scripts/settings-table.ts           rewrite README.md in place
//   tsx scripts/settings-table.ts --check   exit 1 when README.md is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { withSettingsTable } from "../src/config/settings-table.js";

const path = new URL("../README.md", import.meta.url);
const readme = readFileSync(path, "utf8");
const next = withSettingsTable(readme);
if (process.argv.includes("--check")) {
  if (next !== readme) {
    console.error("README.md settings table is out of date: run npm run docs:settings");
    process.exit(1);
  }
} else if (next !== readme) {
  writeFileSync(path, next);
  console.log("README.md: settings table rewritten");
} else {
  console.log("README.md: settings table up to date");
}
