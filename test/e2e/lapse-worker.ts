// Runs as a child process of lapses.test.ts: a second connection to a
// server's data dir that lapses due restrictions at the same time as others.
import { EventBus } from "../../src/domain/events/event-bus.js";
import { RestrictionLapses } from "../../src/domain/moderation/lapses.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { openStore, writeTransaction } from "../../src/store/db.js";
import { SqliteJournal } from "../../src/store/journal-store.js";
import { SqliteModerationStore } from "../../src/store/moderation-store.js";

/** What the test sends (argv[2], JSON); the run starts on the "go" message. */
export interface LapseWorkerInput {
  readonly dbPath: string;
  readonly now: number;
}

/** What the worker answers: the ids of the lapse events it wrote. */
export interface LapseWorkerOutput {
  readonly eventIds: number[];
}

const input = JSON.parse(process.argv[2]!) as LapseWorkerInput;
const store = openStore(input.dbPath);
const lapses = new RestrictionLapses({
  store: new SqliteModerationStore(store.db),
  journal: new SqliteJournal(store.db),
  transact: (fn) => writeTransaction(store.db, fn),
  bus: new EventBus(),
  restrictions: new RestrictionIndex(),
  clock: () => input.now,
});
process.once("message", () => {
  const eventIds = lapses.runDue(input.now).map((e) => e.id);
  store.close();
  process.send!({ eventIds } satisfies LapseWorkerOutput, () => process.disconnect());
});
process.send!("ready");
