/**
 * Bulk loading of dedup-lab vs each system's own loader on the same data in one run (SPEC §10).
 * 1600 random files of 64 KiB (105 MB), held in memory by both sides' inputs.
 *
 * - redis: `redis-cli --pipe` reads a RESP file of the same SET commands (same keys, same bytes)
 *   straight from disk (its stdin is the file; the page cache holds it). Both sides run
 *   REDIS_ROUNDS times, alternating, each into an emptied lab; the medians are compared (the
 *   first round pays for Redis growing its memory, whoever goes first). The tool's own start-up
 *   (process, connect, AUTH: a `redis-cli PING` timed just before) is subtracted from its time.
 * - kafka: Kafka's `ProducerPerformance` (the same jars as the broker) into a topic created by the
 *   adapter with the same config, same record count and record size, acks=all, batch.size 1 MiB
 *   (the adapter's request size), max.in.flight 4 (the adapter's sends in flight), no compression.
 *   Its payloads come from the same files: `--payload-file` splits a text file on a delimiter, so
 *   binary data cannot go in as is; each line is the hex of the first 32 KiB of one file, i.e. a
 *   64 KiB record (same size, other bytes: without compression the bytes do not matter to the
 *   broker). The tool runs 2×FILES records with `--warmup-records FILES` and we take its own
 *   steady-state line, so the JVM's start and JIT warm-up are not charged to it; our side is the
 *   median of ROUNDS timed bulk stages on a warm connection.
 * Both sides write into the lab namespace `dedup_bench` on the services of scripts/services.sh.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, openSync, closeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { BenchResult } from './run.js';
import { median } from '../src/report/stats.js';
import { loadSystem } from '../src/systems/registry.js';
import type { CellContext, LabFile, SystemAdapter } from '../src/systems/types.js';

const LAB = 'dedup_bench';
const FILES = 1600;
const SIZE = 64 * 1024;
const ROUNDS = 3;
/** Redis rounds are short (≈0.2 s each) and the shared 2-core machine is noisy: take more. */
const REDIS_ROUNDS = 7;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: eval "$(bash scripts/services.sh env)" first`);
  return value;
}

function makeFiles(): LabFile[] {
  return Array.from({ length: FILES }, (_, id) => {
    const content = randomBytes(SIZE);
    return { id, name: `${id}`, size: SIZE, sha256: createHash('sha256').update(content).digest('hex'), payloadType: 'random_binary', content };
  });
}

function cell(variant: string, tag: string): CellContext {
  return { cellId: `bench.${tag}`, objectTag: tag, variant, mode: 'blob', payloadType: 'random_binary', grade: 'U0', signal: new AbortController().signal };
}

async function* iterate(files: LabFile[]): AsyncIterable<LabFile> {
  yield* files;
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdinFile?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = options.stdinFile ? openSync(options.stdinFile, 'r') : 'ignore';
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: [stdin, 'pipe', 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin); // the child holds its own copy
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${out.slice(-500)}`))));
  });
}

