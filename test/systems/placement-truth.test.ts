/**
 * Truth test of `--placement across:K` (SPEC §4.1, issue 12 item 5) on the real servers: a
 * deduplicating variant dedups within one object (topic / table) and NOT across K of them.
 *
 * The set: 50 random files of 16–64 KiB at U90 (5 contents, each copied 9 times). File i holds
 * content i mod 5 and lives in object i mod K; with K = 3 (coprime to 5) every content lands in
 * every object, so across:3 must keep one copy per (content, object): 15 copies instead of 5. The
 * bands are derived from the set: within ≈ the ideal EDR (total / distinct bytes), across ≈ total /
 * Σ bytes of the distinct (content, object) pairs — both within [0.8, 1.25] of that expectation.
 * Redis / S3 / NATS dedup at ingestion (content keys, Nats-Msg-Id) inside one key namespace /
 * bucket / stream, so they show the same: no dedup across objects.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeEdr } from '../../src/measure/edr.js';
import { objectIndexOf, type Placement } from '../../src/experiment/dimensions.js';
import { loadSystem } from '../../src/systems/registry.js';
import type { CellContext, LabFile, SystemAdapter } from '../../src/systems/types.js';
import { iterate, makeCell, pseudoRandomBytes, sha256Hex } from './fixtures.js';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, redisOptionsFromEnv, s3OptionsFromEnv } from './kv-helpers.js';
import { clickhouseOptionsFromEnv } from './sql-helpers.js';

const LAB = 'dedup_placement_truth';
const FILES = 50;
const UNIQUE = 5;
const K = 3;

function dataSet(): LabFile[] {
  const files: LabFile[] = [];
  for (let id = 0; id < FILES; id++) {
    const content = id < UNIQUE ? pseudoRandomBytes(`placement:${id}`, 16_384 + ((id * 7919) % 49_152)) : files[id % UNIQUE]!.content;
    files.push({ id, name: `${String(id).padStart(5, '0')}.bin`, size: content.length, sha256: sha256Hex(content), payloadType: 'random_binary', content });
  }
  return files;
}

/** Total bytes / bytes of one copy per distinct content per object: the EDR a per-object dedup reaches. */
export function perObjectIdealEdr(files: readonly LabFile[], placement: Placement): number {
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const kept = new Map(files.map((file) => [`${objectIndexOf(file.id, placement)}/${file.sha256}`, file.size]));
  return total / [...kept.values()].reduce((sum, size) => sum + size, 0);
}

async function settledInternal(adapter: SystemAdapter, cell: CellContext): Promise<number> {
  await adapter.settle(cell);
  const reading = await adapter.probes(cell).find((probe) => probe.name === 'internal')!.read();
  assert.equal(typeof reading.bytes, 'number', reading.error);
  return reading.bytes!;
}

/** Load the set into the cell, run the variant's dedup step, and return the EDR of the internal probe. */
async function measuredEdr(adapter: SystemAdapter, cell: CellContext, files: readonly LabFile[], dedupStep: (cell: CellContext) => Promise<unknown>): Promise<number> {
  await adapter.resetLab(cell);
  const baseline = await settledInternal(adapter, cell);
  const outcome = await adapter.bulkInsert(iterate(files), cell);
  assert.deepEqual(outcome.failed, []);
  assert.equal(await dedupStep(cell), undefined);
  const after = await settledInternal(adapter, cell);
  assert.equal(await adapter.countStored(cell), files.length);
  const stored = files.reduce((sum, file) => sum + file.size, 0);
  const result = computeEdr({ storedLogicalBytes: stored, baseline, after, replicas: 1, idealEdr: perObjectIdealEdr(files, { kind: 'within' }), compressibility: 1 });
  assert.ok(result.edr !== null, `EDR unmeasurable: ${result.flag.reason}`);
  return result.edr;
}

interface Case {
  system: string;
  options: () => unknown;
  variant: string;
  /** The variant's dedup step: Kafka's cleaner (compaction), ClickHouse's OPTIMIZE … FINAL; none where dedup happens at ingestion. */
  dedupStep: (adapter: SystemAdapter, cell: CellContext) => Promise<unknown>;
}

const CASES: Case[] = [
  { system: 'kafka', options: kafkaOptionsFromEnv, variant: 'compact', dedupStep: (adapter, cell) => adapter.compact(cell) },
  { system: 'clickhouse', options: clickhouseOptionsFromEnv, variant: 'replacing', dedupStep: (adapter, cell) => adapter.compact(cell) },
  // The duplicate window (Nats-Msg-Id) is per stream: a copy is dropped only in its original's stream.
  { system: 'nats', options: natsOptionsFromEnv, variant: 'msg-id', dedupStep: () => Promise.resolve() },
  // by-content keys `c/<sha256>` per bucket: one copy per bucket that holds the content.
  { system: 'minio', options: s3OptionsFromEnv, variant: 'by-content', dedupStep: () => Promise.resolve() },
  // by-content keys `c/<sha256>` per key namespace `<lab>:p<k>:`.
  { system: 'redis', options: redisOptionsFromEnv, variant: 'by-content', dedupStep: () => Promise.resolve() },
];

function assertNear(edr: number, expected: number, what: string): void {
  assert.ok(edr >= expected * 0.8 && edr <= expected * 1.25, `${what}: EDR ${edr.toFixed(3)} outside [${(expected * 0.8).toFixed(2)}, ${(expected * 1.25).toFixed(2)}]`);
}

describe(`placement truth: U90 dedups within one object and not across ${K}`, () => {
  const files = dataSet();
  const across: Placement = { kind: 'across', objects: K };
  const withinIdeal = perObjectIdealEdr(files, { kind: 'within' });
  const acrossIdeal = perObjectIdealEdr(files, across);

  test('the set puts every content into every object (so across must keep K copies)', () => {
    assert.ok(Math.abs(withinIdeal - FILES / UNIQUE) < 1.5, `within ideal ${withinIdeal}`);
    assert.ok(acrossIdeal < withinIdeal / 2, `across ideal ${acrossIdeal} vs within ${withinIdeal}`);
    assert.ok(acrossIdeal > withinIdeal / K / 1.5 && acrossIdeal < (withinIdeal / K) * 1.5, `across ideal ${acrossIdeal} ≈ within / K`);
  });

  for (const item of CASES) {
    test(`${item.system} ${item.variant}: within EDR ≈ ${withinIdeal.toFixed(1)}, across:${K} EDR ≈ ${acrossIdeal.toFixed(1)}`, async (t) => {
      const definition = await loadSystem(item.system);
      assert.equal(definition.placementAcross, true);
      const adapter = definition.create(item.system, definition.parseOptions(item.options()), LAB);
      await adapter.connect();
      const started = Date.now();
      try {
        const cell = makeCell({ variant: item.variant, mode: 'blob' });
        const within = await measuredEdr(adapter, cell, files, (c) => item.dedupStep(adapter, c));
        const spread = await measuredEdr(adapter, { ...cell, placement: across }, files, (c) => item.dedupStep(adapter, c));
        t.diagnostic(`${item.system} ${item.variant}: within EDR ${within.toFixed(3)}, across:${K} EDR ${spread.toFixed(3)}, ${Date.now() - started} ms`);
        assertNear(within, withinIdeal, 'within');
        assertNear(spread, acrossIdeal, `across:${K}`);
      } finally {
        await adapter.dropLab();
        await adapter.close();
      }
    });
  }
});
