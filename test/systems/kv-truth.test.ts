/**
 * Truth tests for the key-value / log / object / stream adapters against the real servers:
 * random data loaded by-id / plain / delete gives EDR ≈ 1; content-addressed variants at U90 store
 * only the unique files (EDR near the ideal 10×); Kafka compaction at U90 shrinks the log toward
 * the unique bytes; per-file deletes are read back. EDR is computed by the product's own
 * `computeEdr` from acknowledged logical bytes and the settled internal probe.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { runInProcess, tempDir } from '../experiment/helpers.js';
import { computeEdr } from '../../src/measure/edr.js';
import { loadSystem } from '../../src/systems/registry.js';
import type { LabFile, SystemAdapter } from '../../src/systems/types.js';
import { iterate, makeCell, pseudoRandomBytes, sha256Hex } from './fixtures.js';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, redisOptionsFromEnv, requireEnv, s3OptionsFromEnv } from './kv-helpers.js';

const LAB = 'dedup_kv_truth';
const FILES = 50;

/** 50 random files of 16–64 KiB; at U90, 45 exact copies of the 5 unique files (SPEC §1 counts). */
function dataSet(grade: 'U0' | 'U90'): LabFile[] {
  const duplicates = Math.round((FILES * Number(grade.slice(1))) / 100);
  const unique = FILES - duplicates;
  const files: LabFile[] = [];
  for (let id = 0; id < FILES; id++) {
    const content = id < unique ? pseudoRandomBytes(`truth:${id}`, 16_384 + ((id * 7919) % 49_152)) : files[id % unique]!.content;
    files.push({ id, name: `${String(id).padStart(5, '0')}.bin`, size: content.length, sha256: sha256Hex(content), payloadType: 'random_binary', content });
  }
  return files;
}

function idealEdr(files: LabFile[]): number {
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const unique = new Map(files.map((file) => [file.sha256, file.size]));
  return total / [...unique.values()].reduce((sum, size) => sum + size, 0);
}

async function settledInternal(adapter: SystemAdapter, cell: ReturnType<typeof makeCell>): Promise<number> {
  await adapter.settle(cell);
  const probe = adapter.probes(cell).find((p) => p.name === 'internal')!;
  const reading = await probe.read();
  assert.equal(typeof reading.bytes, 'number', reading.error);
  return reading.bytes!;
}

interface Case {
  system: string;
  options: () => unknown;
  variant: string;
  grade: 'U0' | 'U90';
  /** Accepted EDR range after the measured stage. */
  range: [number, number];
  stage: 'bulk_insert' | 'compaction';
}

const CASES: Case[] = [];
const systems: [string, () => unknown, string, string][] = [
  ['redis', redisOptionsFromEnv, 'by-id', 'by-content'],
  ['minio', s3OptionsFromEnv, 'by-id', 'by-content'],
  ['nats', natsOptionsFromEnv, 'plain', 'msg-id'],
  ['kafka', kafkaOptionsFromEnv, 'delete', 'compact'],
];
for (const [system, options, plain, dedup] of systems) {
  for (const grade of ['U0', 'U90'] as const) CASES.push({ system, options, variant: plain, grade, range: [0.8, 1.25], stage: 'bulk_insert' });
  CASES.push({ system, options, variant: dedup, grade: 'U0', range: [0.8, 1.25], stage: system === 'kafka' ? 'compaction' : 'bulk_insert' });
  // Ideal is 10×: the reference/index overhead of the variant may cost a little of it.
  CASES.push({ system, options, variant: dedup, grade: 'U90', range: [8, 12.5], stage: system === 'kafka' ? 'compaction' : 'bulk_insert' });
}

