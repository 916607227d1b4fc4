#!/usr/bin/env node
/**
 * The path the package has always shipped the CLI at (`dist/src/cli.js`:
 * scripts and the pack test run it); the CLI itself is src/cli/run.ts, and
 * the bin is src/main.ts.
 */
import "./cli/run.js";
