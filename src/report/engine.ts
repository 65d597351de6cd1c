/**
 * The engine a table row measured, shortened for a column: the version text up to its first
 * version number (`ClickHouse 26.7.2.1 (chdb 3.4.0)` → `ClickHouse 26.7.2.1`, `PostgreSQL 15.8 on
 * x86_64…` → `PostgreSQL 15.8`, `18.16.1` → `18.16.1`). So `chdb` and `clickhouse` rows show which
 * ClickHouse each one is.
 */
const MAX_ENGINE_CHARS = 32;

export function engineLabel(version: string | undefined | null): string | null {
  const text = version?.trim();
  if (!text) return null;
  const upToNumber = /^(.*?\d+(?:\.\d+)+)/.exec(text)?.[1] ?? text;
  return upToNumber.length > MAX_ENGINE_CHARS ? `${upToNumber.slice(0, MAX_ENGINE_CHARS - 1)}…` : upToNumber;
}
