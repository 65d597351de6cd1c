/**
 * `ensureDataset`: generate a data set (SPEC §3) or verify and keep an existing one.
 * Generation goes into a temporary folder beside the target and is renamed into place only when
 * complete, so a crash never leaves a half set that looks complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { log } from '../core/log.js';
import { looksLikeUrl } from './download.js';
import { FileSink, hashFile, readChunks, SyncQueue, writeChunks, type FileSinkOptions, type WrittenFile } from './files.js';
import { parseGrade } from './grades.js';
import { MANIFEST_FILE, type DatasetParameters, type Manifest, type ManifestEntry } from './manifest.js';
import { SYNTHETIC_GENERATORS } from './payloads/synthetic.js';
import { planDataset, type PlannedFile } from './plan.js';
import { deriveKey } from './prng.js';
import { plainSourceSize, prepareSource, SourceSlicer, sourceFiles, sourceTooSmall } from './sources.js';
import { extensionFor, isLineBased, isSyntheticType, MIXED, USER_TYPE_PATTERN } from './types.js';
import { GENERATOR_VERSION } from './version.js';

export interface EnsureOptions {
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface EnsuredDataset {
  dir: string;
  manifest: Manifest;
  generated: boolean;
}

/** Files from this size on bypass the page cache (FileSink `direct`); smaller direct writes would each wait for the device. */
const DIRECT_MIN_BYTES = 4 << 20;

/** How often a unique file is re-drawn (synthetic) or the next slice taken (source) when it equals an earlier one. */
const DISTINCT_ATTEMPTS = 32;

export function datasetDir(dataDir: string, payloadType: string, grade: string): string {
  if (!USER_TYPE_PATTERN.test(payloadType)) throw new UsageError(`invalid payload type name ${JSON.stringify(payloadType)}`);
  parseGrade(grade);
  return join(dataDir, payloadType, grade);
}

export async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
}

async function tryReadManifest(dir: string): Promise<Manifest | null> {
  try {
    return await readManifest(dir);
  } catch {
    return null;
  }
}

export function sameParameters(a: DatasetParameters, b: DatasetParameters): boolean {
  const keys: (keyof DatasetParameters)[] = ['payloadType', 'grade', 'files', 'minSize', 'maxSize', 'seed', 'dupDistribution', 'source'];
  // Absent (local source, older manifest) equals absent only: a URL set cut from other bytes differs.
  return keys.every((key) => a[key] === b[key]) && (a.sourceSha256 ?? null) === (b.sourceSha256 ?? null) && (a.totalSize ?? null) === (b.totalSize ?? null);
}

/**
 * For a URL source, without any network access (dry runs): the parameters with the source digest
 * that an existing set of otherwise equal parameters recorded, assuming the remote file is
 * unchanged (a real run revalidates it). Anything else comes back as it is.
 */
export async function assumeRecordedSourceDigest(params: DatasetParameters, dataDir: string): Promise<DatasetParameters> {
  if (!params.source || !looksLikeUrl(params.source)) return params;
  const manifest = await tryReadManifest(datasetDir(dataDir, params.payloadType, params.grade));
  const recorded = manifest?.parameters.sourceSha256;
  if (!manifest || !recorded || !sameParameters(manifest.parameters, { ...params, sourceSha256: recorded })) return params;
  return { ...params, sourceSha256: recorded };
}

/** Every file present with the manifest's size and sha256. Returns the first problem, or null. */
export async function verifyDataset(dir: string, manifest: Manifest, signal?: AbortSignal): Promise<string | null> {
  for (const entry of manifest.entries) {
    signal?.throwIfAborted();
    let actual: WrittenFile;
    try {
      actual = await hashFile(join(dir, entry.name));
    } catch {
      return `${entry.name} is missing`;
    }
    if (actual.size !== entry.size) return `${entry.name} has ${actual.size} bytes, manifest says ${entry.size}`;
    if (actual.sha256 !== entry.sha256) return `${entry.name} has sha256 ${actual.sha256}, manifest says ${entry.sha256}`;
  }
  return null;
}