function resp(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const data = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${data.length}\r\n`), data, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

async function writeLines(file: string, lines: Iterable<Buffer | string>): Promise<void> {
  const stream = createWriteStream(file);
  for (const line of lines) if (!stream.write(line)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/** MB/s (10^6 bytes) of one timed bulk stage into an emptied lab. */
async function timedBulk(adapter: SystemAdapter, files: LabFile[], c: CellContext): Promise<number> {
  await adapter.resetLab(c);
  const started = performance.now();
  const outcome = await adapter.bulkInsert(iterate(files), c);
  const seconds = (performance.now() - started) / 1000;
  if (outcome.failed.length > 0) throw new Error(`${adapter.id} bench: ${outcome.failed.length} failed writes: ${outcome.failed[0]?.error}`);
  return (files.length * SIZE) / 1e6 / seconds;
}

async function benchRedis(files: LabFile[], dir: string): Promise<BenchResult> {
  const definition = await loadSystem('redis');
  const options = { port: Number(env('DEDUP_LAB_REDIS_PORT')), password: env('DEDUP_LAB_REDIS_PASSWORD') };
  const adapter = definition.create('redis', definition.parseOptions(options), LAB);
  await adapter.connect();
  try {
    const c = cell('by-id', 'redis');
    const file = join(dir, 'load.resp');
    await writeLines(file, files.map((f) => resp(['SET', `${LAB}:f:${f.id}`, f.content])));
    const ours: number[] = [];
    const native: number[] = [];
    const cli = ['-h', '127.0.0.1', '-p', String(options.port)];
    const cliEnv = { REDISCLI_AUTH: options.password };
    for (let round = 0; round < REDIS_ROUNDS; round++) {
      ours.push(await timedBulk(adapter, files, c));
      await adapter.resetLab(c);
      // The tool's process start, connect and AUTH are not part of loading: time a PING alone and
      // subtract it, so redis-cli is charged only for its transfer (as we are: our connection is open).
      let started = performance.now();
      await run('redis-cli', [...cli, 'PING'], { env: cliEnv });
      const startup = performance.now() - started;
      started = performance.now();
      await run('redis-cli', [...cli, '--pipe'], { env: cliEnv, stdinFile: file });
      native.push((files.length * SIZE) / 1e6 / ((performance.now() - started - startup) / 1000));
      if ((await adapter.countStored(c)) !== files.length) throw new Error('redis bench: redis-cli --pipe did not store every key');
    }
    await adapter.dropLab();
    return {
      name: `redis bulk SET ${FILES}×64 KiB, median of ${REDIS_ROUNDS}`,
      value: median(ours),
      unit: 'MB/s',
      reference: { name: 'redis-cli --pipe', value: median(native) },
      target: undefined,
      note: `ours ${ours.map((v) => v.toFixed(0)).join('/')}, redis-cli ${native.map((v) => v.toFixed(0)).join('/')}`,
    };
  } finally {
    await adapter.close();
  }
}

async function benchKafka(files: LabFile[], dir: string): Promise<BenchResult> {
  const definition = await loadSystem('kafka');
  const brokers = env('DEDUP_LAB_KAFKA_BROKERS');
  const options = definition.parseOptions({ brokers });
  const adapter = definition.create('kafka', options, LAB);
  await adapter.connect();
  try {
    const c = cell('delete', 'kafka');
    const ours: number[] = [];
    for (let round = 0; round < ROUNDS; round++) ours.push(await timedBulk(adapter, files, c));
    await adapter.resetLab(c);
    const payloads = join(dir, 'payloads.txt');
    await writeLines(payloads, files.map((f) => `${f.content.subarray(0, SIZE / 2).toString('hex')}\n`));
    const { batchBytes, sendsInFlight } = options as { batchBytes: number; sendsInFlight: number };
    const out = await run(
      env('DEDUP_LAB_KAFKA_RUN_CLASS'),
      [
        'org.apache.kafka.tools.ProducerPerformance',
        '--bootstrap-server', brokers,
        '--topic', `${LAB}.kafka`,
        '--num-records', String(2 * FILES),
        '--warmup-records', String(FILES),
        '--payload-file', payloads,
        '--throughput', '-1',
        '--command-property', 'acks=all', `batch.size=${batchBytes}`, 'linger.ms=5', `max.in.flight.requests.per.connection=${sendsInFlight}`,
        'compression.type=none', 'max.request.size=16777216', 'buffer.memory=67108864',
      ],
      { env: { KAFKA_RUN_CLASS_OPTS: '-Xmx1g' } },
    );
    // "1600 steady state records sent, 1932.4 records/sec (120.77 MB/sec), …" (MB = 2^20 bytes there).
    const steady = /steady state records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/.exec(out);
    const whole = /^\d+ records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/m.exec(out);
    if (!steady || !whole) throw new Error(`kafka bench: cannot read ProducerPerformance output: ${out.slice(-400)}`);
    const mebi = (text: string | undefined): number => (Number(text) * 1024 * 1024) / 1e6;
    await adapter.dropLab();
    return {
      name: `kafka batched produce acks=all ${FILES}×64 KiB, median of ${ROUNDS}`,
      value: median(ours),
      unit: 'MB/s',
      reference: { name: 'ProducerPerformance steady state', value: mebi(steady[1]) },
      note: `ours ${ours.map((v) => v.toFixed(0)).join('/')}; tool incl. warm-up ${mebi(whole[1]).toFixed(0)} MB/s`,
    };
  } finally {
    await adapter.close();
  }
}

export async function bench(): Promise<BenchResult[]> {
  const files = makeFiles();
  const dir = await mkdtemp(join(tmpdir(), 'dedup-bench-'));
  try {
    return [await benchRedis(files, dir), await benchKafka(files, dir)];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
