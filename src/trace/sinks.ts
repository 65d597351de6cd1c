/** Trace destinations: trace.jsonl (always), a Kafka topic and a Prometheus Pushgateway (optional). */
import { appendFile } from 'node:fs/promises';
import type { TraceEvent } from '../experiment/record.js';
import { scrub } from '../config/secrets.js';
import type { SinkTransport } from './queue.js';

/** Appends JSON lines; one write per batch. */
export function fileTransport(path: string): SinkTransport {
  return {
    name: 'file',
    send: (batch) => appendFile(path, batch.map((event) => `${JSON.stringify(event)}\n`).join('')),
  };
}

export interface KafkaTraceOptions {
  brokers: string[];
  topic: string;
  clientId?: string;
}

/**
 * One Kafka record per event (key = system/instance so one instance's events stay ordered in
 * one partition, value = the JSON line). The topic is created when missing (1 partition,
 * replication 1 — a trace topic on a lab cluster; create it beforehand for other settings).
 */
export async function kafkaTransport(options: KafkaTraceOptions): Promise<SinkTransport> {
  const { Admin, Producer, stringSerializers } = await import('@platformatic/kafka');
  const base = { clientId: options.clientId ?? 'dedup-lab-trace', bootstrapBrokers: options.brokers, retries: 2 };
  const admin = new Admin(base);
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(options.topic)) {
      try {
        await admin.createTopics({ topics: [options.topic], partitions: 1, replicas: 1 });
      } catch (error) {
        // Another process may have created it between list and create.
        if (!(await admin.listTopics()).includes(options.topic)) throw error;
      }
    }
  } finally {
    await admin.close().catch(() => undefined);
  }
  const producer = new Producer({ ...base, serializers: stringSerializers, acks: 1, autocreateTopics: false });
  return {
    name: `kafka topic ${options.topic}`,
    send: async (batch) => {
      await producer.send({
        messages: batch.map((event) => ({ topic: options.topic, key: `${event.system}/${event.instance}`, value: JSON.stringify(event) })),
      });
    },
    close: () => producer.close(),
  };
}

/** Escape a Prometheus text-format label value. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** One Pushgateway grouping-key segment; base64url form for values a path cannot carry. */
export function groupingSegment(name: string, value: string): string {
  if (value === '' || /[/%]/.test(value)) {
    const encoded = Buffer.from(value, 'utf8').toString('base64url');
    return `${name}@base64/${encoded || '='}`;
  }
  return `${name}/${encodeURIComponent(value)}`;
}

/**
 * The Prometheus text body for one instance's latest sample and stage state:
 * `dedup_lab_metric{metric="…"} value` gauges (system and instance come from the grouping key),
 * plus `dedup_lab_stage_running{stage="…"} 1|0` and the sample's time.
 */
export function pushgatewayBody(sample: Extract<TraceEvent, { kind: 'sample' }> | undefined, stages: Map<string, number>): string {
  const lines = [
    '# TYPE dedup_lab_metric gauge',
    '# HELP dedup_lab_metric A cheap metric sampled by the dedup-lab trace, as the system reports it.',
  ];
  if (sample) {
    for (const [metric, value] of Object.entries(sample.metrics)) {
      if (typeof value === 'number' && Number.isFinite(value)) lines.push(`dedup_lab_metric{metric="${escapeLabelValue(metric)}"} ${value}`);
    }
  }
  if (stages.size > 0) {
    lines.push('# TYPE dedup_lab_stage_running gauge', '# HELP dedup_lab_stage_running 1 while the stage runs on this system instance.');
    for (const [stage, running] of stages) lines.push(`dedup_lab_stage_running{stage="${escapeLabelValue(stage)}"} ${running}`);
  }
  if (sample) {
    lines.push('# TYPE dedup_lab_sample_timestamp_seconds gauge', `dedup_lab_sample_timestamp_seconds ${sample.t / 1000}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface PushgatewayTraceOptions {
  url: string;
  job: string;
}

/**
 * Pushes per batch one PUT per system instance, to the group job/<job>/system/<id>/instance/<name>:
 * a PUT replaces only that instance's group, so instances never erase each other's gauges.
 */
export function pushgatewayTransport(options: PushgatewayTraceOptions): SinkTransport {
  const base = options.url.replace(/\/+$/, '');
  // Kept across batches: a PUT replaces the whole group, so it always carries the latest state.
  const stageState = new Map<string, Map<string, number>>();
  const latest = new Map<string, Extract<TraceEvent, { kind: 'sample' }>>();
  return {
    name: 'pushgateway',
    send: async (batch) => {
      const touched = new Map<string, { system: string; instance: string }>();
      for (const event of batch) {
        const key = `${event.system}\u0000${event.instance}`;
        touched.set(key, { system: event.system, instance: event.instance });
        if (event.kind === 'sample') latest.set(key, event);
        else {
          const stages = stageState.get(key) ?? new Map<string, number>();
          stages.set(event.stage, event.kind === 'stage_start' ? 1 : 0);
          stageState.set(key, stages);
        }
      }
      for (const [key, { system, instance }] of touched) {
        const group = `${groupingSegment('job', options.job)}/${groupingSegment('system', system)}/${groupingSegment('instance', instance)}`;
        await putPushgatewayGroup(base, group, pushgatewayBody(latest.get(key), stageState.get(key) ?? new Map()));
      }
    },
  };
}

/** PUT one group's body (replacing that group only); throws a scrubbed error on a non-2xx answer. */
export async function putPushgatewayGroup(baseUrl: string, groupPath: string, body: string): Promise<void> {
  const url = `${baseUrl.replace(/\/+$/, '')}/metrics/${groupPath}`;
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain; version=0.0.4' },
    body,
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 200);
    // The URL may carry credentials: scrub before it reaches a log line.
    throw new Error(scrub(`PUT ${url} answered ${response.status} ${response.statusText}: ${text}`));
  }
}