export async function ensureDataset(requested: DatasetParameters, dataDir: string, options: EnsureOptions = {}): Promise<EnsuredDataset> {
  validateParameters(requested);
  const dir = datasetDir(dataDir, requested.payloadType, requested.grade);
  // A URL source is downloaded (or revalidated) first: the digest of its bytes is a parameter.
  const { params, localSource } = await prepareSource(requested, options.signal);
  const existing = await tryReadManifest(dir);
  if (existing && existing.generatorVersion === GENERATOR_VERSION && sameParameters(existing.parameters, params)) {
    const problem = await verifyDataset(dir, existing, options.signal);
    if (problem === null) {
      options.onProgress?.(existing.entries.length, existing.entries.length);
      return { dir, manifest: existing, generated: false };
    }
    log.warn(`data set ${dir} failed verification (${problem}); regenerating`);
  }
  const manifest = await generateInto(dir, params, localSource, options);
  return { dir, manifest, generated: true };
}

function validateParameters(params: DatasetParameters): void {
  parseGrade(params.grade);
  if (!Number.isSafeInteger(params.files) || params.files < 1) throw new UsageError(`invalid files ${params.files}; valid: an integer ≥ 1`);
  if (!Number.isSafeInteger(params.minSize) || params.minSize < 1) throw new UsageError(`invalid min size ${params.minSize}; valid: an integer ≥ 1`);
  if (!Number.isSafeInteger(params.maxSize) || params.maxSize < params.minSize) {
    throw new UsageError(`invalid max size ${params.maxSize}; valid: an integer ≥ min size ${params.minSize}`);
  }
  if (!Number.isSafeInteger(params.seed) || params.seed < 0) throw new UsageError(`invalid seed ${params.seed}; valid: a non-negative integer`);
  const needsSource = !isSyntheticType(params.payloadType) && params.payloadType !== MIXED;
  if (needsSource && !params.source) {
    throw new UsageError(`payload type ${params.payloadType} needs a source: --source ${params.payloadType}=PATH (file, folder or .gz) or ${params.payloadType}=URL`);
  }
}

