// Copies the browser files of the console's npm dependencies (installed by
// `npm ci` from package-lock.json) into hub/console/ui/vendor/, and writes
// hub/console/ui/vendor/manifest.json: each package's version and lockfile
// integrity, and the SHA-256 of every copied file. hub/console's
// TestVendoredAssetsMatchLockfile checks the committed files against it.
// Run by `make ui`.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const out = join(web, '..', 'hub', 'console', 'ui', 'vendor');

// package → [file in the package, name under vendor/]
const files = {
  uplot: [
    ['dist/uPlot.esm.js', 'uPlot.esm.js'],
    ['dist/uPlot.min.css', 'uPlot.min.css'],
    ['LICENSE', 'uPlot.LICENSE'],
  ],
  // loaded by the map page only (a dynamic import), not at first load
  leaflet: [
    ['dist/leaflet-src.esm.js', 'leaflet-src.esm.js'],
    ['dist/leaflet.css', 'leaflet.css'],
    ['LICENSE', 'leaflet.LICENSE'],
  ],
};

const lock = JSON.parse(readFileSync(join(web, 'package-lock.json'), 'utf8'));
mkdirSync(out, { recursive: true });
const manifest = { note: 'written by web/vendor.mjs (make ui); do not edit', packages: {} };
for (const [pkg, list] of Object.entries(files)) {
  const entry = lock.packages[`node_modules/${pkg}`];
  if (!entry) throw new Error(`${pkg} is not in web/package-lock.json`);
  const installed = JSON.parse(readFileSync(join(web, 'node_modules', pkg, 'package.json'), 'utf8'));
  if (installed.version !== entry.version) {
    throw new Error(`${pkg}: node_modules has ${installed.version}, the lockfile ${entry.version}: run npm ci`);
  }
  const m = { version: entry.version, integrity: entry.integrity, files: {} };
  for (const [src, dst] of list) {
    const from = join(web, 'node_modules', pkg, src);
    copyFileSync(from, join(out, dst));
    m.files[dst] = { from: src, sha256: createHash('sha256').update(readFileSync(from)).digest('hex') };
  }
  manifest.packages[pkg] = m;
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`vendored ${Object.keys(files).join(', ')} into ${out}`);
