/** `affect data scan|verify|manifests`: look at image folders and check downloads against the dataset manifests. */
import * as path from 'node:path';
import type { CommandSpec } from './args';
import { INCOMPLETE_MARKER, isIncomplete } from '../data/outdir';
import { findManifest, formatVerifyTable, listManifests, verifyDataset } from '../data/manifest';
import { formatScanSummary, scanImageFolder, type OnBadImage } from '../data/scan';

export const dataIoCommands: CommandSpec[] = [
  {
    path: ['data', 'scan'],
    summary: 'scan an image folder (<dir>/<class>/<images>): class order, counts per class, bad files',
    positionals: [{ name: 'dir', description: 'folder with one subfolder per class' }],
    options: [
      {
        name: 'on-bad-image',
        type: 'string',
        choices: ['skip', 'fail'],
        default: 'skip',
        description: 'skip (and list) files that are not readable images, or fail on the first',
      },
    ],
    async run(args) {
      const dir = args.positionals[0];
      const r = await scanImageFolder(dir, { onBadImage: args.options['on-bad-image'] as OnBadImage });
      console.log(formatScanSummary(r));
      for (const d of [dir, path.dirname(path.resolve(dir))]) {
        if (isIncomplete(d))
          console.error(
            `warning: ${d} holds ${INCOMPLETE_MARKER}: a data tool did not finish writing it, so these ` +
              `counts may be short; rerun that command to finish it (affect run refuses this folder ` +
              `meanwhile)`,
          );
      }
      return 0;
    },
  },
  {
    path: ['data', 'verify'],
    summary:
      'compare a downloaded dataset with its manifest (expected vs found per split and class); exit 1 on mismatch',
    positionals: [
      { name: 'manifest', description: 'a manifest name (see `affect data manifests`) or a manifest JSON file' },
      { name: 'dir', description: 'the dataset folder' },
    ],
    options: [],
    async run(args) {
      const r = await verifyDataset(findManifest(args.positionals[0]), args.positionals[1]);
      console.log(formatVerifyTable(r));
      return r.ok ? 0 : 1;
    },
  },
  {
    path: ['data', 'manifests'],
    summary: 'list the known datasets with their Kaggle download commands',
    options: [],
    async run() {
      for (const m of listManifests()) {
        const total = m.splits.map((s) => `${s.name} ${s.total ?? '?'}`).join(', ');
        console.log(
          `${m.name}: ${m.title} (${total})\n  ${m.kaggle.command ?? `no Kaggle slug known: ${m.kaggle.source}`}`,
        );
      }
      return 0;
    },
  },
];
