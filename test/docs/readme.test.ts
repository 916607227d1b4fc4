import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { permissionName } from "../../src/domain/permissions.js";
import { ROLES } from "../../src/domain/roles.js";
import { loadConfig } from "../../src/config/config.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The README's roles table as src/domain/roles.ts defines it. */
function rolesTable(): string {
  const groups = [100, 200, 300, 400, 500, 600, 700, 800];
  const rows = Object.values(ROLES).map((r) => {
    const perms: number[] = [...r.permissions];
    const shown = groups.filter((g) => perms.includes(g)).map((g) => permissionName(g));
    for (const p of perms) {
      const group = Math.floor(p / 100) * 100;
      if (!perms.includes(group)) shown.push(permissionName(p));
    }
    return `| \`${r.name}\` | ${r.scope} | ${r.description} | ${shown.map((s) => `\`${s}\``).join(", ")} |`;
  });
  return ["| Role | Scope | For | Permissions (groups imply their range) |", "|---|---|---|---|", ...rows].join("\n");
}

describe("README", () => {
  it("shows the roles table exactly as the code defines it", () => {
    expect(readme).toContain(rolesTable());
  });

  it("documents every setting the service reads", () => {
    const source = readFileSync(new URL("../../src/config/config.ts", import.meta.url), "utf8");
    const names = new Set([...source.matchAll(/"((?:ROOMGATE_|PORT|HOST|LOG_LEVEL)[A-Z_]*)"/g)].map((m) => m[1]!));
    expect(names.size).toBeGreaterThan(10);
    for (const n of names) expect(readme, `README settings table lacks ${n}`).toContain(`\`${n}\``);
    expect(loadConfig({}).port).toBe(8080);
  });

  it("keeps the two quick-start commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