describe('kv truth: EDR on random data against the real servers', () => {
  for (const item of CASES) {
    test(`${item.system} ${item.variant} ${item.grade}: EDR after ${item.stage} in [${item.range.join(', ')}]`, async () => {
      const definition = await loadSystem(item.system);
      const adapter = definition.create(item.system, definition.parseOptions(item.options()), LAB);
      await adapter.connect();
      try {
        const cell = makeCell({ variant: item.variant, mode: 'blob' });
        const files = dataSet(item.grade);
        await adapter.resetLab(cell);
        const baseline = await settledInternal(adapter, cell);
        const outcome = await adapter.bulkInsert(iterate(files), cell);
        assert.deepEqual(outcome.failed, []);
        if (item.stage === 'compaction') assert.equal(await adapter.compact(cell), undefined);
        const after = await settledInternal(adapter, cell);
        const stored = files.filter((file) => outcome.acknowledged.includes(file.id)).reduce((sum, file) => sum + file.size, 0);
        const result = computeEdr({ storedLogicalBytes: stored, baseline, after, replicas: 1, idealEdr: idealEdr(files), compressibility: 1 });
        assert.ok(result.edr !== null, `EDR unmeasurable: ${result.flag.reason}`);
        assert.ok(
          result.edr >= item.range[0] && result.edr <= item.range[1],
          `EDR ${result.edr.toFixed(3)} (logical ${stored}, physical ${after - baseline}) outside [${item.range.join(', ')}]`,
        );
        assert.equal(await adapter.countStored(cell), FILES);
      } finally {
        await adapter.dropLab();
        await adapter.close();
      }
    });
  }

  for (const [system, options, plain, dedup] of systems) {
    for (const variant of [plain, dedup]) {
      test(`${system} ${variant}: per-file deletes are read back and give the space back`, async () => {
        const definition = await loadSystem(system);
        const adapter = definition.create(system, definition.parseOptions(options()), LAB);
        await adapter.connect();
        try {
          const cell = makeCell({ variant, mode: 'blob' });
          const files = dataSet('U90').slice(0, 12);
          await adapter.resetLab(cell);
          const baseline = await settledInternal(adapter, cell);
          for (const file of files) await adapter.insertOne(file, cell);
          for (const [index, file] of files.entries()) {
            await adapter.deleteOne(file, cell);
            assert.equal(await adapter.countStored(cell), files.length - index - 1);
          }
          await adapter.maintenance(cell);
          const residual = (await settledInternal(adapter, cell)) - baseline;
          if (system === 'kafka' && variant === 'delete') {
            // Kafka never deletes the active segment: records below the log start offset stay on
            // disk until their segment rolls (documented in docs/systems-kv.md).
            assert.ok(residual >= 0);
          } else if (system === 'kafka') {
            // Compaction after tombstones keeps at most the last tombstones and the roll marker.
            assert.ok(residual < 20_000, `kafka compact residual ${residual}`);
          } else {
            assert.equal(residual, 0, `${system} ${variant} holds ${residual} bytes after every file was deleted`);
          }
        } finally {
          await adapter.dropLab();
          await adapter.close();
        }
      });
    }
  }
});

/**
 * The `fs` probe of a real run (runner + adapter's `localDataPaths()`): after `bulk_insert` of
 * 24 random files (1.5 MiB) its delta is positive and of the order of the payload. These
 * directories belong to the whole server (every topic / bucket / stream, the server's own
 * metadata), so the bounds leave room for the server's own writes meanwhile.
 */
describe('kv truth: the fs probe of a run measures the server data directory', () => {
  const FS_CASES: [string, string, Record<string, string>][] = [
    ['nats', 'plain', { ...natsOptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_NATS_DATA_DIR') } as Record<string, string>],
    ['kafka', 'delete', { ...kafkaOptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_KAFKA_DATA_DIR') } as Record<string, string>],
    ['minio', 'by-id', { ...s3OptionsFromEnv(), dataDir: requireEnv('DEDUP_LAB_S3_DATA_DIR') } as Record<string, string>],
  ];
  for (const [system, variant, options] of FS_CASES) {
    test(`${system} ${variant}: bulk_insert carries an fs probe with a positive delta near the payload`, async (t) => {
      const dir = tempDir(`kv-fs-${system}`);
      try {
        const config = parseConfig({ labName: 'dedup_kv_fs', systems: [{ id: system, options }] });
        const run = await runInProcess({
          config,
          cli: { systems: system, variants: `${system}:${variant}`, stages: 'bulk_insert', payloadTypes: 'random_binary', grades: 'U0', files: '24', fileSize: '64KiB' },
          dataDir: join(dir, 'data'),
          resultsDir: join(dir, 'results'),
        });
        const record = run.records.find((r) => r.stage === 'bulk_insert');
        assert.ok(record, `no bulk_insert record: ${JSON.stringify(run.summary)}`);
        assert.equal(record.error, null, JSON.stringify(record.error));
        const fs = record.probes.find((p) => p.name === 'fs');
        assert.ok(fs, `no fs probe among ${record.probes.map((p) => p.name).join(', ')}`);
        assert.equal(fs.replicas, 1);
        assert.ok(fs.delta !== null && fs.delta !== undefined, `fs delta missing: ${JSON.stringify(fs)}`);
        const logical = record.logicalBytes;
        assert.equal(logical, 24 * 65_536);
        t.diagnostic(`${system} fs delta ${fs.delta} bytes for ${logical} logical bytes (internal delta ${record.probes.find((p) => p.name === 'internal')?.delta})`);
        // Random data cannot shrink; the server's own metadata/index files may add some.
        assert.ok(fs.delta >= 0.9 * logical && fs.delta <= 3 * logical + 8 * 1024 * 1024, `fs delta ${fs.delta} for ${logical} logical bytes`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
