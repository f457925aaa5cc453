/** `affect data split | relabel | synth | fer2013`: the dataset-making tools. */
import { checkOutputOutside } from '../fs';
import type { CommandSpec, OptionSpec, ParsedArgs } from './args';
import { UsageError } from './args';
import { datasplit, formatSplitSummary } from '../data/datasplit';
import { formatRelabelSummary, relabel } from '../data/relabel';
import { synthesizeFaces } from '../data/synth';
import { fer2013ToFolders, foldersToFer2013, formatFer2013Summary } from '../data/fer2013-folders';

/** `--output-path` (alias `--output`): split's and relabel's output folder as an option, the original scripts' flag. */
const OUTPUT_PATH: OptionSpec = {
  name: 'output-path',
  type: 'string',
  description: "the output folder, as an option (the original script's flag)",
  aliases: ['output'],
};

/** The output folder from the <output> argument or --output-path (given once), or undefined when neither is. */
function outputFolder({ positionals, options }: ParsedArgs): string | undefined {
  const flag = options['output-path'] as string | undefined;
  if (positionals[1] && flag && positionals[1] !== flag)
    throw new UsageError('give the output folder once (argument or --output-path)');
  return flag ?? positionals[1];
}

const split: CommandSpec = {
  path: ['data', 'split'],
  summary:
    'split an image folder into train/test per class (seeded), optionally balancing by augmentation; never modifies the input unless --in-place',
  positionals: [
    { name: 'input', description: 'folder with train/<class>/<images> (or <class>/<images>)' },
    { name: 'output', description: 'new or empty output folder (not with --in-place)', optional: true },
  ],
  options: [
    OUTPUT_PATH,
    { name: 'train-split', type: 'number', description: 'fraction of each class for train (> 0.5)', default: 0.8 },
    { name: 'seed', type: 'number', description: 'random seed for the split and the augmentations', default: 27 },
    { name: 'balance-train', type: 'boolean', description: 'augment smaller classes up to the largest in train' },
    { name: 'balance-test', type: 'boolean', description: 'augment smaller classes up to the largest in test' },
    { name: 'balance', type: 'boolean', description: 'both --balance-train and --balance-test' },
    {
      name: 'global-multiplier',
      type: 'number',
      description: 'scale the balancing targets (only with balancing)',
      default: 1,
    },
    {
      name: 'augment',
      type: 'string',
      description: "augmentation pipeline JSON file (default: the study's)",
      aliases: ['pipeline'],
    },
    { name: 'train-csv', type: 'string', description: 'name of the train CSV', default: 'train.csv' },
    { name: 'test-csv', type: 'string', description: 'name of the test CSV', default: 'test.csv' },
    {
      name: 'label-column',
      type: 'string',
      description: 'label column name',
      default: 'label',
      aliases: ['label-col'],
    },
    {
      name: 'filename-column',
      type: 'string',
      description: 'filename column name',
      default: 'filename',
      aliases: ['filename-col'],
    },
    {
      name: 'on-bad-image',
      type: 'string',
      description: 'a non-image file in a class folder',
      choices: ['skip', 'fail'],
      default: 'skip',
    },
    {
      name: 'in-place',
      type: 'boolean',
      description: 'split inside <input> as the original did: moves test images to <input>/test',
    },
  ],
  async run(args) {
    const { positionals, options: o } = args;
    const output = outputFolder(args);
    if (o['in-place'] && output) throw new UsageError('--in-place writes into <input>; do not give an output folder');
    if (!o['in-place'] && !output)
      throw new UsageError('missing argument <output> (or --in-place to split inside <input>)');
    const result = await datasplit({
      input: positionals[0],
      output,
      inPlace: o['in-place'] as boolean | undefined,
      trainSplit: o['train-split'] as number,
      seed: o.seed as number,
      balanceTrain: Boolean(o['balance-train'] || o.balance),
      balanceTest: Boolean(o['balance-test'] || o.balance),
      globalMultiplier: o['global-multiplier'] as number,
      augment: o.augment as string | undefined,
      trainCsv: o['train-csv'] as string,
      testCsv: o['test-csv'] as string,
      labelColumn: o['label-column'] as string,
      filenameColumn: o['filename-column'] as string,
      onBadImage: o['on-bad-image'] as 'skip' | 'fail',
      progress: true,
    });
    console.log(formatSplitSummary(result));
  },
};

