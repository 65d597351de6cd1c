/**
 * Kafka adapter (SPEC §5.2, §5.3) on @platformatic/kafka (pure JS, works on Node 20.19+; it has the
 * DescribeLogDirs, DeleteRecords and IncrementalAlterConfigs admin APIs, which kafkajs lacks).
 *
 * Layout: one topic per cell, `<lab>.<objectTag>`, one partition, one record per file, produced in
 * batches with acks from all in-sync replicas (acks = -1). Topic `max.message.bytes` is raised to
 * `maxMessageBytes` so any file up to that size is sent; a bigger file (or any send error) is a
 * failed write, never dropped silently.
 *
 * Variants:
 * - `delete` — key = file id, `cleanup.policy=delete`, no time/size retention. Per-file delete is
 *   DeleteRecords up to the file's offset + 1: Kafka can only delete a *prefix* of a partition, so
 *   a file can be deleted only when it is the oldest record left (the runner deletes in insertion
 *   order; any other order is refused with an error, never faked). Segments wholly below the new
 *   log start offset are removed by the broker's retention check.
 * - `compact` — key = content sha256, `cleanup.policy=compact`. Compaction is held back while
 *   loading (`min.compaction.lag.ms` = 7 days), then the `compaction` and `maintenance` stages set
 *   the lag to 0 and `segment.ms` to 1 s, roll the active segment with a small marker record (the
 *   cleaner never touches the active segment) and poll DescribeLogDirs until the log size stops
 *   changing. Per-file delete = a tombstone (key, null value) for the content once no other stored
 *   file references it. The file → content references live in a second compacted topic
 *   `<lab>.<objectTag>.refs` (key = file id, value = sha256; tombstone on delete), so the count of
 *   stored files is read back from the server.
 *
 * Placement (SPEC §4.1) `across:K`: K data topics `<lab>.<objectTag>.p<k>`, file i in topic i mod K
 * (src/systems/shared/placement.ts); the `compact` variant keeps one refs topic, and a content is
 * tombstoned in a topic when no other file of that topic references it. Every stage, probe and
 * clean-up covers all K.
 *
 * Size probe `internal`: DescribeLogDirs partition sizes summed over the cell's topics. Kafka
 * reports the bytes of the partition's segment (.log) files: record batches with their headers,
 * not the offset/time indexes.
 */
import { z } from 'zod';
import type { Admin as KafkaAdmin, Consumer as KafkaConsumer, Producer as KafkaProducer } from '@platformatic/kafka';
import { assertObjectTag, pause } from './kv-common.js';
import { SYSTEM_LAYER, sizeProbe } from './shared/probes.js';
import { entriesOf, isPartitionDir, labFilesProbe } from './shared/lab-files.js';
import { errorMessage } from '../core/errors.js';
import { parseSystemOptions } from './shared/options.js';
import { batchFiles, notApplicable, releaseContent, throwIfAborted } from './shared/stages.js';
import { groupByObject, objectFor, objectNames } from './shared/placement.js';
import {
  assertLabName,
  type CellContext,
  type Deferral,
  type StageName,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';

const VARIANTS = ['delete', 'compact'] as const;
type KafkaVariant = (typeof VARIANTS)[number];

const brokerList = z.union([
  z.array(z.string().min(1)).min(1),
  z
    .string()
    .min(1)
    .transform((text) => text.split(',').map((item) => item.trim()).filter(Boolean)),
]);

const optionsSchema = z
  .object({
    brokers: brokerList.default(['127.0.0.1:9092']),
    clientId: z.string().min(1).default('dedup-lab'),
    /** Topic max.message.bytes: the biggest record batch (so the biggest file) the topic accepts. */
    maxMessageBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
    /** Bytes of files per produce request (a bigger file goes alone). */
    batchBytes: z.number().int().min(1).default(1024 * 1024),
    batchFiles: z.number().int().min(1).default(500),
    /** Produce requests in flight at once during bulk load. */
    sendsInFlight: z.number().int().min(1).default(4),
    /** Segment size of lab topics (Kafka's minimum is 1 MiB; raised above maxMessageBytes). */
    segmentBytes: z.number().int().min(1024 * 1024).default(1024 * 1024),
    /** Compaction wait: give up after this long, and call it settled after this long unchanged. */
    compactionTimeoutMs: z.number().int().positive().default(120_000),
    compactionStableMs: z.number().int().positive().default(4_000),
    pollIntervalMs: z.number().int().positive().default(250),
    requestTimeoutMs: z.number().int().positive().default(30_000),
    /** The broker's log.dirs when local, for the `fs` probe. */
    dataDir: z.string().min(1).optional(),
  })
  .strict();

export type KafkaOptions = z.infer<typeof optionsSchema>;

/** Held back while loading so compaction shows in the `compaction` stage, not during the load. */
const HOLD_COMPACTION_LAG_MS = String(7 * 24 * 3600 * 1000);
const ROLL_MARKER_KEY = Buffer.from('__dedup_lab_roll');
const INCREMENTAL_SET = 0; // IncrementalAlterConfigOperationTypes.SET
const TOPIC_RESOURCE = 2; // ConfigResourceTypes.TOPIC

function asVariant(variant: string): KafkaVariant {
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new Error(`kafka has no variant ${JSON.stringify(variant)}; valid: ${VARIANTS.join(', ')}`);
  }
  return variant as KafkaVariant;
}

