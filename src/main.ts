#!/usr/bin/env node
/**
 * The `roomgate` command's entry point. It records start-up signals before
 * anything else loads (see StartupStop) and only then loads the CLI, which
 * for `serve` goes on to load the app, whose module graph takes a few
 * hundred milliseconds to read: a SIGTERM in that time is then a clean stop,
 * not a silent death. Only Node's own bootstrap is left unprotected.
 * `src/cli/run.ts` runs on its own as well (tsx).
 */
import "./cluster/startup-stop.js";

await import("./cli/run.js");
