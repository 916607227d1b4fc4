/** Where progress goes: process.stderr, or anything with `write` (tests). */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

const n = (x: number) => x.toLocaleString("en-US");

/** `pruned 45,000/120,000 grants (37%)`; the percentage is rounded down, so 100% means all. */
export function progressLine(verb: string, done: number, total: number, what: string): string {
  const pct = total === 0 ? 100 : Math.floor((done * 100) / total);
  return `${verb} ${n(done)}/${n(total)} ${what} (${pct}%)`;
}

/**
 * Progress of a long CLI job on stderr. On a terminal one line is rewritten
 * in place (`\r`, then erase to the end of the line); anywhere else — a
 * pipe, a log file, CI — every update is its own line, so nothing is lost.
 */
export class Progress {
  private open = false;

  constructor(private readonly stream: ProgressStream) {}

  /** Shows `line`, replacing the previous one on a terminal. */
  update(line: string): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\u001b[K`);
      this.open = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the line being rewritten, if any, so the next output starts clean. */
  end(): void {
    if (this.open) this.stream.write("\n");
    this.open = false;
  }
}
