/** `affect data ...`: dataset tools (scan, verify, split, relabel, synth). */
import type { CommandSpec } from './args';
import { dataIoCommands } from './data-io';
import { dataToolsCommands } from './data-tools';

export const dataCommands: CommandSpec[] = [...dataIoCommands, ...dataToolsCommands];
