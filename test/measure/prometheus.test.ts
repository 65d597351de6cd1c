/**
 * The prometheus probe against the real Pushgateway + Prometheus of scripts/services.sh: a known
 * byte value pushed, scraped, and read back through the probe; broken queries and unreachable
 * servers read as missing (null), never as a number.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesFromResponse, prometheusProbe } from '../../src/measure/probes/prometheus.js';
import { pollUntil, requireEnv } from '../trace/helpers.js';

const probeConfig = (url: string, query: string, replicas = 3) => ({ url, query, replicas, settleTimeoutMs: 30_000, pollIntervalMs: 1_000 });

test('bytesFromResponse: one number or a reason, never a made-up value', () => {
  const vector = (...values: string[]) => ({
    status: 'success' as const,
    data: { resultType: 'vector' as const, result: values.map((value, i) => ({ metric: { v: String(i) }, value: [0, value] })) },
  });
  assert.deepEqual(bytesFromResponse(vector('1234')), { bytes: 1234 });
  assert.deepEqual(bytesFromResponse({ status: 'success', data: { resultType: 'scalar', result: [0, '5e9'] } }), { bytes: 5e9 });
  assert.match(bytesFromResponse(vector()).error!, /no series/);
  assert.match(bytesFromResponse(vector('1', '2')).error!, /2 series.*sum/);
  assert.match(bytesFromResponse(vector('NaN')).error!, /not a finite number/);
  assert.match(bytesFromResponse(vector('-1')).error!, /cannot be negative/);
  assert.equal(bytesFromResponse(vector('-1')).bytes, null);
  assert.match(bytesFromResponse({ status: 'error', errorType: 'bad_data', error: 'parse error' }).error!, /bad_data: parse error/);
});

test('a value pushed to the Pushgateway and scraped by Prometheus reads back through the probe, with replicas', async () => {
  const pushgateway = requireEnv('DEDUP_LAB_PUSHGATEWAY_URL');
  const prometheus = requireEnv('DEDUP_LAB_PROMETHEUS_URL');
  const job = `dedup_lab_probe_${randomBytes(4).toString('hex')}`;
  // Three replica volumes of one workload, as Longhorn reports them.
  const volumes = { 'pvc-a-r1': 104_857_600, 'pvc-a-r2': 104_861_696, 'pvc-a-r3': 104_853_504 };
  const body = Object.entries(volumes)
    .map(([volume, bytes]) => `dedup_lab_test_volume_actual_size_bytes{volume="${volume}"} ${bytes}`)
    .join('\n');
  const pushed = await fetch(`${pushgateway}/metrics/job/${job}`, { method: 'PUT', body: `${body}\n` });
  assert.equal(pushed.status, 200);
  try {
    const query = `sum(dedup_lab_test_volume_actual_size_bytes{job="${job}"})`;
    const expected = Object.values(volumes).reduce((a, b) => a + b, 0);
    const probe = prometheusProbe(probeConfig(prometheus, query, 3));
    assert.equal(probe.name, 'prometheus');
    assert.equal(probe.replicas, 3);
    assert.equal(probe.pollIntervalMs, 1_000);
    // Wait for the scrape by polling the probe itself (no fixed sleep).
    const reading = await pollUntil(() => probe.read(), (r) => r.bytes === expected, 20_000, `the probe to read ${expected}`);
    assert.deepEqual(reading, { bytes: expected });

    // Without sum() the query gives three series: refused, not summed or picked silently.
    const unsummed = await prometheusProbe(probeConfig(prometheus, `dedup_lab_test_volume_actual_size_bytes{job="${job}"}`)).read();
    assert.equal(unsummed.bytes, null);
    assert.match(unsummed.error!, /3 series/);
    // A trailing slash and a path-less base URL both work.
    assert.deepEqual(await prometheusProbe(probeConfig(`${prometheus}/`, query)).read(), { bytes: expected });
  } finally {
    await fetch(`${pushgateway}/metrics/job/${job}`, { method: 'DELETE' });
  }
});

test('a broken query, an absent metric and an unreachable server read as missing with the reason', async () => {
  const prometheus = requireEnv('DEDUP_LAB_PROMETHEUS_URL');
  const broken = await prometheusProbe(probeConfig(prometheus, 'sum(')).read();
  assert.equal(broken.bytes, null);
  assert.match(broken.error!, /bad_data/);
  const absent = await prometheusProbe(probeConfig(prometheus, 'sum(dedup_lab_metric_that_does_not_exist)')).read();
  // sum() over nothing is an empty vector in PromQL.
  assert.equal(absent.bytes, null);
  assert.match(absent.error!, /no series/);
  const down = await prometheusProbe({ ...probeConfig('http://127.0.0.1:9', 'up'), requestTimeoutMs: 3_000 }).read();
  assert.equal(down.bytes, null);
  assert.match(down.error!, /cannot query Prometheus.*(ECONNREFUSED|fetch failed)/);
  const notPrometheus = await prometheusProbe(probeConfig(`${requireEnv('DEDUP_LAB_PUSHGATEWAY_URL')}/nothing-here`, 'up')).read();
  assert.equal(notPrometheus.bytes, null);
  assert.match(notPrometheus.error!, /HTTP 404|not a Prometheus API answer/);
});

test('credentials in the URL never reach the error text', async () => {
  const reading = await prometheusProbe({ ...probeConfig('http://probe-user:s3cr3t-pass@127.0.0.1:9', 'up'), requestTimeoutMs: 3_000 }).read();
  assert.equal(reading.bytes, null);
  assert.doesNotMatch(reading.error!, /s3cr3t-pass/);
});
