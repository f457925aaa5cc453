/** A progress line on stderr for long data tools: in place on a terminal (count, rate, ETA), a plain line every few seconds otherwise. */
import { formatSeconds } from '../duration';

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Seconds between lines when the stream is not a terminal. Default 5. */
  everySeconds?: number;
}

/** The data tools' `progress` option (true, options, or off) as a Progress, or undefined when off. */
export function progressBar(
  label: string,
  total: number,
  opt: boolean | ProgressOptions | undefined,
): Progress | undefined {
  if (!opt) return undefined;
  return new Progress(label, total, opt === true ? {} : opt);
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private last = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly every: number;

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.every = (opts.everySeconds ?? 5) * 1000;
  }

  /** The current status line, e.g. "split 120/400 (30%) 85.2/s ETA 0:03". */
  line(): string {
    const secs = (Date.now() - this.start) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const pct = this.total ? Math.floor((100 * this.done) / this.total) : 100;
    return (
      `${this.label} ${this.done}/${this.total} (${pct}%) ${rate.toFixed(1)}/s ETA ` +
      `${formatSeconds(rate > 0 ? (this.total - this.done) / rate : NaN)}`
    );
  }

  tick(n = 1): void {
    this.done += n;
    const now = Date.now();
    if (now - this.last < (this.tty ? 100 : this.every)) return;
    this.last = now;
    this.stream.write(this.tty ? `\r${this.line()}\x1b[K` : `${this.line()}\n`);
  }

  /** Prints the final line. */
  finish(): void {
    this.stream.write(this.tty ? `\r${this.line()}\x1b[K\n` : `${this.line()}\n`);
  }
}
