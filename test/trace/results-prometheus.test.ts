/**
 * Stage results in Prometheus (issue 15): a real sqlite run with `trace.pushgateway` set pushes every
 * finished stage's result metrics to the real Pushgateway; they are read back through the real
 * Prometheus that scrapes it, and every query of examples/grafana/dedup-lab.json returns series.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedConfig, REPO, runInProcess, tempDir } from '../experiment/helpers.js';
import type { StageRecord } from '../../src/experiment/record.js';
import { resultBody, resultGroupPath } from '../../src/trace/results-push.js';
import { pollUntil, requireEnv } from './helpers.js';
import { dashboardQueries, substituteVariables } from './dashboard.js';

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

const job = `dedup_lab_results_test_${process.pid}_${Date.now()}`;
let pushgateway = '';
let prometheus = '';
let records: StageRecord[] = [];

async function query(expr: string): Promise<PromSeries[]> {
  const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: PromSeries[] } };
  if (body.status !== 'success') throw new Error(`PromQL ${expr} failed: ${body.error}`);
  return body.data.result;
}

before(async () => {
  pushgateway = requireEnv('DEDUP_LAB_PUSHGATEWAY_URL');
  prometheus = requireEnv('DEDUP_LAB_PROMETHEUS_URL');
  const dir = tempDir('results-push');
  const config = embeddedConfig(join(dir, 'lab'), ['sqlite'], { trace: { pushgateway: { url: pushgateway, job } } });
  const cli = { systems: 'sqlite', payloadTypes: 'random_binary,text_document', grades: 'U0,U50', files: '12', minSize: '4KiB', maxSize: '16KiB', traceInterval: '100' };
  ({ records } = await runInProcess({ config, cli, dataDir: join(dir, 'data'), resultsDir: join(dir, 'results') }));
});

after(async () => {
  // The Pushgateway is shared: delete exactly the groups this test pushed.
  const groups = [...new Set(records.map((record) => resultGroupPath(job, record)))];
  groups.push(`job/${job}/system/sqlite/instance/sqlite`);
  await Promise.all(groups.map((group) => fetch(`${pushgateway}/metrics/${group}`, { method: 'DELETE' })));
});

test('the text body carries every result metric with the record labels, and no line for a missing number', () => {
  const record = records.find((r) => r.stage === 'perfile_insert' && r.grade === 'U50')!;
  const body = resultBody(record);
  const labels = `system="sqlite",instance="sqlite",variant="${record.variant}",mode="blob",payload="${record.payloadType}",grade="U50"`;
  assert.ok(body.includes(`dedup_lab_result_edr{${labels}} ${record.edr}`), body);
  assert.ok(body.includes(`dedup_lab_result_latency_seconds{${labels},stat="p99"} ${record.latencyUs!.p99 / 1e6}`));
  assert.equal(/dedup_lab_result_reclaimed_bytes/.test(body), record.reclaimedBytes !== null);
  assert.doesNotMatch(body, /NaN|null|undefined/);
});

test('every finished stage is in Prometheus with its labels and values', async () => {
  assert.ok(records.length >= 8, `the run produced ${records.length} records`);
  const runId = records[0]!.runId;
  const series = await pollUntil(
    () => query(`dedup_lab_result_duration_seconds{job="${job}"}`),
    (result) => result.length === records.length,
    20_000,
    'one duration series per stage record',
  );
  for (const record of records) {
    const match = series.find((s) => s.metric.cell === record.cellId && s.metric.stage === record.stage);
    assert.ok(match, `${record.cellId} ${record.stage} missing`);
    assert.deepEqual(
      [match.metric.run_id, match.metric.system, match.metric.variant, match.metric.mode, match.metric.payload, match.metric.grade],
      [runId, record.system, record.variant, record.mode, record.payloadType, record.grade],
    );
    assert.equal(Number(match.value[1]), record.durationMs / 1000);
  }
  const edrs = await query(`dedup_lab_result_edr{job="${job}"}`);
  const measured = records.filter((r) => r.edr !== null);
  assert.ok(measured.length > 0);
  assert.equal(edrs.length, measured.length);
  for (const record of measured) {
    const match = edrs.find((s) => s.metric.cell === record.cellId && s.metric.stage === record.stage)!;
    assert.equal(Number(match.value[1]), record.edr);
  }
  const reclaimed = await query(`dedup_lab_result_reclaimed_bytes{job="${job}"}`);
  assert.equal(reclaimed.length, records.filter((r) => r.reclaimedBytes !== null).length);
  const probeEdrs = await query(`dedup_lab_result_probe_edr{job="${job}", primary="true"}`);
  assert.equal(probeEdrs.length, measured.length, 'the primary probe is marked');
});

test('every PromQL query of the Grafana dashboard returns series for the real run', async () => {
  const dashboard = JSON.parse(readFileSync(join(REPO, 'examples/grafana/dedup-lab.json'), 'utf8'));
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 10, `${queries.length} queries`);
  const datasourceVariable = dashboard.templating.list.find((v: { type: string }) => v.type === 'datasource');
  assert.equal(datasourceVariable?.query, 'prometheus', 'the data source is a variable');
  const values = { job, run_id: records[0]!.runId, system: '.*', payload: '.*', stage: 'bulk_insert' };
  // A metric the records cannot have produced (e.g. time-to-reclaim before any stage measured it) must come back empty.
  const expectEmpty = (expr: string) => expr.includes('time_to_reclaim') && !records.some((r) => typeof (r as { timeToReclaimMs?: unknown }).timeToReclaimMs === 'number');
  for (const { title, expr } of queries) {
    const concrete = substituteVariables(expr, values);
    assert.doesNotMatch(concrete, /\$/, `${title}: unsubstituted variable in ${concrete}`);
    const series = await pollUntil(() => query(concrete), (result) => expectEmpty(expr) || result.length > 0, 10_000, `${title}: ${concrete}`);
    if (expectEmpty(expr)) assert.equal(series.length, 0);
  }
  for (const variable of dashboard.templating.list.filter((v: { type: string }) => v.type === 'query')) {
    const match = /^label_values\((.*), (\w+)\)$/.exec(variable.query.query)!;
    const series = await query(substituteVariables(match[1]!, values));
    assert.ok(series.some((s) => s.metric[match[2]!] !== undefined), `variable ${variable.name} has values`);
  }
});
