/** `affect backend`: which tfjs backend this machine gets, with threads, SIMD, the native addon and what was skipped. */
import type { CommandSpec } from './args';
import { BACKEND_NAMES, describeBackend, initBackend } from '../backend';

export const backendCommands: CommandSpec[] = [
  {
    path: ['backend'],
    summary: 'show the backend training would use here, and why others were passed over',
    options: [
      {
        name: 'backend',
        type: 'string',
        choices: BACKEND_NAMES,
        description: 'start this backend instead of the automatic choice',
      },
      { name: 'json', type: 'boolean', default: false, description: 'print the full report as JSON' },
    ],
    async run(args) {
      const r = await initBackend(args.options.backend as string | undefined);
      if (args.options.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      console.log(describeBackend(r));
      if (r.native?.available)
        console.log(
          `  native addon: ${r.native.path} (matrix products: ${r.native.gemm}; own kernels: ${r.native.instructions}; ${r.native.blas})`,
        );
      for (const s of r.skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
    },
  },
];
