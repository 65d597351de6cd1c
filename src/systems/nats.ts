/**
 * NATS JetStream adapter (SPEC §5.2, §5.3): one stream per cell, `<lab>_<objectTag>`, file storage,
 * subjects `<lab>.<objectTag>.>`; one message per file on `<lab>.<objectTag>.f.<fileId>`, published
 * asynchronously (many publishes in flight) and counted only when its PubAck arrived.
 *
 * Variants:
 * - `plain` — no message id: every file is stored.
 * - `msg-id` — `Nats-Msg-Id` = content sha256 and a duplicate window covering the run: the server
 *   drops a duplicate at ingestion and answers PubAck{duplicate: true, seq: <original>}. Each file
 *   also gets a tiny reference message on `<lab>.<objectTag>.r.<fileId>` whose payload is the
 *   sequence of the message holding its content, so the count of stored files is read back from
 *   the server and a per-file delete removes the content only when no other stored file references
 *   it. A duplicate acknowledged against a message that was already deleted is a failed write
 *   (the server dropped the bytes), never counted as stored.
 *   The file → content map used by deletes is a cache of those reference messages: a process
 *   that did not create the stream (a restart, a reconnect) rebuilds it from the stream's
 *   `r.<fileId>` subjects, and each delete reads the content sequence from the file's own
 *   reference message on the server.
 *
 * Placement (SPEC §4.1) `across:K`: K streams `<lab>_<objectTag>_p<k>` on subjects
 * `<lab>.<objectTag>_p<k>.>`, file i in stream i mod K. The duplicate window is per stream, so
 * `msg-id` drops a copy only when its original is in the same stream. Probes sum over all K.
 *
 * Probes: `internal` = stream info `state.bytes` (message payload + subject + headers, as JetStream
 * accounts them); the runner's `fs` probe reads the JetStream store directory (`dataDir`).
 * No compaction or maintenance: JetStream has no space-reclaiming command — a deleted message
 * leaves the stream state at once and the file store rewrites or removes its blocks by itself;
 * `purge` deletes messages and is not a reclaim operation.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { registerSecret } from '../config/secrets.js';
import { assertObjectTag, forEachFileLimited} from './kv-common.js';
import { LOGICAL_LAYER, sizeProbe } from './shared/probes.js';
import { entriesOf, labFilesProbe } from './shared/lab-files.js';
import { errorMessage } from '../core/errors.js';
import { parseSystemOptions } from './shared/options.js';
import { notApplicable, throwIfAborted } from './shared/stages.js';
import { objectFor, objectNames } from './shared/placement.js';
import {
  assertLabName,
  type CellContext,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';

const VARIANTS = ['plain', 'msg-id'] as const;
type NatsVariant = (typeof VARIANTS)[number];

const optionsSchema = z
  .object({
    servers: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]).default('127.0.0.1:4222'),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    /** Publishes awaiting their ack at once during bulk load. */
    publishesInFlight: z.number().int().min(1).default(64),
    /**
     * …and at most this many bytes of files: 64 unacknowledged publishes of ≈ 0.5 MiB files, each
     * also copied into the client's outbound buffer, held 131 MiB of buffers at 1 GiB (measured).
     */
    publishInFlightBytes: z.number().int().min(1).default(16 * 1024 * 1024),
    /** Duplicate window of msg-id streams: must cover the whole run. */
    duplicateWindowMs: z.number().int().positive().default(3600_000),
    /** Stream max_msg_size; -1 leaves the server's max_payload as the only limit. */
    maxMsgSize: z.number().int().min(-1).default(-1),
    /** JetStream store directory when local, for the `fs` probe. */
    dataDir: z.string().min(1).optional(),
    timeoutMs: z.number().int().positive().default(30_000),
  })
  .strict();

export type NatsOptions = z.infer<typeof optionsSchema>;

function asVariant(variant: string): NatsVariant {
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new Error(`nats has no variant ${JSON.stringify(variant)}; valid: ${VARIANTS.join(', ')}`);
  }
  return variant as NatsVariant;
}

/**
 * msg-id bookkeeping of one cell: which files reference which content message (file id →
 * sequence of the content message). A cache of what the reference messages on the server say:
 * built empty with a new stream, rebuilt from the stream's reference subjects by a process that
 * did not create it (after a restart or reconnect), kept up to date by our own publishes/deletes.
 */
interface RefState {
  contentSeq: Map<number, number>;
}

/** Payload of a reference message: the sequence of the content message, in decimal. */
export function parseRefPayload(data: Uint8Array): number {
  const text = Buffer.from(data).toString('latin1');
  const seq = Number(text);
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(seq)) throw new Error(`nats: reference message holds ${JSON.stringify(text.slice(0, 40))}, not a sequence`);
  return seq;
}

