/**
 * Bulk loading of dedup-lab vs each system's own loader on the same data in one run (SPEC §10):
 * - redis: `redis-cli --pipe` fed a RESP file of the same SET commands (same keys, same bytes);
 * - kafka: Kafka's `ProducerPerformance` (from the same jars as the broker) sending the same number
 *   of records of the same size with acks=all. The tool makes its own random payload (its
 *   --payload-file only takes text lines, not binary files), so the bytes differ but the record
 *   count, record size, acks and topic config are the same. Its own reported MB/s is used, so the
 *   JVM start is not charged to it.
 * Both sides write into the lab namespace `dedup_bench` on the services of scripts/services.sh.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { BenchResult } from './run.js';
import { loadSystem } from '../src/systems/registry.js';
import type { CellContext, LabFile } from '../src/systems/types.js';

const LAB = 'dedup_bench';
const FILES = 400;
const SIZE = 64 * 1024;

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
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    if (options.stdinFile) {
      void import('node:fs').then(({ createReadStream }) => createReadStream(options.stdinFile!).pipe(child.stdin));
    } else child.stdin.end();
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

async function benchRedis(files: LabFile[], bytes: number): Promise<BenchResult> {
  const definition = await loadSystem('redis');
  const options = { port: Number(env('DEDUP_LAB_REDIS_PORT')), password: env('DEDUP_LAB_REDIS_PASSWORD') };
  const adapter = definition.create('redis', definition.parseOptions(options), LAB);
  await adapter.connect();
  const dir = await mkdtemp(join(tmpdir(), 'dedup-bench-'));
  try {
    const c = cell('by-id', 'redis');
    await adapter.resetLab(c);
    const started = performance.now();
    const outcome = await adapter.bulkInsert(iterate(files), c);
    const ours = performance.now() - started;
    if (outcome.failed.length > 0) throw new Error('redis bench: failed writes');
    await adapter.resetLab(c);
    const file = join(dir, 'load.resp');
    const stream = createWriteStream(file);
    for (const f of files) stream.write(resp(['SET', `${LAB}:f:${f.id}`, f.content]));
    await new Promise<void>((resolve) => stream.end(resolve));
    const nativeStart = performance.now();
    await run('redis-cli', ['-h', '127.0.0.1', '-p', String(options.port), '--pipe'], { env: { REDISCLI_AUTH: options.password }, stdinFile: file });
    const native = performance.now() - nativeStart;
    await adapter.dropLab();
    return {
      name: `redis bulk SET ${FILES}×64 KiB`,
      value: bytes / 1e6 / (ours / 1000),
      unit: 'MB/s',
      reference: { name: 'redis-cli --pipe', value: bytes / 1e6 / (native / 1000) },
      target: undefined,
    };
  } finally {
    await adapter.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchKafka(files: LabFile[], bytes: number): Promise<BenchResult> {
  const definition = await loadSystem('kafka');
  const brokers = env('DEDUP_LAB_KAFKA_BROKERS');
  const adapter = definition.create('kafka', definition.parseOptions({ brokers }), LAB);
  await adapter.connect();
  try {
    const c = cell('delete', 'kafka');
    await adapter.resetLab(c);
    const started = performance.now();
    const outcome = await adapter.bulkInsert(iterate(files), c);
    const ours = performance.now() - started;
    if (outcome.failed.length > 0) throw new Error(`kafka bench: ${outcome.failed.length} failed writes: ${outcome.failed[0]?.error}`);
    await adapter.resetLab(c);
    const out = await run(
      env('DEDUP_LAB_KAFKA_RUN_CLASS'),
      [
        'org.apache.kafka.tools.ProducerPerformance',
        '--topic', `${LAB}.kafka`,
        '--num-records', String(FILES),
        '--record-size', String(SIZE),
        '--throughput', '-1',
        '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'batch.size=1048576', 'linger.ms=5', 'max.request.size=16777216',
      ],
      {},
    );
    // Final line: "400 records sent, 1234.5 records/sec (77.16 MB/sec), …" (MB = 2^20 bytes there).
    const match = /records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/.exec(out);
    if (!match) throw new Error(`kafka bench: cannot read ProducerPerformance output: ${out.slice(-300)}`);
    const nativeMBps = (Number(match[1]) * 1024 * 1024) / 1e6;
    await adapter.dropLab();
    return {
      name: `kafka batched produce acks=all ${FILES}×64 KiB`,
      value: bytes / 1e6 / (ours / 1000),
      unit: 'MB/s',
      reference: { name: 'kafka ProducerPerformance', value: nativeMBps },
    };
  } finally {
    await adapter.close();
  }
}

export async function bench(): Promise<BenchResult[]> {
  const files = makeFiles();
  const bytes = FILES * SIZE;
  return [await benchRedis(files, bytes), await benchKafka(files, bytes)];
}
