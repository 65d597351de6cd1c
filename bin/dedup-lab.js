#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare` runs on
// `npm ci` and `npm pack`), so no TypeScript compiler runs at start; `--help` and `--version`
// are answered from that build without loading the program. In a checkout where src/ changed
// after the last build, runs the sources through tsx (a devDependency) instead: slower to
// start, never stale.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsCurrent, quickAnswer } from './freshness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);

// Node.js < 22 is past its end of life, and better-sqlite3 13 crashes on 20 when a database opens.
// In a checkout (scripts/ present) the README's commands still work on such a machine: run on the
// LTS line fetched from the npm registry's `node` package (scripts/node-line.sh, cached); an
// installed package says what it needs instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  const nodeLine = join(root, 'scripts', 'node-line.sh');
  if (!existsSync(nodeLine)) {
    process.stderr.write(`dedup-lab: Node.js ${process.versions.node} is not supported; valid: Node.js 22, 24 or 26\n`);
    process.exit(2);
  }
  process.stderr.write(`dedup-lab: Node.js ${process.versions.node} is past its end of life; running on Node.js 24 (scripts/node-line.sh)\n`);
  const child = spawnSync('bash', [nodeLine, '24', 'node', fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
const current = distIsCurrent(root);
const quick = current ? quickAnswer(root, argv) : null;
// V8 lets its young generation grow to 16 MiB semi-spaces, and what a run leaves behind — read
// buffers, socket chunks, a client library's per-request objects — waits there, with the external
// memory it holds, until a scavenge: measured +60–150 MiB of peak RSS at --total-size 1GiB on S3 and
// ClickHouse (docs/running.md "Memory"). The cap must be set before V8 starts, so a command that
// loads the program replaces this process with one that has it: execve keeps the pid, the stdio and
// the exit code, and costs one more Node start (≈ 40 ms). An explicit flag (argv or NODE_OPTIONS) wins.
const YOUNG_GENERATION_FLAG = '--max-semi-space-size=2';
const hasSemiSpaceFlag = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((flag) => flag.includes('--max-semi-space-size'));
if (quick === null && !hasSemiSpaceFlag && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, YOUNG_GENERATION_FLAG, fileURLToPath(import.meta.url), ...argv], process.env);
}
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
