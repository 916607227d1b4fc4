import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Seconds each of the longest suites took in one project, as measured in a
 * CI run on the two-core machine (2026-12-06, `.ci/run`'s vitest report),
 * keyed "<project> <file>". A suite missing here counts as short.
 */
const MEASURED = new Map<string, number>([
  ["sqlite test/bench/http-bench.test.ts", 79],
  ["postgres test/e2e/one-view-workers.test.ts", 77],
  ["sqlite test/e2e/sigterm-drain.test.ts", 72],
  ["sqlite test/e2e/one-view-workers.test.ts", 54],
  ["sqlite test/e2e/sigterm-drain-h2.test.ts", 53],
  ["sqlite test/e2e/client-package.test.ts", 48],
  ["postgres test/e2e/cli-ux.test.ts", 41],
  ["sqlite test/e2e/startup.test.ts", 39],
  ["postgres test/e2e/access-agreement.test.ts", 35],
  ["postgres test/e2e/replicas.test.ts", 27],
  ["postgres test/store/repositories.test.ts", 25],
  ["sqlite test/e2e/replicas.test.ts", 24],
  ["postgres test/e2e/lapses.test.ts", 23],
  ["postgres test/e2e/one-view-leases.test.ts", 23],
  ["sqlite test/bench/access-bench.test.ts", 22],
  ["sqlite test/e2e/cli-ux.test.ts", 22],
  ["postgres test/e2e/cli-maintenance.test.ts", 22],
  ["sqlite test/e2e/cli-maintenance.test.ts", 21],
  ["sqlite test/e2e/access-agreement.test.ts", 20],
  ["postgres test/e2e/readme-replicas.test.ts", 19],
  ["postgres test/e2e/login-limits.test.ts", 16],
  ["postgres test/e2e/role-expiry-live.test.ts", 15],
  ["postgres test/e2e/prune-live.test.ts", 15],
  ["postgres test/e2e/access-one-view.test.ts", 14],
  ["postgres test/e2e/cli.test.ts", 13],
  ["sqlite test/e2e/role-expiry-live.test.ts", 13],
  ["sqlite test/e2e/lapses.test.ts", 12],
  ["postgres test/e2e/cluster.test.ts", 12],
  ["postgres test/e2e/startup.test.ts", 12],
  ["postgres test/e2e/page-tokens.test.ts", 12],
  ["postgres test/e2e/moderation.test.ts", 12],
  ["postgres test/e2e/webhooks-replicas.test.ts", 11],
  ["sqlite test/e2e/one-view-leases.test.ts", 11],
  ["sqlite test/e2e/prune-live.test.ts", 11],
  ["postgres test/domain/users.test.ts", 11],
  ["sqlite test/e2e/access-one-view.test.ts", 10],
  ["postgres test/e2e/spaces-management-paging.test.ts", 10],
  ["postgres test/e2e/one-view-replicas.test.ts", 9],
]);

/** A suite this long or longer starts in the first phase (see {@link SlowFirstSequencer}). */
const LONG_SECONDS = 10;

/**
 * Two phases, each project by project: first every long suite of every
 * project, longest first within its project; then the short ones in
 * vitest's order. Taking the projects one after the other with the slow
 * suites first within each (vitest's order) left the long suites of the
 * last project for the end, each running alone while the other workers sat
 * idle: 634 s for 478 s of suites per worker. Fully longest-first across
 * projects (the longest-processing-time rule) fixed the tail but moved
 * workers from project to project some thirty times, and each move is a
 * fresh worker importing everything again: import time went from 82 s to
 * 165 s. Two phases move a worker between projects a handful of times and
 * still end on short suites only.
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const projectOrder = new Map<string, number>();
    for (const spec of sorted)
      if (!projectOrder.has(spec.project.name)) projectOrder.set(spec.project.name, projectOrder.size);
    const seconds = (spec: TestSpecification): number =>
      MEASURED.get(`${spec.project.name} ${relative(this.ctx.config.root, spec.moduleId).split("\\").join("/")}`) ?? 0;
    return sorted
      .map((spec, index) => {
        const s = seconds(spec);
        return {
          spec,
          index,
          seconds: s,
          phase: s >= LONG_SECONDS ? 0 : 1,
          project: projectOrder.get(spec.project.name)!,
        };
      })
      .sort((a, b) => a.phase - b.phase || a.project - b.project || b.seconds - a.seconds || a.index - b.index)
      .map((x) => x.spec);
  }
}
