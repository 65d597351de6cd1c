/**
 * The Dockerfile is really built (issue 11 #5): scripts/build-image.sh builds it with buildah (vfs,
 * chroot isolation) on an offline-made base, cached by the hash of Dockerfile, lock and sources, and
 * the image runs: `dedup-lab --version` and a tiny embedded run inside its root file system as the
 * image's non-root user, with production dependencies only. No containers daemon, no server lock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../experiment/helpers.js';

const CACHE = join(process.env.DEDUP_LAB_CACHE_DIR ?? '/var/cache/dedup-lab', 'image');
const STORE = ['--storage-driver', 'vfs', '--root', join(CACHE, 'containers'), '--runroot', join(CACHE, 'run')];
const buildah = (args: string[]) => execFileSync('buildah', [...STORE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

let image: string;
let container: string;

before(() => {
  // First build on a machine ≈ 4–5 min; later runs find the image of this hash and return at once.
  image = execFileSync('bash', [join(REPO, 'scripts/build-image.sh')], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 }).trim().split('\n').at(-1)!;
  container = buildah(['from', '--pull-never', image]).trim();
});
after(() => {
  if (container) buildah(['rm', container]);
});

/** Runs a command in the image's root file system as the image's own user (USER of the Dockerfile). */
function inImage(command: string[]): string {
  const user = buildah(['inspect', '--type', 'image', '--format', '{{.OCIv1.Config.User}}', image]).trim();
  // /tmp: the Job's writable emptyDir; /app belongs to root and stays read-only for the user.
  return buildah(['run', '--isolation', 'chroot', '--user', user, '--workingdir', '/tmp', container, '--', ...command]);
}

describe('the Dockerfile, built', () => {
  it('runs dedup-lab --version as uid 10001, from dist/ with production dependencies only', () => {
    assert.equal(buildah(['inspect', '--type', 'image', '--format', '{{.OCIv1.Config.User}}', image]).trim(), '10001:10001');
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(inImage(['node', '/app/bin/dedup-lab.js', '--version']).trim(), version);
    assert.equal(inImage(['node', '-p', 'process.getuid() + ":" + process.getgid()']).trim(), '10001:10001');
    const listing = inImage(['sh', '-c', 'ls /app; ls /app/node_modules']);
    assert.match(listing, /^dist$/m);
    assert.doesNotMatch(listing, /^src$/m, 'no sources: bin runs dist/ as shipped');
    assert.match(listing, /^better-sqlite3$/m);
    assert.doesNotMatch(listing, /^(tsx|typescript|esbuild|eslint)$/m, 'no dev dependencies');
  });

  it('a tiny embedded run works inside the image (better-sqlite3 compiled for its Node)', () => {
    inImage(['node', '/app/bin/dedup-lab.js', 'run', '--systems', 'sqlite', '--payload-types', 'random_binary', '--grades', 'U50', '--files', '4', '--min-size', '1KiB', '--max-size', '2KiB', '--stages', 'bulk_insert', '--data-dir', '/tmp/data', '--results-dir', '/tmp/results']);
    const records = inImage(['cat', '/tmp/results/results.jsonl']).trim().split('\n').map((line) => JSON.parse(line) as { system: string; stage: string; error: string | null; files: number });
    assert.ok(records.length >= 1);
    for (const record of records) assert.deepEqual([record.system, record.stage, record.error, record.files], ['sqlite', 'bulk_insert', null, 4]);
  });
});
