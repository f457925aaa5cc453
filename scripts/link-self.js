// Makes `require('affect-lab')` / `import ... from 'affect-lab'` resolve inside this checkout (node_modules/affect-lab -> ..),
// so notebooks import the compiled library exactly as a user's own code would.
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const link = path.join(root, 'node_modules', 'affect-lab');
let target;
try {
  target = fs.readlinkSync(link);
} catch {
  target = undefined;
}
if (target !== '..') {
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync('..', link, 'dir');
}
