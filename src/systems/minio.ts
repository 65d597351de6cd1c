/**
 * S3-compatible object store adapter (`minio`, alias `s3`; SPEC §5.2, §5.3) on @aws-sdk/client-s3
 * with path-style addressing, so it works against MinIO, SeaweedFS, Garage, Ceph RGW or AWS.
 *
 * Layout: one bucket per cell, `<lab with _ → ->-<objectTag>` (a valid S3 bucket name: 3–63
 * lower-case letters, digits and hyphens). Bulk = parallel PUTs with bounded concurrency.
 *
 * Variants:
 * - `by-id` — object `f/<fileId>`.
 * - `by-content` — object `c/<sha256>` (a duplicate overwrites the same key: stored once) plus an
 *   EMPTY reference object `r/<sha256>/<fileId>` per file, so the stored-file count is read back
 *   by listing and a delete removes the content only when its last reference is gone
 *   (listing `r/<sha256>/`). Reference objects have size 0, so the listed-size probe counts content
 *   only; their per-object metadata cost shows in the `fs` probe.
 *
 * Placement (SPEC §4.1) `across:K`: K buckets `<prefix><objectTag>-p<k>`, file i in bucket i mod K;
 * `by-content` keys and references are per bucket, so a content is stored once per bucket that
 * holds one of its files. Probes sum over all K buckets.
 *
 * Every delete is verified: HeadObject before (a missing object is an error — S3 DeleteObject
 * answers 204 for anything) and after (the object must be gone).
 *
 * Probes: `internal` = Σ sizes of ListObjectsV2 over the cell bucket (paginated, each page folded
 * to counts from its XML: parseListingPage); `fs` (runner) =
 * the server's data directory (`dataDir`); `minio_metrics` = MinIO's Prometheus bucket-usage metric
 * when `metricsUrl` is set (lagging; see minio-metrics.ts).
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { S3Client } from '@aws-sdk/client-s3';
import { registerSecret } from '../config/secrets.js';
import { assertObjectTag, forEachFileLimited} from './kv-common.js';
import { groupByObject, objectFor, objectNames } from './shared/placement.js';
import { LOGICAL_LAYER, sizeProbe } from './shared/probes.js';
import { entriesOf, labFilesProbe } from './shared/lab-files.js';
import { errorMessage } from '../core/errors.js';
import { readMinioBucketUsage } from './minio-metrics.js';
import { parseSystemOptions } from './shared/options.js';
import { notApplicable, releaseOwned, throwIfAborted } from './shared/stages.js';
import { collectionAwaitsVacuum, SEAWEEDFS_DEFAULT_GARBAGE_THRESHOLD, SEAWEEDFS_FILER_DELETION, SEAWEEDFS_DEFAULT_VACUUM_INTERVAL_S, seaweedDataNodes, seaweedVacuumDeferral, seaweedVolumes, type SeaweedVolume } from './shared/deferrals.js';
import {
  assertLabName,
  type CellContext,
  type Deferral,
  type LabFile,
  type LabFileRef,
  type NotApplicable,
  type Probe,
  type StageName,
  type SystemAdapter,
  type SystemDefinition,
  type WriteOutcome,
} from './types.js';

const VARIANTS = ['by-id', 'by-content'] as const;
type S3Variant = (typeof VARIANTS)[number];

const optionsSchema = z
  .object({
    endpoint: z.string().url().default('http://127.0.0.1:9000'),
    region: z.string().min(1).default('us-east-1'),
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    /** Parallel PUTs during bulk load. */
    concurrency: z.number().int().min(1).max(256).default(16),
    /** Server data directory when local, for the `fs` probe. */
    dataDir: z.string().min(1).optional(),
    /** MinIO only: Prometheus bucket metrics URL, e.g. http://host:9000/minio/v2/metrics/bucket. */
    metricsUrl: z.string().url().optional(),
    metricsBearerToken: z.string().min(1).optional(),
    /** SeaweedFS only: the master's HTTP URL (e.g. http://127.0.0.1:9333); maintenance runs its volume vacuum. Empty = not set. */
    seaweedfsMasterUrl: z.union([z.literal(''), z.string().url()]).optional(),
    /** SeaweedFS only: the master's -garbageThreshold / -vacuumIntervalSeconds when not the defaults (its HTTP API does not expose them). */
    seaweedfsGarbageThreshold: z.number().gt(0).lt(1).optional(),
    seaweedfsVacuumIntervalS: z.number().int().positive().optional(),
  })
  .strict();