/**
 * A record batch must fit in one segment (else the broker answers RECORD_LIST_TOO_LARGE), so the
 * segment size is raised above the biggest accepted batch when the configured one is smaller.
 */
export function effectiveSegmentBytes(options: KafkaOptions): number {
  return Math.max(options.segmentBytes, options.maxMessageBytes + 1024 * 1024);
}

/** Topic configs per variant (values are strings on the wire). */
export function topicConfigs(variant: KafkaVariant, options: KafkaOptions, role: 'data' | 'refs'): Record<string, string> {
  const common: Record<string, string> = {
    'max.message.bytes': String(options.maxMessageBytes),
    'segment.bytes': String(effectiveSegmentBytes(options)),
    // Removed segments go at once, so the broker's files match what DescribeLogDirs reports.
    'file.delete.delay.ms': '0',
    'retention.ms': '-1',
    'retention.bytes': '-1',
  };
  if (variant === 'delete' && role === 'data') return { ...common, 'cleanup.policy': 'delete' };
  return {
    ...common,
    'cleanup.policy': 'compact',
    'min.cleanable.dirty.ratio': '0.01',
    'delete.retention.ms': '0',
    'min.compaction.lag.ms': role === 'data' ? HOLD_COMPACTION_LAG_MS : '0',
    'segment.ms': role === 'data' ? String(7 * 24 * 3600 * 1000) : '1000',
  };
}

/** Live keys of a compacted topic's records read in order: the last value wins, null deletes. */
export function liveKeys(records: Iterable<{ key: string; value: string | null }>): Map<string, string> {
  const live = new Map<string, string>();
  for (const { key, value } of records) {
    if (value === null) live.delete(key);
    else live.set(key, value);
  }
  return live;
}

/**
 * The client wraps broker errors in nested AggregateErrors ("Producing messages failed."); the
 * broker's own reason (e.g. MESSAGE_TOO_LARGE) is in the innermost ones, so flatten them all.
 */
