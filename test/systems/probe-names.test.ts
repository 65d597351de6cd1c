/**
 * `probes.primary` is validated against a static table of probe names per system
 * (src/systems/shared/probe-names.ts) before any I/O. This keeps that table honest: for every
 * embedded system the names are exactly those its adapter's `probes()` returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSystem } from '../../src/systems/registry.js';
import { ADAPTER_PROBE_NAMES } from '../../src/systems/shared/probe-names.js';
import { makeCell } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'dedup-probe-names-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('static probe names match the adapters', () => {
  for (const id of ['sqlite', 'duckdb', 'pglite']) {
    it(`${id}: probes() gives exactly the names probes.primary accepts`, async () => {
      const definition = await loadSystem(id);
      const adapter = definition.create(id, definition.parseOptions({ dataDir: join(root, id) }), 'dedup_probe_names');
      const names = adapter.probes(makeCell({ variant: definition.variants[0]!, mode: 'blob' })).map((probe) => probe.name);
      assert.deepEqual([...names].sort(), [...(ADAPTER_PROBE_NAMES[id] ?? [])].sort());
    });
  }
});