export type S3Options = z.infer<typeof optionsSchema>;

function asVariant(variant: string): S3Variant {
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new Error(`minio has no variant ${JSON.stringify(variant)}; valid: ${VARIANTS.join(', ')}`);
  }
  return variant as S3Variant;
}

/** `_` is not allowed in bucket names; lab names have no `-`, so the mapping stays one-to-one. */
export function bucketPrefixFor(labName: string): string {
  return `${assertLabName(labName).replace(/_/g, '-')}-`;
}

/** S3 bucket naming rules (the subset every server enforces). */
export function assertBucketName(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name) || name.startsWith('xn--') || name.endsWith('-s3alias')) {
    throw new Error(`invalid S3 bucket name ${JSON.stringify(name)}`);
  }
  return name;
}

function isNotFound(error: unknown): boolean {
  const meta = (error as { $metadata?: { httpStatusCode?: number }; name?: string }) ?? {};
  return meta.$metadata?.httpStatusCode === 404 || meta.name === 'NotFound' || meta.name === 'NoSuchKey' || meta.name === 'NoSuchBucket';
}

/** Ask a SeaweedFS master to vacuum every volume with any garbage; it answers when the vacuum is done. */
export async function seaweedfsVacuum(masterUrl: string): Promise<void> {
  const url = new URL('/vol/vacuum', masterUrl);
  url.searchParams.set('garbageThreshold', '0.0001');
  const response = await fetch(url, { signal: AbortSignal.timeout(600_000) });
  const body = await response.text();
  if (!response.ok) throw new Error(`SeaweedFS vacuum: HTTP ${response.status}: ${body.slice(0, 200)}`);
}

async function getJson(url: URL): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`SeaweedFS ${url.pathname}: HTTP ${response.status}`);
  return response.json();
}

/** Per-volume sizes and garbage, from every volume server the master knows (their own /status is current). */
export async function seaweedfsVolumeStatus(masterUrl: string): Promise<SeaweedVolume[]> {
  const nodes = seaweedDataNodes(await getJson(new URL('/dir/status', masterUrl)));
  const protocol = new URL(masterUrl).protocol;
  const answers = await Promise.all(nodes.map((node) => getJson(new URL('/status', `${protocol}//${node}`))));
  return answers.flatMap((answer) => seaweedVolumes(answer));
}

/**
 * A response body gathered into one buffer of its own (Content-Length bytes, not from Node's shared
 * pool, so the read stage can free it after the sha256 check), each socket chunk freed as soon as
 * it is copied. The SDK's `transformToByteArray` keeps every chunk until V8's next collection of
 * external memory, which comes only after ≈ 64 MiB more: at 1 GiB the read stage held up to 68 MiB
 * of dead chunks (measured 2026-12-03). A chunk that shares its ArrayBuffer is left to the GC.
 */
export async function gatherBody(body: AsyncIterable<Uint8Array>, contentLength: number | undefined, what: string): Promise<Buffer> {
  if (contentLength === undefined) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafeSlow(contentLength);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.byteLength > contentLength) throw new Error(`s3: ${what}: body longer than its Content-Length ${contentLength}`);
    out.set(chunk, at);
    at += chunk.byteLength;
    // The stream handed the chunk over and holds no reference to it any more: ours to free.
    releaseOwned(chunk);
  }
  if (at !== contentLength) throw new Error(`s3: ${what}: body has ${at} bytes, Content-Length ${contentLength}`);
  return out;
}

/** What a size probe needs from one ListObjectsV2 page: its object count and their bytes. */
export interface ListingPage {
  objects: number;
  bytes: number;
  truncated: boolean;
  nextToken: string | undefined;
  /** Each object's key and size, when asked for (deletes need the keys; the probes only the sums). */
  entries?: { key: string; size: number }[];
}

