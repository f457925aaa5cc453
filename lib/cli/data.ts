/** `affect data ...`: dataset tools (scan, verify, split, relabel, synth). */
import type { CommandSpec } from './args';

export const dataCommands: CommandSpec[] = [];
