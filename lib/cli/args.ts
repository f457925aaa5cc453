/** A small, strict command-line parser shared by every `affect` command: typed options, `--help`, and errors that name the bad option. */
import * as fs from 'node:fs';
import { ConfigError } from '../errors';

export type OptionType = 'string' | 'number' | 'boolean' | 'list';

export interface OptionSpec {
  name: string;
  type: OptionType;
  description: string;
  /** Accepted values for a string option; anything else is an error that lists them. */
  choices?: readonly string[];
  default?: string | number | boolean | string[];
  /** Other spellings accepted for this option (e.g. the original datasplit's documented flags). */
  aliases?: string[];
  required?: boolean;
}

export interface CommandSpec {
  /** Words after `affect`, e.g. `['data', 'split']`. */
  path: string[];
  summary: string;
  /** Positional arguments, in order, for the usage line and help. */
  positionals?: { name: string; description: string; optional?: boolean }[];
  options: OptionSpec[];
  run(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | number | boolean | string[] | undefined>;
  /** Options given on the command line (canonical names), as opposed to filled in from their defaults. */
  given?: Set<string>;
}

/** Bad command-line usage (its message names the flag); a ConfigError, so the CLI prints it with the usage and exits 2. */
export class UsageError extends ConfigError {
  override name = 'UsageError';
}

/** The text of the file an option names; an unreadable one is a UsageError naming the option, the file and why. */
export function readOptionFile(option: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `--${option} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const o of spec.options) {
    byName.set(o.name, o);
    for (const a of o.aliases ?? []) byName.set(a, o);
  }
  const options: ParsedArgs['options'] = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = arg.slice(2, eq < 0 ? undefined : eq);
    const opt = byName.get(key);
    if (!opt) {
      const known = spec.options.map((o) => `--${o.name}`).join(', ');
      throw new UsageError(`unknown option --${key}; accepted options: ${known || '(none)'}`);
    }
    given.add(opt.name);
    if (opt.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`option --${key} takes no value`);
      options[opt.name] = true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`option --${key} needs a value`);
    options[opt.name] = convert(opt, key, raw, options[opt.name]);
  }
  for (const o of spec.options) {
    if (options[o.name] === undefined && o.default !== undefined) options[o.name] = o.default;
    if (o.required && options[o.name] === undefined) throw new UsageError(`option --${o.name} is required`);
  }
  const required = (spec.positionals ?? []).filter((p) => !p.optional);
  if (positionals.length < required.length) {
    throw new UsageError(`missing argument <${required[positionals.length].name}>`);
  }
  if (positionals.length > (spec.positionals ?? []).length) {
    throw new UsageError(`unexpected argument "${positionals[(spec.positionals ?? []).length]}"`);
  }
  return { positionals, options, given };
}

function convert(
  opt: OptionSpec,
  key: string,
  raw: string,
  previous: ParsedArgs['options'][string],
): string | number | string[] {
  if (opt.type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`option --${key} needs a number, got "${raw}"`);
    return n;
  }
  if (opt.type === 'list') return [...((previous as string[] | undefined) ?? []), raw];
  if (opt.choices && !opt.choices.includes(raw)) {
    throw new UsageError(`option --${key}: "${raw}" is not accepted; accepted values: ${opt.choices.join(', ')}`);
  }
  return raw;
}

export function usage(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`)).join(' ');
  const lines = [`usage: affect ${spec.path.join(' ')}${pos ? ' ' + pos : ''} [options]`, '', spec.summary, ''];
  for (const p of spec.positionals ?? []) lines.push(`  ${p.name.padEnd(24)} ${p.description}`);
  for (const o of spec.options) {
    const flag = `--${o.name}${o.type === 'boolean' ? '' : ` <${o.choices ? o.choices.join('|') : o.type}>`}`;
    const dflt =
      o.default !== undefined ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : o.default})` : '';
    const alias = o.aliases?.length ? ` (also ${o.aliases.map((a) => '--' + a).join(', ')})` : '';
    lines.push(`  ${flag.padEnd(24)} ${o.description}${dflt}${alias}`);
  }
  lines.push(`  ${'--help'.padEnd(24)} show this help`);
  return lines.join('\n');
}