const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return XML_ENTITIES[name] ?? whole;
  });
}

function elementText(xml: string, name: string, from = 0, to = xml.length): string | undefined {
  const open = xml.indexOf(`<${name}>`, from);
  if (open < 0 || open >= to) return undefined;
  const start = open + name.length + 2;
  const close = xml.indexOf(`</${name}>`, start);
  if (close < 0 || close > to) throw new Error(`s3 listing: <${name}> is not closed`);
  return xml.slice(start, close);
}

/**
 * One ListObjectsV2 answer (no delimiter) folded to counts while scanning its XML: every
 * `<Contents>` is one object with its `<Size>`; `<KeyCount>`, when sent, must agree. The SDK's
 * parse of the same page (≈ 250 KB of XML for 1000 keys) builds a tree and an output object per
 * key: listing 2039 objects a few times between two stages grew the tool's heap from 93 to
 * 157 MiB (measured 2026-12-03, --total-size 1GiB; 108–110 MiB with this fold).
 */
export function parseListingPage(xml: string, withEntries = false): ListingPage {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error(`s3 listing: not a ListBucketResult: ${xml.slice(0, 200)}`);
  let objects = 0;
  let bytes = 0;
  const entries: { key: string; size: number }[] = [];
  for (let at = xml.indexOf('<Contents>'); at >= 0; at = xml.indexOf('<Contents>', at)) {
    const end = xml.indexOf('</Contents>', at);
    if (end < 0) throw new Error('s3 listing: <Contents> is not closed');
    const size = elementText(xml, 'Size', at, end);
    if (size === undefined || !/^[0-9]+$/.test(size.trim())) throw new Error(`s3 listing: an object without a valid <Size> (${JSON.stringify(size)})`);
    objects += 1;
    bytes += Number(size.trim());
    if (withEntries) {
      const key = elementText(xml, 'Key', at, end);
      if (key === undefined) throw new Error('s3 listing: an object without a <Key>');
      entries.push({ key: unescapeXml(key), size: Number(size.trim()) });
    }
    at = end;
  }
  const keyCount = elementText(xml, 'KeyCount');
  if (keyCount !== undefined && Number(keyCount.trim()) !== objects) throw new Error(`s3 listing: KeyCount ${keyCount} but ${objects} objects listed`);
  const truncated = elementText(xml, 'IsTruncated')?.trim() === 'true';
  const token = elementText(xml, 'NextContinuationToken');
  if (truncated && !token) throw new Error('s3 listing: truncated without a NextContinuationToken');
  const page: ListingPage = { objects, bytes, truncated, nextToken: token === undefined ? undefined : unescapeXml(token) };
  if (withEntries) page.entries = entries;
  return page;
}

/** What the SDK's deserializer gets instead of a page already folded (it still checks the status and builds errors). */
const EMPTY_LISTING = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ListBucketResult>';

class S3Adapter implements SystemAdapter {
  readonly id = 'minio';
  private client: S3Client | null = null;
  private sdk: typeof import('@aws-sdk/client-s3') | null = null;
  private readonly bucketPrefix: string;
  private currentBucket: string | null = null;

  constructor(
    readonly instance: string,
    private readonly options: S3Options,
    labName: string,
  ) {
    this.bucketPrefix = bucketPrefixFor(labName);
  }

  /** The bucket of file `fileId`: `<prefix><tag>`, or `<prefix><tag>-p<k>` under `across:K`. */
  bucketOf(cell: CellContext, fileId = 0): string {
    return assertBucketName(objectFor(fileId, `${this.bucketPrefix}${assertObjectTag(cell.objectTag)}`, cell.placement, '-'));
  }

  /** Every bucket of the cell (one, or K under `across:K`). */
  bucketsOf(cell: CellContext): string[] {
    return objectNames(`${this.bucketPrefix}${assertObjectTag(cell.objectTag)}`, cell.placement, '-').map(assertBucketName);
  }

  /** Only buckets this lab created: `<prefix><tag>` or `<prefix><tag>-p<k>` with a tag of [a-z0-9]. */
  isLabBucket(name: string): boolean {
    return name.startsWith(this.bucketPrefix) && /^[a-z0-9]{1,16}(-p[0-9]{1,2})?$/.test(name.slice(this.bucketPrefix.length));
  }