const relabelCmd: CommandSpec = {
  path: ['data', 'relabel'],
  summary:
    'copy images into <output>/train/<label>/ by the improved labels in labels.csv, keeping ' +
    'every image (--legacy: exactly what the original relabel.py left)',
  positionals: [
    { name: 'input', description: 'folder with train/<class>/<images> (or <class>/<images>) and labels.csv' },
    { name: 'output', description: 'new or empty output folder', optional: true },
  ],
  options: [
    OUTPUT_PATH,
    {
      name: 'labels',
      type: 'string',
      description: 'labels CSV (columns pth, label), relative to <input>',
      default: 'labels.csv',
      aliases: ['label-csv', 'labels-csv'],
    },
    {
      name: 'on-missing',
      type: 'string',
      description: 'a labels row whose image does not exist',
      choices: ['skip', 'fail'],
      default: 'fail',
    },
    {
      name: 'legacy',
      type: 'boolean',
      description:
        'reproduce the original relabel.py exactly, losing what it lost (same-named images ' +
        "overwrite each other: the study's 29,042 -> 28,664); for regenerating the study's datasets",
    },
    {
      name: 'legacy-report',
      type: 'boolean',
      description: 'also print how many images the original relabel.py would have lost',
    },
  ],
  async run(args) {
    const { positionals, options: o } = args;
    const output = outputFolder(args);
    if (!output) throw new UsageError('missing argument <output>');
    const result = await relabel({
      input: positionals[0],
      output,
      labels: o.labels as string,
      onMissing: o['on-missing'] as 'skip' | 'fail',
      legacy: Boolean(o.legacy),
      progress: true,
    });
    console.log(formatRelabelSummary(result, Boolean(o['legacy-report'])));
  },
};

const synth: CommandSpec = {
  path: ['data', 'synth'],
  summary:
    'render a synthetic face dataset (affect: 8 expressions; mask: WithMask/WithoutMask) in the Kaggle folder layout',
  options: [
    {
      name: 'task',
      type: 'string',
      description: 'which dataset to imitate',
      choices: ['affect', 'mask'],
      required: true,
    },
    { name: 'out', type: 'string', description: 'new or empty output folder', required: true },
    { name: 'per-class', type: 'number', description: 'images per class (mask: per class in Train)', default: 100 },
    { name: 'seed', type: 'number', description: 'random seed', default: 27 },
    { name: 'size', type: 'number', description: 'image side in pixels', default: 96 },
  ],
  async run({ options: o }) {
    const r = await synthesizeFaces({
      task: o.task as 'affect' | 'mask',
      out: o.out as string,
      perClass: o['per-class'] as number,
      seed: o.seed as number,
      size: o.size as number,
    });
    console.log(
      `${r.out}: ${r.files} synthetic images (${Object.entries(r.counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
  },
};

const fer2013: CommandSpec = {
  path: ['data', 'fer2013'],
  summary:
    "convert Kaggle's fer2013.csv to the folder layout train/, test/ (PublicTest), " +
    'private-test/ of class folders of PNGs (--to-folders), or such folders back to a CSV ' +
    '(--to-csv); streaming, nothing lost',
  positionals: [
    {
      name: 'input',
      description:
        '--to-folders: the CSV (emotion,pixels[,Usage]); --to-csv: the folder with train/, test/, private-test/',
    },
    { name: 'output', description: '--to-folders: a new or empty folder; --to-csv: a new CSV file' },
  ],
  options: [
    {
      name: 'to-folders',
      type: 'boolean',
      description: 'CSV -> folders: <split>/<class>/<Usage>_<row>.png, lossless 48x48 gray PNGs',
    },
    {
      name: 'to-csv',
      type: 'boolean',
      description: 'folders -> CSV: emotion,pixels,Usage, Usage from the split folder',
    },
  ],
  async run({ positionals, options: o }) {
    if (Boolean(o['to-folders']) === Boolean(o['to-csv']))
      throw new UsageError('give one of --to-folders (CSV -> folders) or --to-csv (folders -> CSV)');
    const [input, output] = positionals;
    checkOutputOutside({ path: output, what: 'output' }, [{ path: input, what: 'input' }]);
    const result = o['to-folders']
      ? await fer2013ToFolders({ csv: input, output, progress: true })
      : await foldersToFer2013({ input, output, progress: true });
    console.log(formatFer2013Summary(result));
  },
};

export const dataToolsCommands: CommandSpec[] = [split, relabelCmd, synth, fer2013];
