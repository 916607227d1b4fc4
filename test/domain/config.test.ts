import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { SETTINGS } from "../../src/config/settings.js";

/** Catches the ConfigError `loadConfig(env)` throws. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("config validation names the setting", () => {
  it("refuses an unknown LOG_LEVEL and lists the levels", () => {
    const err = configError({ LOG_LEVEL: "verbose" });
    expect(err.message).toBe('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
    expect(loadConfig({ LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(loadConfig({}).logLevel).toBe("info");
  });

  it.each([
    "example.com",
    "https://example.com/",
    "https://example.com/app",
    "ftp://example.com",
    "https://example.com?x=1",
    "https://user@example.com",
    "http://",
  ])("refuses the CORS origin %s", (origin) => {
    const err = configError({ ROOMGATE_CORS_ORIGINS: `https://ok.example, ${origin}` });
    expect(err.message).toContain("ROOMGATE_CORS_ORIGINS");
    expect(err.message).toContain(origin);
  });

  it("ROOMGATE_FAST_PATH: on by default; off/false/0 (any case) turn it off; anything else is refused by name", () => {
    expect(loadConfig({}).fastPath).toBe(true);
    expect(loadConfig({ ROOMGATE_FAST_PATH: "" }).fastPath).toBe(true);
    for (const v of ["on", "true", "1", "ON"]) expect(loadConfig({ ROOMGATE_FAST_PATH: v }).fastPath).toBe(true);
    for (const v of ["off", "false", "0", "Off", " FALSE "])
      expect(loadConfig({ ROOMGATE_FAST_PATH: v }).fastPath).toBe(false);
    expect(configError({ ROOMGATE_FAST_PATH: "maybe" }).message).toContain("ROOMGATE_FAST_PATH");
  });

  it("accepts full origins, with ports, and *", () => {
    expect(
      loadConfig({ ROOMGATE_CORS_ORIGINS: "https://app.example.com, http://localhost:5173,*" }).corsOrigins,
    ).toEqual(["https://app.example.com", "http://localhost:5173", "*"]);
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });

  it("names the setting for numbers, URLs, files and hosts", () => {
    expect(configError({ PORT: "http" }).message).toContain("PORT");
    expect(configError({ ROOMGATE_MAX_BATCH: "0" }).message).toContain("ROOMGATE_MAX_BATCH");
    expect(configError({ ROOMGATE_DATABASE_URL: "mysql://x" }).message).toContain("ROOMGATE_DATABASE_URL");
    expect(configError({ ROOMGATE_PUBLIC_URL: "localhost" }).message).toContain("ROOMGATE_PUBLIC_URL");
    expect(
      configError({ ROOMGATE_TLS_CERT: "/nonexistent/cert.pem", ROOMGATE_TLS_KEY: "/nonexistent/key.pem" }).message,
    ).toContain("ROOMGATE_TLS_CERT");
    expect(configError({ HOST: "http://0.0.0.0" }).message).toContain("HOST");
    expect(loadConfig({ HOST: "::1" }).host).toBe("::1");
  });
});

describe("the settings table (serve --help, README)", () => {
  const source = readFileSync(new URL("../../src/config/config.ts", import.meta.url), "utf8");
  const read = new Set([...source.matchAll(/"((?:ROOMGATE_|PORT|HOST|LOG_LEVEL)[A-Z_]*)"/g)].map((m) => m[1]!));
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const settingsSection = readme.slice(
    readme.indexOf("## Settings"),
    readme.indexOf("\n## ", readme.indexOf("## Settings") + 1),
  );

  it("has a row for every variable config.ts reads, and no other", () => {
    expect(new Set(SETTINGS.map((s) => s.name))).toEqual(read);
  });

  it("matches the README settings table: every name with its default", () => {
    for (const s of SETTINGS) {
      const row = settingsSection
        .split("\n")
        .find((l) => l.startsWith("|") && l.split("|")[1]!.includes(`\`${s.name}\``));
      expect(row, `README settings table lacks ${s.name}`).toBeDefined();
      const shownDefault = row!.split("|")[2]!.replaceAll("`", "").trim();
      expect(
        shownDefault.startsWith(s.default) || shownDefault === s.default,
        `${s.name}: README default "${shownDefault}" vs "${s.default}"`,
      ).toBe(true);
    }
  });
});
