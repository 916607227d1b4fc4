#!/usr/bin/env node
/**
 * Runs dependency-cruiser (the import rules in .dependency-cruiser.cjs) with
 * a TypeScript compiler API it can use:
 *
 *   node scripts/depcruise.mjs src --config .dependency-cruiser.cjs
 *
 * Why by hand: roomgate compiles with TypeScript 7, whose npm package is the
 * native compiler with no JavaScript compiler API, and dependency-cruiser 17
 * parses TypeScript with that API (it accepts typescript >=2 <7; without it
 * it silently cruises 0 modules). This launcher points dependency-cruiser's
 * `typescript` (its `import()` and its `require` of package.json) at the
 * TypeScript 5 that @bufbuild/protoplugin pins for protoc-gen-es. Drop it
 * when dependency-cruiser reads TypeScript 7, or when a TypeScript 6 is a
 * devDependency of its own.
 */
import Module, { createRequire, register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const fromProtoplugin = createRequire(require.resolve("@bufbuild/protoplugin"));
const tsMain = fromProtoplugin.resolve("typescript");
const tsManifest = path.join(path.dirname(fromProtoplugin.resolve("typescript/package.json")), "package.json");
const version = fromProtoplugin("typescript/package.json").version;
if (Number(version.split(".")[0]) >= 7) {
  console.error(`scripts/depcruise.mjs: found TypeScript ${version}; dependency-cruiser needs < 7`);
  process.exit(2);
}

// require("typescript") and require("typescript/package.json") (its version check).
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "typescript") return tsMain;
  if (request === "typescript/package.json") return tsManifest;
  return resolveFilename.call(this, request, ...rest);
};

// import("typescript").
const hook = `export async function resolve(specifier, context, next) {
  if (specifier === "typescript") return { url: ${JSON.stringify(pathToFileURL(tsMain).href)}, shortCircuit: true };
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

await import(new URL("../../bin/dependency-cruise.mjs", import.meta.resolve("dependency-cruiser")).href);
