/**
 * `npm run build` (also run by `prepare`, so `npm ci` and `npm pack` build it): compiles src/**.ts
 * to dist/ with esbuild, one output file per source file (no bundling: drivers stay lazily
 * imported, and `import.meta.url` paths keep their meaning because dist/ mirrors src/).
 * Type checking stays `npm run typecheck`; this is a fast transform so that a build is cheap
 * enough to run before every test run.
 *
 * dist/.build.json records the newest modification time under src/ taken BEFORE compiling;
 * bin/dedup-lab.js compares it with src/ at start and runs the sources instead when anything
 * changed since (see newestMtimeMs there — the same walk).
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELP_FILE, newestMtimeMs } from '../bin/freshness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

function typescriptFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const sourceMtimeMs = newestMtimeMs(SRC);
// Built beside dist/ and swapped in, so a CLI starting meanwhile never sees half a build.
const staging = `${DIST}.${process.pid}.tmp`;
rmSync(staging, { recursive: true, force: true });
await build({
  entryPoints: typescriptFiles(SRC),
  outdir: staging,
  outbase: SRC,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  bundle: false,
  logLevel: 'warning',
});
writeFileSync(join(staging, '.build.json'), `${JSON.stringify({ sourceMtimeMs })}\n`);
// `dedup-lab --help` printed by this very build, so the CLI can answer it without loading every
// command module (see bin/dedup-lab.js). Piped, so commander wraps at its default 80 columns.
const help = execFileSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(new URL(`file://${join(staging, 'cli', 'main.js')}`).href)}); process.exitCode = await main(['--help']);`], {
  encoding: 'utf8',
  env: { ...process.env, COLUMNS: '' },
});
writeFileSync(join(staging, HELP_FILE), help);
rmSync(DIST, { recursive: true, force: true });
renameSync(staging, DIST);
// stderr: `npm pack --json` prints its JSON on stdout after running prepare.
process.stderr.write(`built ${typescriptFiles(SRC).length} files into dist/\n`);
