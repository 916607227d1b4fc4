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

describe("OTEL_* settings", () => {
  it("default to tracing off, roomgate, 10 s, no compression", () => {
    const c = loadConfig({});
    expect([c.otelEndpoint, c.otelTracesEndpoint, c.otelHeaders]).toEqual([undefined, undefined, undefined]);
    expect([c.otelServiceName, c.otelTimeoutMs, c.otelCompression]).toEqual(["roomgate", 10_000, "none"]);
  });

  it("are checked at start and named, never echoing headers or URLs", () => {
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }).message).toContain(
      "OTEL_EXPORTER_OTLP_ENDPOINT",
    );
    expect(configError({ OTEL_EXPORTER_OTLP_TIMEOUT: "10s" }).message).toContain("OTEL_EXPORTER_OTLP_TIMEOUT");
    expect(configError({ OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" }).message).toContain("gzip");
    const headers = configError({ OTEL_EXPORTER_OTLP_HEADERS: "secret-api-key" }).message;
    expect(headers).toContain("OTEL_EXPORTER_OTLP_HEADERS");
    expect(headers).not.toContain("secret-api-key");
    const c = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc, tenant=t%201",
      OTEL_SERVICE_NAME: "edge",
    });
    expect([c.otelEndpoint, c.otelHeaders, c.otelServiceName]).toEqual([
      "http://collector:4318",
      "x-api-key=abc, tenant=t%201",
      "edge",
    ]);
  });
});

describe("the settings schema", () => {
  it("is the only place loadConfig reads the environment from", () => {
    const read = new Set<string>();
    const env = new Proxy({} as NodeJS.ProcessEnv, {
      get: (_, name) => {
        if (typeof name === "string") read.add(name);
        return undefined;
      },
    });
    loadConfig(env);
    expect(read).toEqual(new Set(SETTINGS.map((s) => s.name)));
  });

  it("names each variable once, and every one has a meaning and a default", () => {
    const names = SETTINGS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(50);
    for (const s of SETTINGS) {
      expect(s.meaning, s.name).not.toBe("");
      expect(s.default, s.name).not.toBe("");
    }
  });
});
