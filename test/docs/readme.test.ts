import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { permissionName } from "../../src/domain/permissions.js";
import { ROLES } from "../../src/domain/roles.js";
import { loadConfig } from "../../src/config/config.js";
import { SETTINGS } from "../../src/config/settings.js";
import { SERVED_SERVICES } from "../../src/server/routes.js";

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
    const names = new Set(SETTINGS.map((s) => s.name));
    expect(names.size).toBeGreaterThan(10);
    for (const n of names) expect(readme, `README settings table lacks ${n}`).toContain(`\`${n}\``);
    expect(loadConfig({}).port).toBe(8080);
  });

  it("lists every served service with every one of its methods in the surfaces table", () => {
    const table = readme.slice(
      readme.indexOf("## Surfaces"),
      readme.indexOf("API key: `Authorization: Bearer <API key>`"),
    );
    const rows = table.split("\n").filter((l) => l.startsWith("| `"));
    for (const service of SERVED_SERVICES) {
      const row = rows.find((r) => r.split("|")[1]!.includes(`\`${service.typeName}\``));
      expect(row, `README surfaces table lacks ${service.typeName}`).toBeDefined();
      const calls = row!.split("|")[2]!;
      for (const m of service.methods)
        expect(calls, `README surfaces row of ${service.typeName} lacks ${m.name}`).toContain(`\`${m.name}\``);
    }
    // And no row names a service or call that does not exist.
    const served = new Set(SERVED_SERVICES.map((s) => s.typeName));
    for (const r of rows)
      for (const [, name] of r.split("|")[1]!.matchAll(/`([^`]+)`/g))
        expect(served.has(name!), `README names unknown service ${name}`).toBe(true);
  });

  it("keeps the two quick-start commands", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