  private get s3(): S3Client {
    if (!this.client) throw new Error('s3 adapter is not connected');
    return this.client;
  }

  private get api(): typeof import('@aws-sdk/client-s3') {
    if (!this.sdk) throw new Error('s3 adapter is not connected');
    return this.sdk;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({
      endpoint: this.options.endpoint,
      region: this.options.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.options.accessKeyId, secretAccessKey: this.options.secretAccessKey },
      // Non-AWS servers differ in the newer default checksums; send them only where S3 requires.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
    });
    try {
      await client.send(new sdk.ListBucketsCommand({}));
    } catch (error) {
      client.destroy();
      throw new Error(`s3: cannot reach ${this.options.endpoint}: ${errorMessage(error)}`, { cause: error });
    }
    this.sdk = sdk;
    this.client = client;
  }

  close(): Promise<void> {
    this.client?.destroy();
    this.client = null;
    return Promise.resolve();
  }

  async version(): Promise<string> {
    // S3 has no version call: check the API answers, then name the implementation from the
    // Server header of an unauthenticated request (e.g. "SeaweedFS 30GB 4.53", "MinIO").
    await this.s3.send(new this.api.ListBucketsCommand({}));
    let server = 'server header not sent';
    try {
      const response = await fetch(this.options.endpoint, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
      server = response.headers.get('server') ?? server;
    } catch {
      // The S3 API answered above, which is what matters; the header is only informative.
    }
    return `s3 (${server})`;
  }

  private async labBuckets(): Promise<string[]> {
    const answer = await this.s3.send(new this.api.ListBucketsCommand({}));
    return (answer.Buckets ?? []).map((bucket) => bucket.Name ?? '').filter((name) => this.isLabBucket(name));
  }

  /** Every key (and size) in a bucket under a prefix, across pages. */
  async listObjects(bucket: string, prefix = ''): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.listingPage(bucket, prefix, token, true);
      out.push(...(page.entries ?? []));
      token = page.truncated ? page.nextToken : undefined;
    } while (token);
    return out;
  }

  /**
   * One ListObjectsV2 page folded to counts (parseListingPage) from the raw answer: a middleware
   * inside the SDK's deserializer takes a 2xx body, and hands the deserializer an empty listing
   * (errors keep their body, so NoSuchBucket and the retries stay the SDK's).
   */
  async listingPage(bucket: string, prefix: string, token: string | undefined, withEntries = false, maxKeys = 1000): Promise<ListingPage> {
    const command = new this.api.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: maxKeys });
    let page: ListingPage | null = null;
    type Raw = { response: { statusCode?: number; headers?: Record<string, string>; body?: unknown } };
    const fold = (next: (args: unknown) => Promise<Raw>) => async (args: unknown): Promise<Raw> => {
      const result = await next(args);
      const { response } = result;
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300 && response.body) {
        const length = Number(response.headers?.['content-length']);
        const body = await gatherBody(response.body as AsyncIterable<Uint8Array>, Number.isSafeInteger(length) ? length : undefined, `ListObjectsV2 of ${bucket}`);
        page = parseListingPage(body.toString('utf8'), withEntries);
        releaseOwned(body);
        response.body = Readable.from([Buffer.from(EMPTY_LISTING)]);
      }
      return result;
    };
    command.middlewareStack.addRelativeTo(fold as never, { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'dedupLabListingFold' });
    await this.s3.send(command);
    if (!page) throw new Error(`s3: ListObjectsV2 of ${bucket} answered without a listing body`);
    return page;
  }

  /** Objects and bytes under a prefix, page by page, nothing collected. */
  async listingSums(bucket: string, prefix = ''): Promise<{ objects: number; bytes: number }> {
    let objects = 0;
    let bytes = 0;
    let token: string | undefined;
    do {
      const page = await this.listingPage(bucket, prefix, token);
      objects += page.objects;
      bytes += page.bytes;
      token = page.truncated ? page.nextToken : undefined;
    } while (token);
    return { objects, bytes };
  }

  private async emptyAndDeleteBucket(bucket: string): Promise<void> {
    if (!this.isLabBucket(bucket)) throw new Error('refusing to delete a bucket outside the lab');
    for (;;) {
      const objects = await this.listObjects(bucket);
      if (objects.length === 0) break;
      for (let start = 0; start < objects.length; start += 1000) {
        const answer = await this.s3.send(
          new this.api.DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: objects.slice(start, start + 1000).map((object) => ({ Key: object.key })), Quiet: true },
          }),
        );
        if (answer.Errors && answer.Errors.length > 0) {
          throw new Error(`s3: could not delete ${answer.Errors.length} objects of ${bucket}: ${answer.Errors[0]?.Message ?? ''}`);
        }
      }
    }
    await this.s3.send(new this.api.DeleteBucketCommand({ Bucket: bucket }));
  }

  async resetLab(cell: CellContext): Promise<void> {
    asVariant(cell.variant);
    for (const bucket of await this.labBuckets()) await this.emptyAndDeleteBucket(bucket);
    for (const bucket of this.bucketsOf(cell)) {
      await this.s3.send(new this.api.CreateBucketCommand({ Bucket: bucket }));
      const left = await this.listObjects(bucket);
      if (left.length > 0) throw new Error(`s3: new bucket ${bucket} is not empty`);
    }
    this.currentBucket = this.bucketOf(cell);
  }

  async dropLab(): Promise<void> {
    for (const bucket of await this.labBuckets()) await this.emptyAndDeleteBucket(bucket);
    this.currentBucket = null;
  }

  private async put(bucket: string, key: string, body: Buffer): Promise<void> {
    await this.s3.send(new this.api.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
  }

  private async exists(bucket: string, key: string): Promise<boolean> {
    try {
      await this.s3.send(new this.api.HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  private async deleteVerified(bucket: string, key: string): Promise<void> {
    await this.s3.send(new this.api.DeleteObjectCommand({ Bucket: bucket, Key: key }));
    if (await this.exists(bucket, key)) throw new Error(`s3: ${bucket}/${key} still exists after DeleteObject`);
  }

  private async writeFile(file: LabFile, cell: CellContext): Promise<void> {
    const bucket = this.bucketOf(cell, file.id);
    if (asVariant(cell.variant) === 'by-id') {
      await this.put(bucket, `f/${file.id}`, file.content);
      return;
    }
    // Content first, then the reference: a file counts as stored only when both are there.
    await this.put(bucket, `c/${file.sha256}`, file.content);
    await this.put(bucket, `r/${file.sha256}/${file.id}`, Buffer.alloc(0));
  }

  async bulkInsert(files: AsyncIterable<LabFile>, cell: CellContext): Promise<WriteOutcome> {
    throwIfAborted(cell.signal);
    const outcome = await forEachFileLimited(files, this.options.concurrency, cell.signal, (file) => this.writeFile(file, cell));
    throwIfAborted(cell.signal);
    return outcome;
  }

  compact(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('S3 has no compaction operation: objects are stored as written'));
  }

  insertOne(file: LabFile, cell: CellContext): Promise<void> {
    return this.writeFile(file, cell);
  }

  async deleteOne(file: LabFile, cell: CellContext): Promise<void> {
    const bucket = this.bucketOf(cell, file.id);
    if (asVariant(cell.variant) === 'by-id') {
      const key = `f/${file.id}`;
      if (!(await this.exists(bucket, key))) throw new Error(`s3: delete of file ${file.id} did nothing (${key} not stored)`);
      await this.deleteVerified(bucket, key);
      return;
    }
    const ref = `r/${file.sha256}/${file.id}`;
    if (!(await this.exists(bucket, ref))) throw new Error(`s3: delete of file ${file.id} did nothing (${ref} not stored)`);
    await this.deleteVerified(bucket, ref);
    const others = await this.listObjects(bucket, `r/${file.sha256}/`);
    if (others.length === 0) await this.deleteVerified(bucket, `c/${file.sha256}`);
  }

  /**
   * SeaweedFS keeps deleted and overwritten needles in its volume files until a volume vacuum
   * (the master runs one by itself only above 30 % garbage, every 15 min): with `seaweedfsMasterUrl`
   * the maintenance stage asks the master for it. MinIO replaces an object's files on overwrite
   * and removes them on delete, so it needs none.
   */
  async maintenance(): Promise<void | NotApplicable> {
    const master = this.options.seaweedfsMasterUrl;
    if (!master) {
      return notApplicable('S3 has no space-reclaiming operation (MinIO replaces and removes object files itself); for SeaweedFS set seaweedfsMasterUrl to run its volume vacuum');
    }
    await seaweedfsVacuum(master);
  }

  /**
   * SeaweedFS: the master's automatic sweep vacuums a volume whose garbage (deleted bytes / size,
   * SeaweedFS: the filer deletes a removed or overwritten object's chunks in the background (the
   * volume servers showed no garbage right after the deletes returned), then the master's automatic
   * sweep vacuums a volume whose garbage (deleted bytes / size, from the volume servers' /status)
   * is above -garbageThreshold, every -vacuumIntervalSeconds: pending while a volume of the cell's
   * collection is above it. MinIO declares none: it replaces and removes object files itself.
   */
  async deferrals(cell: CellContext, _stage: StageName): Promise<Deferral[]> {
    const master = this.options.seaweedfsMasterUrl;
    if (!master) return [];
    const threshold = this.options.seaweedfsGarbageThreshold ?? SEAWEEDFS_DEFAULT_GARBAGE_THRESHOLD;
    const intervalS = this.options.seaweedfsVacuumIntervalS ?? SEAWEEDFS_DEFAULT_VACUUM_INTERVAL_S;
    const collection = this.bucketOf(cell);
    const pending = async () => collectionAwaitsVacuum(await seaweedfsVolumeStatus(master), collection, threshold);
    const fromOptions = this.options.seaweedfsGarbageThreshold !== undefined || this.options.seaweedfsVacuumIntervalS !== undefined;
    return [SEAWEEDFS_FILER_DELETION, seaweedVacuumDeferral(intervalS, threshold, fromOptions, pending)];
  }

  // SPEC §4.1 capabilities.
  /** DeleteObjects (≤ 1000 keys a request); by-content drops a content only when its last reference went. */
  async deleteMany(files: readonly LabFileRef[], cell: CellContext): Promise<void> {
    for (const [bucket, group] of groupByObject(files, `${this.bucketPrefix}${assertObjectTag(cell.objectTag)}`, cell.placement, '-')) {
      if (asVariant(cell.variant) === 'by-id') {
        await this.deleteKeys(bucket, group.map((file) => `f/${file.id}`));
        continue;
      }
      await this.deleteKeys(bucket, group.map((file) => `r/${file.sha256}/${file.id}`));
      const orphans: string[] = [];
      for (const sha of new Set(group.map((file) => file.sha256))) if ((await this.listObjects(bucket, `r/${sha}/`)).length === 0) orphans.push(`c/${sha}`);
      await this.deleteKeys(bucket, orphans);
    }
  }

  private async deleteKeys(bucket: string, keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += 1000) {
      const chunk = keys.slice(start, start + 1000);
      const answer = await this.s3.send(new this.api.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
      const first = answer.Errors?.[0];
      if (first) throw new Error(`s3: DeleteObjects failed for ${answer.Errors?.length} keys; first ${first.Key}: ${first.Message}`);
    }
  }

  truncate(): Promise<NotApplicable> {
    return Promise.resolve(notApplicable('S3 has no truncate: emptying a bucket means deleting its objects (--delete-methods bulk)'));
  }

  async dropAndRecreate(cell: CellContext): Promise<void> {
    for (const bucket of this.bucketsOf(cell)) {
      await this.emptyAndDeleteBucket(bucket);
      await this.s3.send(new this.api.CreateBucketCommand({ Bucket: bucket }));
    }
  }

  /** The body is gathered into a buffer of its own (gatherBody), referenced by nothing else. */
  readonly readOneOwned = true;

  async readOne(file: LabFileRef, cell: CellContext): Promise<Buffer> {
    const bucket = this.bucketOf(cell, file.id);
    const byId = asVariant(cell.variant) === 'by-id';
    if (!byId && !(await this.exists(bucket, `r/${file.sha256}/${file.id}`))) throw new Error(`s3: file ${file.id} is not stored`);
    const answer = await this.s3.send(new this.api.GetObjectCommand({ Bucket: bucket, Key: byId ? `f/${file.id}` : `c/${file.sha256}` }));
    if (!answer.Body) throw new Error(`s3: GetObject of file ${file.id} returned no body`);
    return gatherBody(answer.Body as unknown as AsyncIterable<Uint8Array>, answer.ContentLength, `GetObject of file ${file.id}`);
  }

  async dropCaches(_cell: CellContext): Promise<string> {
    return 'S3 server: no cache the tool can drop (none is exposed by the API)';
  }

  async countStored(cell: CellContext): Promise<number> {
    const prefix = asVariant(cell.variant) === 'by-id' ? 'f/' : 'r/';
    try {
      let stored = 0;
      for (const bucket of this.bucketsOf(cell)) stored += (await this.listingSums(bucket, prefix)).objects;
      return stored;
    } catch (error) {
      if (isNotFound(error)) return 0; // no bucket: nothing stored
      throw error;
    }
  }

  settle(): Promise<void> {
    // An acknowledged PUT/DELETE is visible to the next listing (S3 strong read-after-write).
    return Promise.resolve();
  }

  async bucketBytes(bucket: string): Promise<number> {
    return (await this.listingSums(bucket)).bytes;
  }

  probes(cell: CellContext): Probe[] {
    const buckets = this.bucketsOf(cell);
    const allBytes = async () => {
      let bytes = 0;
      for (const bucket of buckets) bytes += await this.bucketBytes(bucket);
      return bytes;
    };
    const probes = [sizeProbe('internal', LOGICAL_LAYER, allBytes, { settleTimeoutMs: 15_000, pollIntervalMs: 200 })];
    const { metricsUrl, metricsBearerToken } = this.options;
    if (metricsUrl) {
      // MinIO's scanner updates this metric in cycles: a long settle window, documented as lagging.
      probes.push(
        sizeProbe('minio_metrics', LOGICAL_LAYER, () => readMinioBucketUsage(metricsUrl, buckets, metricsBearerToken), {
          settleTimeoutMs: 300_000,
          pollIntervalMs: 5_000,
        }),
      );
    }
    const dataDir = this.options.dataDir;
    // SeaweedFS: the bucket is a collection; its needles sit in `<bucket>_<volume id>.dat/.idx/.vif`.
    // MinIO keeps one directory per bucket. Either way: only the cell bucket's files.
    if (dataDir) probes.push(labFilesProbe(() => entriesOf(dataDir, (name) => buckets.some((bucket) => name === bucket || name.startsWith(`${bucket}_`)))));
    return probes;
  }

  localDataPaths(): string[] {
    return this.options.dataDir ? [this.options.dataDir] : [];
  }

  async sampleMetrics(): Promise<Record<string, number>> {
    if (!this.client || !this.currentBucket) return {};
    // One listing page only (cheap); reported only when the page covers the whole bucket. The
    // sampler runs beside the stages, so it can land between a drop and the re-create: no bucket
    // holds nothing (not a failed sample).
    const page = await this.listingPage(this.currentBucket, '', undefined).catch((error: unknown) => {
      if (isNotFound(error)) return { truncated: false, objects: 0, bytes: 0 };
      throw error;
    });
    if (page.truncated) return { bucketObjectsAtLeast: page.objects };
    return { bucketBytes: page.bytes, bucketObjects: page.objects };
  }
}

export const definition: SystemDefinition<S3Options> = {
  id: 'minio',
  kind: 'server',
  variants: VARIANTS,
  modes: ['blob'],
  placementAcross: true,
  parseOptions(raw: unknown): S3Options {
    const options = parseSystemOptions('minio', optionsSchema, raw);
    registerSecret(options.secretAccessKey);
    registerSecret(options.metricsBearerToken);
    return options;
  },
  create(instance: string, options: S3Options, labName: string): SystemAdapter {
    return new S3Adapter(instance, options, labName);
  },
};
