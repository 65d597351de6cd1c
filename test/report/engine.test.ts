/** The engine column: which version each answer-table row measured (chdb 26.x next to clickhouse 18.16). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StageRecord } from '../../src/experiment/record.js';
import { engineLabel } from '../../src/report/engine.js';
import { verdictCells } from '../../src/report/verdict.js';
import { makeCell } from './fixtures.js';

test('engineLabel keeps the text up to the first version number', () => {
  assert.equal(engineLabel('ClickHouse 26.7.2.1 (chdb 3.4.0)'), 'ClickHouse 26.7.2.1');
  assert.equal(engineLabel('18.16.1'), '18.16.1');
  assert.equal(engineLabel('PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu'), 'PostgreSQL 15.8');
  assert.equal(engineLabel('DuckDB v1.5.1'), 'DuckDB v1.5.1');
  assert.equal(engineLabel('no number here'), 'no number here');
  assert.equal(engineLabel(''), null);
  assert.equal(engineLabel(undefined), null);
  assert.equal(engineLabel(`${'x'.repeat(40)} 1.2`)?.length, 32);
});

const withVersion = (records: StageRecord[], systemVersion: string) => records.map((record) => ({ ...record, systemVersion }));
const cellsOf = (system: string) => ['U0', 'U90'].flatMap((grade) => makeCell({ system, variant: 'mergetree', grade, costPerByte: 1 }));

test('the answer table shows the engine per row when the records carry versions', () => {
  const records = [...withVersion(cellsOf('clickhouse'), '18.16.1'), ...withVersion(cellsOf('chdb'), 'ClickHouse 26.7.2.1 (chdb 3.4.0)')];
  const table = verdictCells(records)!;
  assert.deepEqual(table.headers.slice(0, 3), ['system', 'engine', 'variant']);
  assert.deepEqual(
    table.rows.map((row) => row.slice(0, 2)),
    [
      ['clickhouse', '18.16.1'],
      ['chdb', 'ClickHouse 26.7.2.1'],
    ],
  );
  assert.equal(table.numeric[1], false);
});

test('results written before versions were recorded keep the table without an engine column', () => {
  assert.equal(verdictCells(cellsOf('sqlite'))!.headers.includes('engine'), false);
});