class NatsAdapter implements SystemAdapter {
  readonly id = 'nats';
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private readonly lab: string;
  private readonly refs = new Map<string, Promise<RefState>>();
  private currentStream: string | null = null;

  constructor(
    readonly instance: string,
    private readonly options: NatsOptions,
    labName: string,
  ) {
    this.lab = assertLabName(labName);
  }

  /** The stream file `fileId` goes to: `<lab>_<tag>`, or `<lab>_<tag>_p<k>` under `across:K`. */
  streamOf(cell: CellContext, fileId = 0): string {
    return objectFor(fileId, `${this.lab}_${assertObjectTag(cell.objectTag)}`, cell.placement);
  }

  /** Every stream of the cell (one, or K under `across:K`). */
  streamsOf(cell: CellContext): string[] {
    return objectNames(`${this.lab}_${assertObjectTag(cell.objectTag)}`, cell.placement);
  }

  /** Subjects of the stream of file `fileId`: `<lab>.<tag>` or `<lab>.<tag>_p<k>`. */
  private subjectBase(cell: CellContext, fileId = 0): string {
    return objectFor(fileId, `${this.lab}.${assertObjectTag(cell.objectTag)}`, cell.placement);
  }

  /** Only streams this lab created: `<lab>_<tag>` or `<lab>_<tag>_p<k>` exactly. */
  isLabStream(name: string): boolean {
    return name.startsWith(`${this.lab}_`) && /^[a-z0-9]{1,16}(_p[0-9]{1,2})?$/.test(name.slice(this.lab.length + 1));
  }

  private get manager(): JetStreamManager {
    if (!this.jsm) throw new Error('nats adapter is not connected');
    return this.jsm;
  }

  private get client(): JetStreamClient {
    if (!this.js) throw new Error('nats adapter is not connected');
    return this.js;
  }

  async connect(): Promise<void> {
    if (this.nc) return;
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
    try {
      this.nc = await connect({
        servers: this.options.servers,
        user: this.options.user,
        pass: this.options.password,
        timeout: this.options.timeoutMs,
        // The runner retries a failed cell; do not hide an outage behind endless reconnects.
        maxReconnectAttempts: 3,
      });
    } catch (error) {
      throw new Error(`nats: cannot connect to ${String(this.options.servers)}: ${errorMessage(error)}`, { cause: error });
    }
    this.js = jetstream(this.nc, { timeout: this.options.timeoutMs });
    this.jsm = await jetstreamManager(this.nc, { timeout: this.options.timeoutMs });
  }

  async close(): Promise<void> {
    // The server is the truth: a later connect() rebuilds the reference cache from it.
    this.refs.clear();
    const nc = this.nc;
    this.nc = null;
    this.js = null;
    this.jsm = null;
    if (nc) await nc.drain().catch(() => nc.close());
  }

  async version(): Promise<string> {
    if (!this.nc) throw new Error('nats adapter is not connected');
    return this.nc.info?.version ?? 'unknown';
  }

  private async labStreams(): Promise<string[]> {
    const names: string[] = [];
    for await (const name of this.manager.streams.names()) if (this.isLabStream(name)) names.push(name);
    return names;
  }

  private async deleteStreams(): Promise<void> {
    for (const name of await this.labStreams()) {
      if (!this.isLabStream(name)) throw new Error('refusing to delete a stream outside the lab');
      await this.manager.streams.delete(name);
    }
    this.refs.clear();
    this.currentStream = null;
  }

