import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, csvHeader, toCsv } from '../../src/report/csv.js';
import { makeCell } from './fixtures.js';

/** A small RFC 4180 parser, independent of the writer, to read the output back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += char;
  }
  return rows;
}

test('csvField quotes only what needs quoting', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(0), '0');
  assert.equal(csvField(1.2345678901234), '1.2345678901234');
  assert.equal(csvField(false), 'false');
});

test('results.csv has one row per record with flattened probes and latency columns', () => {
  const records = [...makeCell({ system: 'sqlite', grade: 'U50' }), ...makeCell({ system: 'duckdb' })];
  records[1] = { ...records[1]!, error: { kind: 'stage', message: 'VACUUM failed, "disk" full\nretry later' } };
  const rows = parseCsv(toCsv(records));
  const [header, ...body] = rows;
  assert.deepEqual(header, csvHeader(records));
  assert.equal(body.length, records.length);
  for (const name of ['probe_internal_before', 'probe_internal_after', 'probe_internal_delta', 'probe_internal_edr', 'probe_internal_settled', 'probe_internal_replicas', 'probe_fs_edr', 'lat_p50_us', 'lat_p999_us']) {
    assert.ok(header!.includes(name), `missing column ${name}`);
  }
  const column = (name: string) => header!.indexOf(name);
  const bulk = body[0]!;
  assert.equal(Number(bulk[column('edr')]), records[0]!.edr);
  assert.equal(Number(bulk[column('probe_fs_after')]), records[0]!.probes[1]!.after);
  assert.equal(bulk[column('lat_p50_us')], ''); // bulk has no per-file latency
  assert.equal(Number(body[2]![column('lat_p99_us')]), records[2]!.latencyUs!.p99);
  assert.equal(body[1]![column('error_message')], 'VACUUM failed, "disk" full\nretry later');
  assert.equal(body[3]![column('edr')], ''); // delete: no EDR
  assert.equal(Number(body[4]![column('reclaimedBytes')]), records[4]!.reclaimedBytes);
});

test('a probe present in only some records leaves empty fields elsewhere', () => {
  const records = makeCell({ system: 'redis' });
  records[0] = { ...records[0]!, probes: [...records[0]!.probes, { ...records[0]!.probes[0]!, name: 'prometheus', replicas: 3 }] };
  const [header, ...body] = parseCsv(toCsv(records));
  const index = header!.indexOf('probe_prometheus_replicas');
  assert.equal(body[0]![index], '3');
  assert.equal(body[1]![index], '');
});