async function generateInto(dir: string, params: DatasetParameters, localSource: string | null, options: EnsureOptions): Promise<Manifest> {
  const plan = planDataset(params);
  const neededBytes = plannedUniqueBytes(plan);
  const slicer = localSource ? await openSource(params, plan, localSource) : null;
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = `${dir}.tmp-${tag}`;
  await mkdir(temp, { recursive: true });
  const syncQueue = new SyncQueue();
  const sinkOptions = (size: number): FileSinkOptions => ({ syncQueue, direct: size >= DIRECT_MIN_BYTES });
  try {
    const entries: ManifestEntry[] = [];
    const uniqueHashes = new Set<string>();
    for (const file of plan) {
      options.signal?.throwIfAborted();
      const name = `${String(file.index).padStart(5, '0')}.${extensionFor(file.payloadType, localSource)}`;
      const path = join(temp, name);
      let written: WrittenFile;
      if (file.duplicateOf !== null) {
        const original = entries[file.duplicateOf] as ManifestEntry;
        // A byte copy through memory, not copy_file_range: that could share extents (reflinks) on
        // some file systems and make the data set itself deduplicated on disk.
        written = await writeChunks(path, readChunks(join(temp, original.name)), sinkOptions(original.size));
        if (written.sha256 !== original.sha256) throw new Error(`copy of ${original.name} to ${name} differs from its original`);
        entries.push({ name, size: written.size, sha256: written.sha256, duplicateOf: original.name, payloadType: file.payloadType });
      } else {
        written = slicer
          ? await writeSourceSlice(path, file, params, slicer, uniqueHashes, neededBytes, sinkOptions(file.size))
          : await writeSynthetic(path, file, params, uniqueHashes, sinkOptions(file.size));
        uniqueHashes.add(written.sha256);
        entries.push({ name, size: written.size, sha256: written.sha256, duplicateOf: null, payloadType: file.payloadType });
      }
      options.onProgress?.(file.index + 1, plan.length);
    }
    await syncQueue.drain();
    const manifest = buildManifest(params, entries);
    await writeFile(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
    await swapIntoPlace(temp, dir, tag);
    return manifest;
  } catch (error) {
    await syncQueue.drain().catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
    throw error;
  } finally {
    await slicer?.close();
  }
}

async function swapIntoPlace(temp: string, dir: string, tag: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const old = `${dir}.old-${tag}`;
  let moved = false;
  try {
    await rename(dir, old);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rename(temp, dir);
  if (moved) await rm(old, { recursive: true, force: true });
}

export function buildManifest(params: DatasetParameters, entries: ManifestEntry[]): Manifest {
  const logicalBytes = entries.reduce((sum, entry) => sum + entry.size, 0);
  const unique = entries.filter((entry) => entry.duplicateOf === null);
  const uniqueBytes = unique.reduce((sum, entry) => sum + entry.size, 0);
  return {
    generatorVersion: GENERATOR_VERSION,
    parameters: { ...params },
    entries,
    totals: {
      files: entries.length,
      uniqueFiles: unique.length,
      duplicateFiles: entries.length - unique.length,
      logicalBytes,
      uniqueBytes,
      idealEdr: uniqueBytes > 0 ? logicalBytes / uniqueBytes : 1,
    },
  };
}

async function writeSynthetic(path: string, file: PlannedFile, params: DatasetParameters, seen: Set<string>, sinkOptions: FileSinkOptions): Promise<WrittenFile> {
  if (!isSyntheticType(file.payloadType)) throw new Error(`internal: ${file.payloadType} is not synthetic`);
  const generate = SYNTHETIC_GENERATORS[file.payloadType];
  for (let attempt = 0; attempt < DISTINCT_ATTEMPTS; attempt++) {
    const key = deriveKey('content', params.seed, params.payloadType, file.payloadType, file.index, attempt);
    const written = await writeChunks(path, generate(key, file.size), sinkOptions);
    if (!seen.has(written.sha256)) return written;
  }
  throw new UsageError(
    `cannot make ${params.files} distinct ${file.payloadType} files of ${file.size} bytes; use a larger --min-size or fewer files`,
  );
}

export function plannedUniqueBytes(plan: PlannedFile[]): number {
  return plan.reduce((sum, file) => sum + (file.duplicateOf === null ? file.size : 0), 0);
}

/** `localSource`: the path read (a URL's cache entry); messages name `params.source` (the URL). */
async function openSource(params: DatasetParameters, plan: PlannedFile[], localSource: string): Promise<SourceSlicer> {
  const files = await sourceFiles(localSource);
  const needed = plannedUniqueBytes(plan);
  const available = await plainSourceSize(files);
  if (available !== null && available < needed) throw sourceTooSmall(params.payloadType, params.source ?? localSource, needed, available);
  return new SourceSlicer(files, localSource);
}

async function writeSourceSlice(
  path: string,
  file: PlannedFile,
  params: DatasetParameters,
  slicer: SourceSlicer,
  seen: Set<string>,
  neededBytes: number,
  sinkOptions: FileSinkOptions,
): Promise<WrittenFile> {
  const lineAligned = isLineBased(params.payloadType, slicer.path);
  for (let attempt = 0; attempt < DISTINCT_ATTEMPTS; attempt++) {
    const sink = await FileSink.create(path, sinkOptions);
    let result;
    try {
      result = await slicer.take(file.size, lineAligned, (part) => sink.write(part));
    } catch (error) {
      await sink.abandon();
      throw error;
    }
    const written = await sink.close();
    if (result.ranOut) throw sourceTooSmall(params.payloadType, params.source as string, neededBytes, slicer.consumed);
    if (!seen.has(written.sha256)) return written;
  }
  throw new UsageError(`source for ${params.payloadType} repeats itself: ${DISTINCT_ATTEMPTS} consecutive slices equal earlier files`);
}
