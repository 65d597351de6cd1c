/** The manifest written beside every generated data set (SPEC §3). */
export const MANIFEST_FILE = 'manifest.json';

export interface ManifestEntry {
  name: string; // e.g. `00042.json`
  size: number;
  sha256: string;
  /** Name of the unique file this one copies, or null for a unique file. */
  duplicateOf: string | null;
  /** Payload type of the file (differs from the set's type only in `mixed`). */
  payloadType: string;
}

export interface DatasetParameters {
  payloadType: string;
  grade: string; // `U0` … `U99`
  files: number;
  minSize: number;
  maxSize: number;
  seed: number;
  dupDistribution: 'uniform' | 'zipf';
  /** Real-world source path (or URL, without credentials) for source-backed types, else null. */
  source: string | null;
  /**
   * sha256 of the source bytes the set was cut from, for URL sources (absent for local sources and
   * synthetic types): a changed remote file gives other parameters, so the set is regenerated.
   */
  sourceSha256?: string;
  /** `--total-size` target in bytes (SPEC §4.1) when the file count was derived from it; absent otherwise. */
  totalSize?: number;
}

export interface ManifestTotals {
  files: number;
  uniqueFiles: number;
  duplicateFiles: number;
  logicalBytes: number;
  uniqueBytes: number;
  /** logicalBytes / uniqueBytes. */
  idealEdr: number;
}

export interface Manifest {
  generatorVersion: string;
  parameters: DatasetParameters;
  entries: ManifestEntry[];
  totals: ManifestTotals;
}
