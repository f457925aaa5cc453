/** A run's console output and its copy in run.log, and the progress sinks that feed both. */
import * as fs from 'node:fs';
import { consoleProgress, type ProgressSink } from '../train';

/** A console logger that also appends every line to run.log (the run's tee of its console output). */
export interface RunLog {
  (line: string): void;
  file?: string;
  /** Starts copying into `file` (lines logged before are written first). */
  attach(file: string): void;
}

export function makeRunLog(quiet = false): RunLog {
  const pending: string[] = [];
  const log = ((line: string) => {
    if (!quiet) console.log(line);
    if (log.file) fs.appendFileSync(log.file, line + '\n');
    else pending.push(line);
  }) as RunLog;
  log.attach = (file: string) => {
    log.file = file;
    fs.appendFileSync(
      file,
      pending
        .splice(0)
        .map((l) => l + '\n')
        .join(''),
    );
  };
  return log;
}

/** A progress sink that writes plain lines (no redraws) to run.log only. */
export function fileProgress(log: RunLog): ProgressSink {
  let pending = '';
  return consoleProgress({
    tty: false,
    intervalSeconds: 60,
    stream: {
      write(s: string) {
        pending += s;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        // The console sink shows these; only the file needs them.
        for (const l of lines) if (log.file) fs.appendFileSync(log.file, l + '\n');
      },
    },
  });
}

/** Sends progress to two sinks (the one shown, console or notebook, and run.log). */
export function teeProgress(a: ProgressSink, b: ProgressSink): ProgressSink {
  return {
    trainBegin: (i) => (a.trainBegin?.(i), b.trainBegin?.(i)),
    epochBegin: (e, n, s) => (a.epochBegin?.(e, n, s), b.epochBegin?.(e, n, s)),
    batch: (e, k, s, l) => (a.batch?.(e, k, s, l), b.batch?.(e, k, s, l)),
    epochEnd: (e, l, sec, st) => (a.epochEnd?.(e, l, sec, st), b.epochEnd?.(e, l, sec, st)),
    message: (t) => (a.message(t), b.message(t)),
    trainEnd: () => (a.trainEnd?.(), b.trainEnd?.()),
  };
}
