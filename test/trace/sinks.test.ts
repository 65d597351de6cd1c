/**
 * The trace's optional sinks against the real servers of scripts/services.sh: a Prometheus
 * Pushgateway (then Prometheus scraping it) and a Kafka topic read back with a consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Consumer, MessagesStreamModes, stringDeserializers } from '@platformatic/kafka';
import { startTrace } from '../../src/trace/index.js';
import { escapeLabelValue, groupingSegment, pushgatewayBody } from '../../src/trace/sinks.js';
import type { TraceEvent } from '../../src/experiment/record.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { pollUntil, readTrace, requireEnv, tempDir } from './helpers.js';

/** An adapter-shaped metric source counting up, standing in for a system under load. */
function countingSource(id: string, instance: string): SystemAdapter {
  let n = 0;
  return {
    id,
    instance,
    async sampleMetrics() {
      n += 1;
      return { lab_bytes: 1_000_000 + n * 4096, open_files: 3 };
    },
  } as unknown as SystemAdapter;
}

test('Prometheus text: label values escaped, grouping-key segments encoded', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(groupingSegment('instance', 'pg-1'), 'instance/pg-1');
  assert.equal(groupingSegment('instance', 'a/b'), `instance@base64/${Buffer.from('a/b').toString('base64url')}`);
  const body = pushgatewayBody({ t: 1_700_000_000_000, kind: 'sample', system: 's', instance: 'i', metrics: { 'x"y': 5 } }, new Map([['bulk_insert', 1]]));
  assert.match(body, /^dedup_lab_metric\{metric="x\\"y"\} 5$/m);
  assert.match(body, /^dedup_lab_stage_running\{stage="bulk_insert"\} 1$/m);
  assert.match(body, /^dedup_lab_sample_timestamp_seconds 1700000000$/m);
});

test('the Pushgateway sink pushes per-instance gauges that Prometheus scrapes', async () => {
  const pushgateway = requireEnv('DEDUP_LAB_PUSHGATEWAY_URL');
  const prometheus = requireEnv('DEDUP_LAB_PROMETHEUS_URL');
  const job = `dedup_lab_test_${randomBytes(4).toString('hex')}`;
  const dir = tempDir('trace-pgw');
  const tracer = await startTrace({ resultsDir: dir, intervalMs: 100, sinks: { pushgateway: { url: pushgateway, job } } });
  const first = countingSource('redis', 'cache-a');
  const second = countingSource('nats', 'nats');
  tracer.watch(first);
  tracer.watch(second);
  tracer.stage({ kind: 'stage_start', system: 'redis', instance: 'cache-a', cellId: 'redis.cache-a.by-id.blob.random_binary.U0.r1', stage: 'bulk_insert' });
  await pollUntil(async () => tracer.stats().samples, (n) => n >= 6, 5_000, 'six samples');
  await tracer.flush();
  try {
    // 1. The Pushgateway holds both instances' groups with the latest values.
    const exposition = await (await fetch(`${pushgateway}/metrics`)).text();
    const lines = exposition.split('\n').filter((line) => line.includes(`job="${job}"`));
    const labBytes = lines.filter((line) => line.startsWith('dedup_lab_metric{') && line.includes('metric="lab_bytes"'));
    assert.equal(labBytes.length, 2, lines.join('\n'));
    assert.ok(labBytes.some((line) => line.includes('instance="cache-a"') && line.includes('system="redis"')));
    assert.ok(lines.some((line) => line.startsWith('dedup_lab_stage_running{') && line.includes('stage="bulk_insert"') && line.endsWith(' 1')));

    // 2. Prometheus scraped them (poll its query API; scrape interval 1 s).
    const query = `dedup_lab_metric{job="${job}",metric="lab_bytes"}`;
    const result = await pollUntil(
      async () => {
        const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`);
        const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        return body.data.result;
      },
      (series) => series.length === 2,
      20_000,
      'Prometheus to scrape both instances',
    );
    const systems = result.map((series) => `${series.metric.system}/${series.metric.instance}`).sort();
    assert.deepEqual(systems, ['nats/nats', 'redis/cache-a']);
    for (const series of result) {
      const value = Number(series.value[1]);
      assert.ok(value > 1_000_000 && (value - 1_000_000) % 4096 === 0, `value ${value}`);
    }
  } finally {
    await tracer.close();
    for (const group of ['system/redis/instance/cache-a', 'system/nats/instance/nats']) {
      await fetch(`${pushgateway}/metrics/job/${job}/${group}`, { method: 'DELETE' });
    }
  }
  assert.deepEqual(tracer.stats().sinks.map((s) => [s.name, s.dropped, s.failed]), [['file', 0, 0], ['pushgateway', 0, 0]]);
});

test('an unreachable Pushgateway never fails the trace; trace.jsonl is complete', async () => {
  const dir = tempDir('trace-pgw-down');
  // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
  const tracer = await startTrace({ resultsDir: dir, intervalMs: 100, sinks: { pushgateway: { url: 'http://127.0.0.1:9', job: 'x' } } });
  const source = countingSource('sqlite', 'sqlite');
  tracer.watch(source);
  await pollUntil(async () => tracer.stats().samples, (n) => n >= 3, 5_000, 'three samples');
  tracer.unwatch(source);
  await tracer.close();
  const stats = tracer.stats();
  const pushgateway = stats.sinks.find((s) => s.name === 'pushgateway')!;
  assert.ok(pushgateway.failed >= 3);
  assert.equal(readTrace(dir).filter((e) => e.kind === 'sample').length, stats.samples);
});

test('the Kafka sink produces every event to the topic, created when missing', async () => {
  const brokers = requireEnv('DEDUP_LAB_KAFKA_BROKERS').split(',');
  const topic = `dedup_lab_trace_test_${randomBytes(4).toString('hex')}`;
  const dir = tempDir('trace-kafka');
  const tracer = await startTrace({ resultsDir: dir, intervalMs: 100, sinks: { kafka: { brokers, topic } } });
  const source = countingSource('clickhouse', 'ch');
  tracer.watch(source);
  tracer.stage({ kind: 'stage_start', system: 'clickhouse', instance: 'ch', cellId: 'c1', stage: 'compaction' });
  await pollUntil(async () => tracer.stats().samples, (n) => n >= 4, 5_000, 'four samples');
  tracer.stage({ kind: 'stage_end', system: 'clickhouse', instance: 'ch', cellId: 'c1', stage: 'compaction', ok: true });
  tracer.unwatch(source);
  await tracer.close();
  const written = readTrace(dir);
  assert.ok(written.length >= 6);
  assert.equal(tracer.stats().sinks.find((s) => s.name.startsWith('kafka'))?.failed, 0);

  const consumer = new Consumer({ groupId: `${topic}-reader`, clientId: 'dedup-lab-test', bootstrapBrokers: brokers, deserializers: stringDeserializers });
  const received: TraceEvent[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 });
    const deadline = setTimeout(() => void stream.close(), 15_000);
    for await (const message of stream) {
      received.push(JSON.parse(message.value) as TraceEvent);
      assert.equal(message.key, 'clickhouse/ch');
      if (received.length >= written.length) break;
    }
    clearTimeout(deadline);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  assert.deepEqual(received, written);
});
