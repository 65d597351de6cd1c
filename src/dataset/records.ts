/**
 * Native mode (SPEC §5.4): how a payload type's files become typed records.
 *
 * Contract only — the per-type parsers live next to the payload generators. Each adapter maps
 * the portable column types below onto its own types (JSONB, UUID, NUMERIC, TIMESTAMP …).
 */
export type ColumnType = 'text' | 'int' | 'float' | 'decimal' | 'timestamp' | 'uuid' | 'json' | 'bytes' | 'bool';

export interface NativeColumn {
  name: string; // a safe identifier: [a-z][a-z0-9_]*
  type: ColumnType;
}

export interface NativeTable {
  /** Table name suffix, e.g. `bank_transactions`; adapters prefix/qualify it. */
  name: string;
  columns: NativeColumn[];
}

/**
 * Row values by column type: text/decimal/timestamp(ISO 8601)/uuid/json(text) → string,
 * int/float → number, bytes → Buffer, bool → boolean, missing → null.
 */
export type NativeValue = string | number | boolean | Buffer | null;
