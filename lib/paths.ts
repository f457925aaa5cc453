import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project root (the folder holding affect-lab's package.json), found from this file so it works from `lib/` and from `dist/lib/`. */
export const repoRoot: string = (() => {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'affect-lab')
      return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`affect-lab: cannot find the project's package.json above ${__dirname}`);
    dir = up;
  }
})();

/** Where downloaded or generated artefacts are cached (pretrained weights, synthetic sets); override with AFFECT_CACHE. */
export function cacheDir(...parts: string[]): string {
  return path.join(process.env.AFFECT_CACHE ?? path.join(repoRoot, '.cache'), ...parts);
}