  async resetLab(cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    await this.deleteStreams();
    const { StorageType, DiscardPolicy, RetentionPolicy } = await import('@nats-io/jetstream');
    const { nanos } = await import('@nats-io/transport-node');
    for (const [index, name] of this.streamsOf(cell).entries()) {
      await this.manager.streams.add({
        name,
        subjects: [`${this.subjectBase(cell, index)}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_msgs: -1,
        max_bytes: -1,
        max_age: 0,
        max_msg_size: this.options.maxMsgSize,
        num_replicas: 1,
        // msg-id: the window must cover the run; plain streams never set a message id.
        duplicate_window: nanos(variant === 'msg-id' ? this.options.duplicateWindowMs : 120_000),
        // Reads use the direct get API (raw bytes); storage is the same with it on or off.
        allow_direct: true,
      });
      this.refs.set(name, Promise.resolve({ contentSeq: new Map() }));
    }
    this.currentStream = this.streamOf(cell);
  }

  async dropLab(): Promise<void> {
    await this.deleteStreams();
  }

  /** The reference map of the stream of file `fileId` (sequences are per stream). */
  private refState(cell: CellContext, fileId = 0): Promise<RefState> {
    const name = this.streamOf(cell, fileId);
    let state = this.refs.get(name);
    if (!state) {
      state = this.loadRefState(cell, fileId);
      this.refs.set(name, state);
      state.catch(() => this.refs.delete(name)); // a failed rebuild is retried by the next caller
    }
    return state;
  }

  /** Rebuild the file → content map from the last reference message of every `<base>.r.<id>`. */
  private async loadRefState(cell: CellContext, fileId: number): Promise<RefState> {
    const stream = this.streamOf(cell, fileId);
    const prefix = `${this.subjectBase(cell, fileId)}.r.`;
    const info = await this.manager.streams.info(stream, { subjects_filter: `${prefix}>` });
    const contentSeq = new Map<number, number>();
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const id = Number(subject.slice(prefix.length));
      if (!Number.isSafeInteger(id) || id < 0) throw new Error(`nats: unexpected reference subject ${subject} in ${stream}`);
      const message = await this.manager.streams.getMessage(stream, { last_by_subj: subject });
      if (message) contentSeq.set(id, parseRefPayload(message.data));
    }
    return { contentSeq };
  }

  /** Publish one file and wait for its ack; resolves only when the server holds the file. */
  private async publishFile(file: LabFile, cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    const base = this.subjectBase(cell, file.id);
    const stream = this.streamOf(cell, file.id);
    if (variant === 'plain') {
      const ack = await this.client.publish(`${base}.f.${file.id}`, file.content, { expect: { streamName: stream } });
      if (ack.duplicate) throw new Error(`nats: file ${file.id} acknowledged as a duplicate in a plain stream`);
      return;
    }
    const state = await this.refState(cell, file.id);
    const ack = await this.client.publish(`${base}.f.${file.id}`, file.content, {
      msgID: file.sha256,
      expect: { streamName: stream },
    });
    if (ack.duplicate) {
      // The server dropped the bytes as a copy of message ack.seq: it must still be stored.
      // Asked of the server: a concurrent publish of the same content may not have recorded yet.
      const held = await this.manager.streams.getMessage(stream, { seq: ack.seq }).then(
        (message) => message !== null,
        () => false,
      );
      if (!held) {
        throw new Error(
          `nats: file ${file.id} was dropped as a duplicate of message ${ack.seq}, which is no longer stored (duplicate window outlives deletes)`,
        );
      }
    }
    await this.client.publish(`${base}.r.${file.id}`, Buffer.from(String(ack.seq)), {
      expect: { streamName: stream },
    });
    state.contentSeq.set(file.id, ack.seq);
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    throwIfAborted(cell.signal);
    const limit = { files: this.options.publishesInFlight, bytes: this.options.publishInFlightBytes };
    const outcome = await forEachFileLimited(files, limit, cell.signal, (file) =>
      this.publishFile(file, cell),
    );
    throwIfAborted(cell.signal);
    return outcome;
  }

  compact(): Promise<NotApplicable> {
    return Promise.resolve(
      notApplicable('JetStream has no compaction command: messages are stored as published (dedup happens at ingestion)'),
    );
  }

  insertOne(file: LabFile, cell: CellContext): Promise<void> {
    return this.publishFile(file, cell);
  }

  /**
   * The last message on `subject`, by JetStream's direct get: the payload travels as raw bytes. The
   * STREAM.MSG.GET API answers in JSON with the payload in base64, which the client decodes byte by
   * byte into a new array (≈ 3 copies of a file in memory per read, and the tool's decoding time
   * counted as the system's read latency).
   */
  private async lastOn(stream: string, subject: string): Promise<{ seq: number; data: Uint8Array } | null> {
    try {
      const message = await this.manager.direct.getMessage(stream, { last_by_subj: subject });
      return message ? { seq: message.seq, data: message.data } : null;
    } catch (error) {
      if (/no message found|not found/i.test(errorMessage(error))) return null;
      throw error;
    }
  }

  private async deleteSeq(stream: string, seq: number): Promise<void> {
    // erase = false: remove the message (JetStream then drops it from state and its block).
    const ok = await this.manager.streams.deleteMessage(stream, seq, false);
    if (!ok) throw new Error(`nats: delete of message ${seq} in ${stream} was refused`);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const variant = asVariant(cell.variant);
    const stream = this.streamOf(cell, file.id);
    const base = this.subjectBase(cell, file.id);
    if (variant === 'plain') {
      const message = await this.lastOn(stream, `${base}.f.${file.id}`);
      if (message === null) throw new Error(`nats: delete of file ${file.id} did nothing (not stored in ${stream})`);
      await this.deleteSeq(stream, message.seq);
      return;
    }
    const state = await this.refState(cell, file.id);
    const ref = await this.lastOn(stream, `${base}.r.${file.id}`);
    if (ref === null) throw new Error(`nats: delete of file ${file.id} did nothing (not stored in ${stream})`);
    // The server's reference message says which content this file holds.
    const contentSeq = parseRefPayload(ref.data);
    await this.deleteSeq(stream, ref.seq);
    state.contentSeq.delete(file.id);
    if (![...state.contentSeq.values()].includes(contentSeq)) await this.deleteSeq(stream, contentSeq);
  }

  // SPEC §4.1 capabilities.
  deleteMany(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('JetStream deletes one message per request; its bulk removal is the stream purge (--delete-methods truncate)'));
  }

  async truncate(cell: CellContext): Promise<void> {
    for (const stream of this.streamsOf(cell)) {
      await this.manager.streams.purge(stream);
      // Every reference went with the purge.
      this.refs.set(stream, Promise.resolve({ contentSeq: new Map() }));
    }
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    // The lab holds this cell's stream only: reset deletes it and adds it again, empty.
    await this.resetLab(cell);
  }

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const stream = this.streamOf(cell, file.id);
    const base = this.subjectBase(cell, file.id);
    const notStored = () => new Error(`nats: file ${file.id} is not stored in ${stream}`);
    const asBuffer = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (asVariant(cell.variant) === 'plain') {
      const message = await this.lastOn(stream, `${base}.f.${file.id}`);
      if (message === null) throw notStored();
      return asBuffer(message.data);
    }
    const ref = await this.lastOn(stream, `${base}.r.${file.id}`);
    if (ref === null) throw notStored();
    const content = await this.manager.direct.getMessage(stream, { seq: parseRefPayload(ref.data) });
    if (!content) throw notStored();
    return asBuffer(content.data);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    return 'JetStream: no cache the tool can drop (the file store keeps recent blocks in memory; only a server restart empties that)';
  }

  maintenance(): Promise<NotApplicable> {
    return Promise.resolve(
      notApplicable(
        'JetStream has no space-reclaiming command: deleted messages leave the stream at once and the file store compacts its blocks itself (purge deletes, it does not reclaim)',
      ),
    );
  }

  /** Number of distinct subjects under `<base>.<kind>.>` (one per stored file). */
  private async subjectCount(cell: CellContext, kind: 'f' | 'r'): Promise<number> {
    let count = 0;
    for (const [index, stream] of this.streamsOf(cell).entries()) {
      const info = await this.manager.streams.info(stream, { subjects_filter: `${this.subjectBase(cell, index)}.${kind}.>` });
      count += Object.keys(info.state.subjects ?? {}).length;
    }
    return count;
  }

  countStored(cell: CellContext): Promise<number> {
    return this.subjectCount(cell, asVariant(cell.variant) === 'plain' ? 'f' : 'r');
  }

  settle(): Promise<void> {
    // A PubAck means the message is in the store; stream info reflects deletes at once.
    return Promise.resolve();
  }

  async streamBytes(stream: string): Promise<number> {
    return (await this.manager.streams.info(stream)).state.bytes;
  }

  probes(cell: CellContext): Probe[] {
    const streams = this.streamsOf(cell);
    const allBytes = async () => {
      let bytes = 0;
      for (const stream of streams) bytes += await this.streamBytes(stream);
      return bytes;
    };
    const internal = sizeProbe('internal', LOGICAL_LAYER, allBytes, { settleTimeoutMs: 10_000, pollIntervalMs: 100 });
    const dataDir = this.options.dataDir;
    // The stream's own directory `<store_dir>/jetstream/<account>/streams/<stream>` (message blocks, index, meta).
    return dataDir ? [internal, labFilesProbe(() => entriesOf(join(dataDir, 'jetstream'), () => true).flatMap((account) => entriesOf(join(account, 'streams'), (name) => streams.includes(name))))] : [internal];
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    if (!this.jsm || !this.currentStream) return {};
    const info = await this.jsm.streams.info(this.currentStream);
    return { streamBytes: info.state.bytes, streamMessages: info.state.messages };
  }
}

export const definition: SystemDefinition<NatsOptions> = {
  id: 'nats',
  kind: 'server',
  variants: VARIANTS,
  modes: ['blob'],
  placementAcross: true,
  parseOptions(raw: unknown): NatsOptions {
    const options = parseSystemOptions('nats', optionsSchema, raw);
    registerSecret(options.password);
    return options;
  },
  create(instance: string, options: NatsOptions, labName: string): SystemAdapter {
    return new NatsAdapter(instance, options, labName);
  },
};
