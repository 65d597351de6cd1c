#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare` runs on
// `npm ci` and `npm pack`), so no TypeScript compiler runs at start; `--help` and `--version`
// are answered from that build without loading the program. In a checkout where src/ changed
// after the last build, runs the sources through tsx (a devDependency) instead: slower to
// start, never stale.
import { fileURLToPath } from 'node:url';
import { distIsCurrent, quickAnswer } from './freshness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const current = distIsCurrent(root);
const quick = current ? quickAnswer(root, argv) : null;
if (quick !== null) {
  process.stdout.write(quick);
} else {
  let main;
  if (current) {
    ({ main } = await import('../dist/cli/main.js'));
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import('../src/cli/main.ts'));
  }
  process.exitCode = await main(argv);
}
