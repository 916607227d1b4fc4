import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The suites that take longest (real processes, load, many rounds), slowest
 * first, as measured on a two-core machine. vitest's own order on a fresh
 * checkout (no timings cached yet) is by file size, which put several of
 * these small files last, each then running alone while the other worker
 * sat idle at the end of the run. A suite missing from this list only
 * loses its head start.
 */
const SLOW_FIRST = [
  "test/e2e/one-view-workers.test.ts",
  "test/e2e/cli-ux.test.ts",
  "test/e2e/cli-maintenance.test.ts",
  "test/e2e/prune-live.test.ts",
  "test/e2e/sigterm-drain.test.ts",
  "test/e2e/sigterm-drain-h2.test.ts",
  "test/e2e/readme-replicas.test.ts",
  "test/bench/http-bench.test.ts",
  "test/e2e/replicas.test.ts",
  "test/e2e/one-view-leases.test.ts",
  "test/e2e/webhooks-replicas.test.ts",
  "test/e2e/client-package.test.ts",
  "test/e2e/login-limits.test.ts",
  "test/e2e/cli.test.ts",
  "test/e2e/one-view-replicas.test.ts",
  "test/e2e/cluster.test.ts",
  "test/e2e/readme-first-minutes.test.ts",
];

/**
 * vitest's order (projects one after the other, so that a worker goes on
 * with the next file of its project without starting afresh), with the
 * slow suites first within each project.
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const projectOrder = new Map<string, number>();
    for (const spec of sorted)
      if (!projectOrder.has(spec.project.name)) projectOrder.set(spec.project.name, projectOrder.size);
    const rank = (spec: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(relative(this.ctx.config.root, spec.moduleId).split("\\").join("/"));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    return sorted
      .map((spec, index) => ({ spec, index, project: projectOrder.get(spec.project.name)!, rank: rank(spec) }))
      .sort((a, b) => a.project - b.project || a.rank - b.rank || a.index - b.index)
      .map((x) => x.spec);
  }
}
