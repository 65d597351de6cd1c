/**
 * chdb adapter (ClickHouse 26.x in-process): the shared contract suite on real chdb data
 * directories, then the engine's truths — codecs, ReplacingMergeTree collapse, lightweight deletes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openChdbSession } from '../../src/systems/chdb.js';
import { runContractSuite } from './contract.js';
import { dirListing } from './fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dedup-chdb-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const LAB = 'dedup_contract';
const canaryFile = join(dataDir, 'canary.bin');

runContractSuite({
  definitionId: 'chdb',
  options: { dataDir },
  labName: LAB,
  canary: {
    async create() {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(canaryFile, 'canary bytes outside the lab directory');
    },
    async read() {
      return createHash('sha256').update(readFileSync(canaryFile)).digest('hex');
    },
  },
  failWrites: {
    // A CHECK constraint added on the real table: ClickHouse refuses the whole INSERT block
    // holding the poisoned file (resetLab recreates the table without it).
    async arm({ cell, poisoned }) {
      const [table, column] = cell.mode === 'blob' ? ['blobs', 'id'] : ['n_fixture_rows', 'file_id'];
      const session = await openChdbSession(join(dataDir, LAB)); // same path: chdb shares the open engine
      try {
        await session.queryAsync(`ALTER TABLE ${LAB}.${table} ADD CONSTRAINT poison CHECK ${column} != ${poisoned.id}`);
      } finally {
        session.close();
      }
    },
  },
  sideEffectSnapshot: async () => dirListing(dataDir),
  labExists: async () => existsSync(join(dataDir, LAB)),
});
