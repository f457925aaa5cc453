#!/usr/bin/env node
/** `affect`: the command-line entry. Each command group lives in its own module and exports its CommandSpecs. */
import { ConfigError } from '../errors';
import { CommandSpec, parseArgs, usage } from './args';
import { dataCommands } from './data';
import { runCommands } from './run-commands';
import { notebookCommands } from './notebook';
import { weightsCommands } from './weights';
import { backendCommands } from './backend';
import { sweepCommands } from './sweep';
import { predictCommands } from './predict';

export const COMMANDS: CommandSpec[] = [
  ...dataCommands,
  ...runCommands,
  ...notebookCommands,
  ...weightsCommands,
  ...backendCommands,
  ...predictCommands,
  ...sweepCommands,
];

function findCommand(argv: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  let best: CommandSpec | undefined;
  for (const spec of COMMANDS) {
    const n = spec.path.length;
    if (argv.length >= n && spec.path.every((w, i) => argv[i] === w) && (!best || n > best.path.length)) best = spec;
  }
  return best && { spec: best, rest: argv.slice(best.path.length) };
}

export function overview(): string {
  const rows = COMMANDS.map((c) => `  affect ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  return ['usage: affect <command> [options]   (affect <command> --help for its options)', '', ...rows].join('\n');
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    console.log(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    console.error(`affect: unknown command "${argv.join(' ')}"\n\n${overview()}`);
    return 2;
  }
  const { spec, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(usage(spec));
    return 0;
  }
  try {
    const code = await spec.run(parseArgs(spec, rest));
    return code ?? 0;
  } catch (e) {
    // The error's type picks the exit code: bad usage or settings (nothing ran) 2, anything else (a failed run) 1.
    if (e instanceof ConfigError) {
      console.error(`affect ${spec.path.join(' ')}: ${e.message}\n\n${usage(spec)}`);
      return 2;
    }
    console.error(`affect ${spec.path.join(' ')}: ${(e as Error).message}`);
    if (process.env.AFFECT_DEBUG) console.error((e as Error).stack);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
