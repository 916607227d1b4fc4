import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each of the longest suites took in one project, as measured in a
 * CI run on the two-core machine (2026-12-06, `.ci/run`'s vitest report),
 * keyed "<project> <file>". A suite missing here counts as short.
 */
const MEASURED = new Map<string, number>([
  ["postgres test/e2e/one-view-workers.test.ts", 91],
  ["sqlite test/bench/http-bench.test.ts", 65],
  ["sqlite test/e2e/sigterm-drain.test.ts", 56],
  ["sqlite test/e2e/one-view-workers.test.ts", 54],
  ["sqlite test/e2e/sigterm-drain-h2.test.ts", 52],
  ["postgres test/e2e/cli-ux.test.ts", 47],
  ["sqlite test/e2e/client-package.test.ts", 47],
  ["sqlite test/e2e/startup.test.ts", 46],
  ["postgres test/e2e/replicas.test.ts", 45],
  ["sqlite test/e2e/cli-ux.test.ts", 41],
  ["postgres test/e2e/cli-maintenance.test.ts", 31],
  ["postgres test/store/repositories.test.ts", 30],
  ["postgres test/e2e/one-view-leases.test.ts", 30],
  ["postgres test/e2e/access-agreement.test.ts", 28],
  ["postgres test/e2e/prune-live.test.ts", 28],
  ["postgres test/e2e/lapses.test.ts", 25],
  ["sqlite test/e2e/cli-maintenance.test.ts", 24],
  ["sqlite test/bench/access-bench.test.ts", 23],
  ["sqlite test/e2e/replicas.test.ts", 22],
  ["postgres test/e2e/readme-replicas.test.ts", 22],
  ["postgres test/e2e/access-one-view.test.ts", 17],
  ["sqlite test/e2e/access-agreement.test.ts", 16],
  ["postgres test/e2e/login-limits.test.ts", 16],
  ["sqlite test/e2e/prune-live.test.ts", 16],
  ["postgres test/e2e/role-expiry-live.test.ts", 16],
  ["sqlite test/e2e/login-limits.test.ts", 15],
  ["postgres test/e2e/moderation.test.ts", 15],
  ["postgres test/e2e/cluster.test.ts", 14],
  ["sqlite test/e2e/one-view-leases.test.ts", 14],
  ["sqlite test/e2e/concurrent-start.test.ts", 13],
  ["postgres test/e2e/startup.test.ts", 13],
  ["postgres test/e2e/webhooks-replicas.test.ts", 13],
  ["sqlite test/e2e/cli.test.ts", 13],
  ["sqlite test/e2e/lapses.test.ts", 13],
]);

/**
 * Longest first across all projects (the longest-processing-time rule):
 * each of the long suites starts as soon as a worker is free, and the
 * short ones fill in at the end, so no long suite runs alone while the
 * other workers sit idle. Taking the projects one after the other instead
 * (vitest's order, the slow suites first within each) left the slow suites
 * of the last project for the end: the run took 634 s for 478 s of suites
 * per worker. Switching a worker between projects costs a fresh worker (a
 * second or two of imports), which the measured suites amply repay; the
 * short suites keep vitest's order, project by project.
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const seconds = (spec: TestSpecification): number =>
      MEASURED.get(`${spec.project.name} ${relative(this.ctx.config.root, spec.moduleId).split("\\").join("/")}`) ?? 0;
    return sorted
      .map((spec, index) => ({ spec, index, seconds: seconds(spec) }))
      .sort((a, b) => b.seconds - a.seconds || a.index - b.index)
      .map((x) => x.spec);
  }
}
