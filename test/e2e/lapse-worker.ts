// Runs as a child process of lapses.test.ts: a second connection to a
// server's store (its SQLite file, or its PostgreSQL database) that lapses
// due restrictions at the same time as others.
import { EventBus } from "../../src/domain/events/event-bus.js";
import { RestrictionLapses } from "../../src/domain/moderation/lapses.js";
import type { Database } from "../../src/store/database-port.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { SqlModerationStore } from "../../src/store/moderation-store.js";
import { openPostgres } from "../../src/store/pg/connect.js";
import { postgresDatabase } from "../../src/store/pg/postgres-database.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";

/** What the test sends (argv[2], JSON); the run starts on the "go" message. */
export interface LapseWorkerInput {
  /** The server's SQLite file (used when there is no `databaseUrl`). */
  readonly dbPath: string;
  /** The server's PostgreSQL database, when that is its store. */
  readonly databaseUrl?: string;
  readonly now: number;
}

/** What the worker answers: the ids of the lapse events it wrote. */
export interface LapseWorkerOutput {
  readonly eventIds: number[];
}

const input = JSON.parse(process.argv[2]!) as LapseWorkerInput;

async function open(): Promise<Database> {
  if (input.databaseUrl === undefined) return openSqliteDatabase(input.dbPath);
  const handle = await openPostgres(input.databaseUrl);
  return postgresDatabase(handle.pool, () => handle.close());
}

const db = await open();
const lapses = new RestrictionLapses({
  store: new SqlModerationStore(db),
  transact: (fn) => db.write(fn),
  // This process keeps no live state: nothing to apply after a commit.
  sink: { journal: new SqlJournal(db), feed: { catchUp: async () => 0 } },
  bus: new EventBus(),
  clock: () => input.now,
});
process.once("message", () => {
  void (async () => {
    const eventIds = (await lapses.runDue(input.now)).map((e) => e.id);
    await db.close();
    process.send!({ eventIds } satisfies LapseWorkerOutput, () => process.disconnect());
  })();
});
process.send!("ready");
