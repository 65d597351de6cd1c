/**
 * Data sets (SPEC §3): the public API the CLI and the runner use. Everything else in this folder
 * is an implementation detail.
 */
export { SYNTHETIC_TYPES, REAL_WORLD_TYPES, MIXED, validPayloadTypes, extensionFor, isSyntheticType, isRealWorldType } from './types.js';
export type { SyntheticType, RealWorldType } from './types.js';
export { parseGrade, DEFAULT_GRADES, duplicateCount } from './grades.js';
export { datasetDir, ensureDataset, readManifest, verifyDataset, buildManifest, sameParameters, assumeRecordedSourceDigest } from './generate.js';
export { prepareSource } from './sources.js';
export { looksLikeUrl } from './download.js';
export type { EnsureOptions, EnsuredDataset } from './generate.js';
export { iterateLabFiles } from './iterate.js';
export type { IterateOptions } from './iterate.js';
export { nativeTableFor, parseRecords } from './native.js';
export { parseSize, formatBytes } from './size.js';
export { GENERATOR_VERSION } from './version.js';
export { MANIFEST_FILE } from './manifest.js';
export type { DatasetParameters, Manifest, ManifestEntry, ManifestTotals } from './manifest.js';
export type { NativeTable, NativeColumn, NativeValue, ColumnType } from './records.js';
export { estimateDataset, findDatasetDirs, BLOCK_SIZE, COMPRESSION_SAMPLE_BYTES, COMPRESSOR } from './estimate.js';
export type { SetEstimate } from './estimate.js';
export { FastCdc, FixedBlocks, DEFAULT_CDC } from './fastcdc.js';
export type { CdcParameters } from './fastcdc.js';