export function kafkaErrorText(error: unknown): string {
  const parts: string[] = [];
  const visit = (item: unknown, depth: number): void => {
    if (depth > 5 || item === null || item === undefined) return;
    const record = item as { message?: unknown; apiId?: unknown; errors?: unknown };
    const text = typeof record.message === 'string' ? record.message : String(item);
    parts.push(typeof record.apiId === 'string' ? `${record.apiId}: ${text}` : text);
    if (Array.isArray(record.errors)) for (const inner of record.errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return errorMessage(parts.join(' <- '));
}

interface CellState {
  /** delete variant: file id → offset of its record. */
  offsets: Map<number, bigint>;
  /** compact variant, for `readOne`: content sha256 → offset of its latest record (the one compaction keeps). */
  contentOffsets?: Map<string, bigint>;
  /** compact variant, for `readOne`: the live refs as last read from the server; dropped on every refs write. */
  refs?: Map<string, string> | undefined;
  /** For `readOne`: the data topic's id and leader, read fresh once per cell (a reset recreates the topic under a new id). */
  fetchTargets?: Map<string, { topicId: string; leader: number }>;
}

/** `contentOffsets` key: a content is one record per topic (placement across:K keeps a copy in each). */
function contentKey(topic: string, sha256: string): string {
  return `${topic}/${sha256}`;
}

class KafkaAdapter implements SystemAdapter {
  readonly id = 'kafka';
  private admin: KafkaAdmin | null = null;
  private producer: KafkaProducer | null = null;
  private consumer: KafkaConsumer | null = null;
  private readonly lab: string;
  private readonly cells = new Map<string, CellState>();
  private currentTopics: string[] = [];

  constructor(
    readonly instance: string,
    private readonly options: KafkaOptions,
    labName: string,
  ) {
    this.lab = assertLabName(labName);
  }

  private cellBase(cell: CellContext): string {
    return `${this.lab}.${assertObjectTag(cell.objectTag)}`;
  }

  /** The data topic file `fileId` goes to (`<lab>.<tag>` within, `<lab>.<tag>.p<k>` across). */
  topicOf(cell: CellContext, fileId = 0): string {
    return objectFor(fileId, this.cellBase(cell), cell.placement, '.');
  }

  /** Every data topic of the cell (one within, K across). */
  dataTopicsOf(cell: CellContext): string[] {
    return objectNames(this.cellBase(cell), cell.placement, '.');
  }

  refsTopicOf(cell: CellContext): string {
    return `${this.cellBase(cell)}.refs`;
  }

  private topicsOf(cell: CellContext): string[] {
    return asVariant(cell.variant) === 'compact' ? [...this.dataTopicsOf(cell), this.refsTopicOf(cell)] : this.dataTopicsOf(cell);
  }

  /** Only topics this lab created: `<lab>.<tag>`, `<lab>.<tag>.p<k>` or `<lab>.<tag>.refs`, nothing else. */
  isLabTopic(name: string): boolean {
    const rest = name.startsWith(`${this.lab}.`) ? name.slice(this.lab.length + 1) : null;
    return rest !== null && /^[a-z0-9]{1,16}(\.p[0-9]{1,2}|\.refs)?$/.test(rest);
  }

  private get kafkaAdmin(): KafkaAdmin {
    if (!this.admin) throw new Error('kafka adapter is not connected');
    return this.admin;
  }

  private get kafkaProducer(): KafkaProducer {
    if (!this.producer) throw new Error('kafka adapter is not connected');
    return this.producer;
  }

  async connect(): Promise<void> {
    if (this.admin) return;
    const { Admin, Producer, Consumer } = await import('@platformatic/kafka');
    const base = {
      clientId: this.options.clientId,
      bootstrapBrokers: this.options.brokers,
      timeout: this.options.requestTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      retries: 2,
    };
    const admin = new Admin(base);
    try {
      await admin.listTopics();
    } catch (error) {
      await admin.close().catch(() => undefined);
      throw new Error(`kafka: cannot reach ${this.options.brokers.join(',')}: ${errorMessage(error)}`, { cause: error });
    }
    this.admin = admin;
    // acks = -1: the leader answers only when every in-sync replica has the batch.
    this.producer = new Producer({ ...base, acks: -1, idempotent: false, autocreateTopics: false });
    // Used only for plain fetches of the small refs topic; it never joins its group.
    this.consumer = new Consumer({ ...base, groupId: `${this.options.clientId}-reader` });
  }

  async close(): Promise<void> {
    const clients = [this.producer, this.consumer, this.admin];
    this.producer = null;
    this.consumer = null;
    this.admin = null;
    for (const client of clients) await client?.close().catch(() => undefined);
  }

  async version(): Promise<string> {
    // Kafka has no version request; ApiVersions only gives protocol ranges. The broker's
    // software version is not exposed over the protocol before KIP-511 clients, so report what the
    // metadata gives: cluster id and broker count, plus the client library.
    const metadata = await this.kafkaAdmin.metadata({ topics: [] });
    return `kafka cluster ${metadata.id} (${metadata.brokers.size} broker(s))`;
  }

  private async labTopics(): Promise<string[]> {
    return (await this.kafkaAdmin.listTopics()).filter((name) => this.isLabTopic(name));
  }

  private async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    if (topics.some((topic) => !this.isLabTopic(topic))) throw new Error('refusing to delete a topic outside the lab');
    await this.kafkaAdmin.deleteTopics({ topics });
    // Deletion is asynchronous: wait until the broker no longer lists them.
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (;;) {
      const left = (await this.kafkaAdmin.listTopics()).filter((name) => topics.includes(name));
      if (left.length === 0) return;
      if (Date.now() > deadline) throw new Error(`kafka: topics still listed after delete: ${left.join(', ')}`);
      await pause(100);
    }
  }

  async resetLab(cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    await this.deleteTopics(await this.labTopics());
    this.cells.clear();
    const wanted = this.topicsOf(cell);
    for (const topic of wanted) {
      const configs = topicConfigs(variant, this.options, topic.endsWith('.refs') ? 'refs' : 'data');
      const deadline = Date.now() + this.options.requestTimeoutMs;
      for (;;) {
        try {
          await this.kafkaAdmin.createTopics({
            topics: [topic],
            partitions: 1,
            replicas: -1,
            configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
          });
          break;
        } catch (error) {
          // A just-deleted topic of the same name can still be going away.
          if (Date.now() > deadline) throw new Error(`kafka: cannot create topic ${topic}: ${errorMessage(error)}`, { cause: error });
          await pause(200);
        }
      }
    }
    this.currentTopics = wanted;
    this.cells.set(cell.objectTag, { offsets: new Map() });
    // Make sure the producer sees the new topics before the first send.
    await this.kafkaProducer.metadata({ topics: wanted, forceUpdate: true });
  }

  async dropLab(): Promise<void> {
    await this.deleteTopics(await this.labTopics());
    this.cells.clear();
    this.currentTopics = [];
  }

  private state(cell: CellContext): CellState {
    let state = this.cells.get(cell.objectTag);
    if (!state) {
      state = { offsets: new Map() };
      this.cells.set(cell.objectTag, state);
    }
    return state;
  }

  /** Produce one batch; every file in it is acknowledged or failed together (one request). */
  private async produceBatch(batch: LabFile[], cell: CellContext): Promise<WriteOutcome> {
    const variant = asVariant(cell.variant);
    try {
      const result = await this.kafkaProducer.send({
        messages: batch.map((file) => ({
          topic: this.topicOf(cell, file.id),
          partition: 0,
          key: Buffer.from(variant === 'delete' ? String(file.id) : file.sha256),
          value: file.content,
        })),
      });
      // One partition per topic and one record batch per topic in a request: a topic's records get consecutive offsets.
      const state = this.state(cell);
      const offsets = state.offsets;
      for (const [topic, group] of groupByObject(batch, this.cellBase(cell), cell.placement, '.')) {
        const base = result.offsets?.find((entry) => entry.topic === topic)?.offset;
        if (base === undefined) throw new Error(`kafka: produce answered without an offset for ${topic}`);
        group.forEach((file, index) => offsets.set(file.id, base + BigInt(index)));
        if (variant === 'compact') {
          // The content's latest record per topic: the one compaction keeps there (`readOne`).
          state.contentOffsets ??= new Map();
          group.forEach((file, index) => state.contentOffsets!.set(contentKey(topic, file.sha256), base + BigInt(index)));
        }
      }
      if (variant === 'compact') state.refs = undefined;
      if (variant === 'compact') {
        await this.kafkaProducer.send({
          messages: batch.map((file) => ({
            topic: this.refsTopicOf(cell),
            partition: 0,
            key: Buffer.from(String(file.id)),
            value: Buffer.from(file.sha256),
          })),
        });
      }
      return { acknowledged: batch.map((file) => file.id), failed: [] };
    } catch (error) {
      const text = kafkaErrorText(error);
      return { acknowledged: [], failed: batch.map((file) => ({ id: file.id, error: text })) };
    }
  }

  /**
   * A record batch is accepted or refused as a whole. When the broker refuses one as too large,
   * nothing of it was written, so its files are sent again one by one: only the files that are
   * really too big end up failed. Any other error fails the whole batch (a retry could duplicate
   * records the broker did write).
   */
  private async produceBatchSplittingTooLarge(batch: LabFile[], cell: CellContext): Promise<WriteOutcome> {
    const outcome = await this.produceBatch(batch, cell);
    if (batch.length === 1 || !outcome.failed.some((failure) => /too large|MESSAGE_TOO_LARGE|RecordTooLarge/i.test(failure.error))) {
      return outcome;
    }
    const total: WriteOutcome = { acknowledged: [], failed: [] };
    for (const file of batch) {
      const single = await this.produceBatch([file], cell);
      total.acknowledged.push(...single.acknowledged);
      total.failed.push(...single.failed);
    }
    return total;
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    throwIfAborted(cell.signal);
    const total: WriteOutcome = { acknowledged: [], failed: [] };
    const inFlight = new Set<Promise<void>>();
    // A batch must fit the topic's max.message.bytes with room for record headers and keys.
    const batchBytes = Math.min(this.options.batchBytes, Math.floor(this.options.maxMessageBytes * 0.9));
    for await (const batch of batchFiles(files, this.options.batchFiles, batchBytes)) {
      if (cell.signal.aborted) break;
      const task = this.produceBatchSplittingTooLarge(batch, cell).then((outcome) => {
        total.acknowledged.push(...outcome.acknowledged);
        total.failed.push(...outcome.failed);
        // The broker acknowledged these records: their bytes are freed now, not at the next GC.
        const acknowledged = new Set(outcome.acknowledged);
        for (const file of batch) if (acknowledged.has(file.id)) releaseContent(file);
      });
      const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= this.options.sendsInFlight) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    throwIfAborted(cell.signal);
    total.acknowledged.sort((a, b) => a - b);
    total.failed.sort((a, b) => a.id - b.id);
    return total;
  }

  /** Let the cleaner run now, roll the active segment, and wait until the log stops changing. */
  private async runCompaction(cell: CellContext): Promise<void> {
    const topics = this.dataTopicsOf(cell);
    const topic = topics.join(', ');
    await this.kafkaAdmin.incrementalAlterConfigs({
      resources: topics.map((name) => ({
        resourceType: TOPIC_RESOURCE,
        resourceName: name,
        configs: [
          { name: 'min.compaction.lag.ms', configOperation: INCREMENTAL_SET, value: '0' },
          { name: 'segment.ms', configOperation: INCREMENTAL_SET, value: '1000' },
        ],
      })),
    });
    // A segment rolls on the first append after segment.ms: wait that long once, then append the
    // marker so every data record sits in a closed (cleanable) segment.
    await pause(1100);
    await this.kafkaProducer.send({
      messages: topics.map((name) => ({ topic: name, partition: 0, key: ROLL_MARKER_KEY, value: Buffer.alloc(0) })),
    });
    const deadline = Date.now() + this.options.compactionTimeoutMs;
    let last = await this.topicBytes(topics);
    let unchangedSince = Date.now();
    while (!cell.signal.aborted) {
      await pause(this.options.pollIntervalMs);
      const now = await this.topicBytes(topics);
      if (now !== last) {
        last = now;
        unchangedSince = Date.now();
      } else if (Date.now() - unchangedSince >= this.options.compactionStableMs) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`kafka: log of ${topic} still changing after ${this.options.compactionTimeoutMs} ms of compaction`);
      }
    }
  }

  /**
   * Segments the cleaner or a retention step removes are renamed `.deleted` and unlinked after
   * `file.delete.delay.ms` (broker default 60 s); read back from the lab topics' real config.
   */
  async deferrals(cell: CellContext, _stage: StageName): Promise<Deferral[]> {
    const answer = await this.kafkaAdmin.describeConfigs({
      resources: this.topicsOf(cell).map((topic) => ({ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: ['file.delete.delay.ms'] })),
    });
    const delays = answer.flatMap((resource) => resource.configs.filter((config) => config.name === 'file.delete.delay.ms').map((config) => Number(config.value ?? 60_000)));
    return [{ name: 'file.delete.delay.ms', durationMs: Math.max(0, ...delays), source: 'topic config (DescribeConfigs)' }];
  }

  async compact(cell: CellContext): Promise<void | NotApplicable> {
    if (asVariant(cell.variant) === 'delete') {
      return notApplicable('the delete variant uses cleanup.policy=delete: Kafka has no compaction for it');
    }
    await this.runCompaction(cell);
  }

  async insertOne(file: LabFile, cell: CellContext): Promise<void> {
    const outcome = await this.produceBatch([file], cell);
    const failure = outcome.failed[0];
    if (failure) throw new Error(failure.error);
  }

  private async partitionOffsets(topic: string): Promise<{ start: bigint; end: bigint }> {
    const read = async (timestamp: bigint): Promise<bigint> => {
      const answer = await this.kafkaAdmin.listOffsets({
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }],
      } as Parameters<KafkaAdmin['listOffsets']>[0]);
      const offset = answer.find((entry) => entry.name === topic)?.partitions[0]?.offset;
      if (offset === undefined) throw new Error(`kafka: no offsets for ${topic}`);
      return offset;
    };
    // -2 = earliest (log start offset), -1 = latest (high watermark).
    return { start: await read(-2n), end: await read(-1n) };
  }

  /** Records of a small topic in order, via plain fetches from its log start to its high watermark. */
  private async readTopic(topic: string): Promise<{ key: string; value: string | null }[]> {
    if (!this.consumer) throw new Error('kafka adapter is not connected');
    const metadata = await this.kafkaAdmin.metadata({ topics: [topic], forceUpdate: true });
    const info = metadata.topics.get(topic);
    const leader = info?.partitions[0]?.leader;
    if (!info || leader === undefined) throw new Error(`kafka: topic ${topic} not found`);
    const { start, end } = await this.partitionOffsets(topic);
    const records: { key: string; value: string | null }[] = [];
    let next = start;
    while (next < end) {
      const response = await this.consumer.fetch({
        node: leader,
        topics: [
          {
            topicId: info.id,
            partitions: [
              { partition: 0, currentLeaderEpoch: -1, fetchOffset: next, lastFetchedEpoch: -1, partitionMaxBytes: 4 * 1024 * 1024 },
            ],
          },
        ],
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 8 * 1024 * 1024,
      });
      const partition = response.responses[0]?.partitions[0];
      if (!partition) throw new Error(`kafka: empty fetch answer for ${topic}`);
      if (partition.errorCode !== 0) throw new Error(`kafka: fetch of ${topic} failed with error code ${partition.errorCode}`);
      const before = next;
      for (const batch of partition.records ?? []) {
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta);
          if (offset < next) continue; // a fetch can start mid-batch
          records.push({ key: record.key?.toString() ?? '', value: record.value === null ? null : record.value.toString() });
          next = offset + 1n;
        }
        // Compaction leaves gaps: the batch's last offset moves us on even without a record there.
        const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if (batchEnd > next) next = batchEnd;
      }
      if (next === before) throw new Error(`kafka: fetch of ${topic} made no progress at offset ${next}`);
    }
    return records;
  }

  private async liveRefs(cell: CellContext): Promise<Map<string, string>> {
    return liveKeys(await this.readTopic(this.refsTopicOf(cell)));
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    const topic = this.topicOf(cell, file.id);
    if (variant === 'delete') {
      const offset = this.state(cell).offsets.get(file.id);
      const { start, end } = await this.partitionOffsets(topic);
      if (offset === undefined || offset < start || offset >= end) {
        throw new Error(`kafka: delete of file ${file.id} did nothing (not stored in ${topic})`);
      }
      if (offset !== start) {
        throw new Error(
          `kafka: file ${file.id} is at offset ${offset} but the oldest record is at ${start}; DeleteRecords removes only a prefix, so delete in insertion order`,
        );
      }
      const answer = await this.kafkaAdmin.deleteRecords({
        topics: [{ name: topic, partitions: [{ partition: 0, offset: offset + 1n }] }],
      });
      const low = answer.find((entry) => entry.name === topic)?.partitions[0]?.lowWatermark;
      if (low !== offset + 1n) throw new Error(`kafka: DeleteRecords left the low watermark at ${String(low)}, not ${offset + 1n}`);
      this.state(cell).offsets.delete(file.id);
      return;
    }
    const refs = await this.liveRefs(cell);
    const sha = refs.get(String(file.id));
    if (sha === undefined) throw new Error(`kafka: delete of file ${file.id} did nothing (not stored in ${topic})`);
    // Per topic: a content another topic holds is a separate copy there.
    const stillReferenced = [...refs].some(([id, other]) => other === sha && id !== String(file.id) && this.topicOf(cell, Number(id)) === topic);
    this.state(cell).refs = undefined;
    await this.kafkaProducer.send({
      messages: [{ topic: this.refsTopicOf(cell), partition: 0, key: Buffer.from(String(file.id)) }],
    });
    if (!stillReferenced) {
      // Tombstone: the cleaner drops the content (and then the tombstone) at the next compaction.
      await this.kafkaProducer.send({ messages: [{ topic, partition: 0, key: Buffer.from(sha) }] });
    }
  }

  async maintenance(cell: CellContext): Promise<void | NotApplicable> {
    if (asVariant(cell.variant) === 'delete') {
      return notApplicable(
        'the delete variant has no reclaiming command: the broker removes segments below the log start offset on its own retention check (log.retention.check.interval.ms)',
      );
    }
    await this.runCompaction(cell);
  }

  // SPEC §4.1 capabilities.
  /** delete: one DeleteRecords when the files are the log's oldest prefix; compact: all tombstones in one produce. */
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void | NotApplicable> {
    const groups = groupByObject(files, this.cellBase(cell), cell.placement, '.');
    if (asVariant(cell.variant) === 'delete') {
      const cuts: [string, bigint][] = [];
      for (const [topic, group] of groups) {
        const offsets = group.map((file) => this.state(cell).offsets.get(file.id));
        const { start } = await this.partitionOffsets(topic);
        const sorted = offsets.filter((offset): offset is bigint => offset !== undefined).sort((a, b) => (a < b ? -1 : 1));
        const isPrefix = sorted.length === group.length && sorted.every((offset, index) => offset === start + BigInt(index));
        if (!isPrefix) return notApplicable(`kafka DeleteRecords removes only the oldest records of a partition; these files are not a prefix of the log of ${topic}`);
        cuts.push([topic, start + BigInt(sorted.length)]);
      }
      for (const [topic, offset] of cuts) await this.deleteBelow(topic, offset);
      for (const file of files) this.state(cell).offsets.delete(file.id);
      return;
    }
    const refs = await this.liveRefs(cell);
    const gone = new Set(files.map((file) => String(file.id)));
    // A content stays in a topic while another file of that topic references it.
    const remaining = new Set([...refs].filter(([id]) => !gone.has(id)).map(([id, sha]) => `${this.topicOf(cell, Number(id))}/${sha}`));
    const tombstones = new Map<string, { topic: string; sha: string }>();
    for (const file of files) {
      const sha = refs.get(String(file.id));
      const topic = this.topicOf(cell, file.id);
      if (sha !== undefined && !remaining.has(`${topic}/${sha}`)) tombstones.set(`${topic}/${sha}`, { topic, sha });
    }
    this.state(cell).refs = undefined;
    await this.kafkaProducer.send({
      messages: [
        ...files.map((file) => ({ topic: this.refsTopicOf(cell), partition: 0, key: Buffer.from(String(file.id)) })),
        ...[...tombstones.values()].map(({ topic, sha }) => ({ topic, partition: 0, key: Buffer.from(sha) })),
      ],
    });
  }

  private async deleteBelow(topic: string, offset: bigint): Promise<void> {
    const answer = await this.kafkaAdmin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset }] }] });
    const low = answer.find((entry) => entry.name === topic)?.partitions[0]?.lowWatermark;
    if (low !== offset) throw new Error(`kafka: DeleteRecords left the low watermark at ${String(low)}, not ${offset}`);
  }

  /** Kafka's purge: DeleteRecords up to the high watermark (a compacted topic refuses DeleteRecords). */
  async truncate(cell: CellContext): Promise<void | NotApplicable> {
    if (asVariant(cell.variant) === 'compact') return notApplicable('kafka refuses DeleteRecords on a compact-only topic; its purge works on the delete variant');
    for (const topic of this.dataTopicsOf(cell)) await this.deleteBelow(topic, (await this.partitionOffsets(topic)).end);
    this.state(cell).offsets.clear();
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    // The lab holds this cell's topics only: reset deletes them and creates them again, empty.
    await this.resetLab(cell);
  }

  /**
   * `read`: one fetch at the file's offset (delete: its own record; compact: the content's latest
   * record, the one compaction keeps, after the refs topic says the file is stored). Kafka answers
   * a fetch with the whole record batch holding that offset, so a file produced in a bulk batch
   * travels with its batch neighbours: that is what reading one record costs in Kafka.
   */
  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const topic = this.topicOf(cell, file.id);
    const state = this.state(cell);
    let offset: bigint | undefined;
    let key: string;
    if (asVariant(cell.variant) === 'delete') {
      offset = state.offsets.get(file.id);
      key = String(file.id);
    } else {
      state.refs ??= await this.liveRefs(cell);
      const sha = state.refs.get(String(file.id));
      if (sha === undefined) throw new Error(`kafka: file ${file.id} is not stored in ${topic} (no live ref)`);
      offset = state.contentOffsets?.get(contentKey(topic, sha));
      key = sha;
    }
    if (offset === undefined) throw new Error(`kafka: file ${file.id} is not stored in ${topic} (no offset recorded for it: deleted, or not produced by this run)`);
    const record = await this.fetchAt(cell, topic, offset);
    if (!record || record.key !== key || record.value === null) {
      throw new Error(`kafka: file ${file.id} is not stored in ${topic} (offset ${offset} holds ${record ? `key ${record.key}${record.value === null ? ', a tombstone' : ''}` : 'no record'})`);
    }
    return record.value;
  }

  /** The record at exactly `offset` of partition 0, or null when it is gone (deleted prefix, compacted away). */
  private async fetchAt(cell: CellContext, topic: string, offset: bigint): Promise<{ key: string; value: Buffer | null } | null> {
    if (!this.consumer) throw new Error('kafka adapter is not connected');
    const target = await this.fetchTargetOf(cell, topic);
    // A fetch's byte limits are soft: the first record batch comes back whole however large it is
    // (KIP-74). Asking for 1 byte fetches only the batch holding `offset`; the topic's
    // max.message.bytes (16 MiB) brought up to 16 MiB of the following records with every read,
    // all decoded by the client (the tool's peak at 1 GiB: 270 MiB, measured).
    const maxBytes = 1;
    let response: Awaited<ReturnType<KafkaConsumer['fetch']>>;
    try {
      response = await this.consumer.fetch({
        node: target.leader,
        topics: [{ topicId: target.topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: maxBytes }] }],
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes,
      });
    } catch (error) {
      // The client throws for a partition error code; below the log start is "not stored".
      const text = kafkaErrorText(error);
      if (/OFFSET_OUT_OF_RANGE/i.test(text)) return null;
      throw new Error(`kafka: fetch of ${topic} at offset ${offset} failed: ${text}`, { cause: error });
    }
    for (const batch of response.responses[0]?.partitions[0]?.records ?? []) {
      for (const record of batch.records) {
        if (batch.firstOffset + BigInt(record.offsetDelta) === offset) return { key: record.key?.toString() ?? '', value: record.value ?? null };
      }
    }
    return null;
  }

  private async fetchTargetOf(cell: CellContext, topic: string): Promise<{ topicId: string; leader: number }> {
    const state = this.state(cell);
    const known = state.fetchTargets?.get(topic);
    if (known) return known;
    const info = (await this.kafkaAdmin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic);
    const leader = info?.partitions[0]?.leader;
    if (!info || leader === undefined) throw new Error(`kafka: topic ${topic} not found`);
    const target = { topicId: info.id, leader };
    (state.fetchTargets ??= new Map()).set(topic, target);
    return target;
  }

  /** Kafka keeps no record cache of its own: reads are served from the OS page cache of its log dir. */
  async dropCaches(_cell: CellContext): Promise<string> {
    return 'Kafka: no cache of its own (the broker serves fetches from the OS page cache of its log segments)';
  }

  async countStored(cell: CellContext): Promise<number> {
    if (asVariant(cell.variant) === 'delete') {
      let stored = 0;
      for (const topic of this.dataTopicsOf(cell)) {
        const { start, end } = await this.partitionOffsets(topic);
        stored += Number(end - start);
      }
      return stored;
    }
    return (await this.liveRefs(cell)).size;
  }

  settle(): Promise<void> {
    // Acknowledged produces are in the log (acks=-1) before the answer; nothing to flush.
    return Promise.resolve();
  }

  /** Σ DescribeLogDirs partition sizes over the given topics, across every broker and log dir. */
  async topicBytes(topics: string[]): Promise<number> {
    if (topics.length === 0) return 0;
    const dirs = await this.kafkaAdmin.describeLogDirs({
      topics: topics.map((name) => ({ name, partitions: [0] })),
    });
    let total = 0n;
    for (const broker of dirs) {
      for (const result of broker.results) {
        for (const topic of result.topics) {
          if (!topics.includes(topic.name)) continue;
          for (const partition of topic.partitions) if (!partition.isFutureKey) total += partition.partitionSize;
        }
      }
    }
    return Number(total);
  }

  probes(cell: CellContext): Probe[] {
    const topics = this.topicsOf(cell);
    const internal = sizeProbe('internal', SYSTEM_LAYER, () => this.topicBytes(topics), { settleTimeoutMs: 30_000, pollIntervalMs: 250 });
    const dataDir = this.options.dataDir;
    // The lab topics' live partition directories (segments, indexes, and `.deleted` files until file.delete.delay.ms).
    return dataDir ? [internal, labFilesProbe(() => entriesOf(dataDir, (name) => topics.some((topic) => isPartitionDir(topic, name))))] : [internal];
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    if (!this.admin || this.currentTopics.length === 0) return {};
    return { labLogBytes: await this.topicBytes(this.currentTopics) };
  }
}

export const definition: SystemDefinition<KafkaOptions> = {
  id: 'kafka',
  kind: 'server',
  variants: VARIANTS,
  modes: ['blob'],
  placementAcross: true,
  parseOptions(raw: unknown): KafkaOptions {
    return parseSystemOptions('kafka', optionsSchema, raw);
  },
  create(instance: string, options: KafkaOptions, labName: string): SystemAdapter {
    return new KafkaAdapter(instance, options, labName);
  },
};
