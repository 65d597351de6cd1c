/**
 * Test helpers for the SQL server adapters: connection options from the env of
 * `scripts/services.sh env`, small deterministic files, cells. A missing variable FAILS the test
 * (CI always brings the services up); nothing here is skipped.
 */
import type { CellContext, LabFile } from '../../src/systems/types.js';
import { makeCell, makeLabFiles } from './fixtures.js';

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test.sh (or eval "$(bash scripts/services.sh env)")`);
  return value;
}

export function pgOptionsFromEnv(): Record<string, unknown> {
  return {
    host: requireEnv('DEDUP_LAB_PG_URL_HOST'),
    port: requireEnv('DEDUP_LAB_PG_PORT'),
    user: requireEnv('DEDUP_LAB_PG_USER'),
    password: requireEnv('DEDUP_LAB_PG_PASSWORD'),
    database: requireEnv('DEDUP_LAB_PG_DATABASE'),
    dataDir: requireEnv('DEDUP_LAB_PG_DATA_DIR'),
  };
}

export function mariadbOptionsFromEnv(): Record<string, unknown> {
  return {
    host: '127.0.0.1',
    port: requireEnv('DEDUP_LAB_MARIADB_PORT'),
    user: requireEnv('DEDUP_LAB_MARIADB_USER'),
    password: requireEnv('DEDUP_LAB_MARIADB_PASSWORD'),
    dataDir: requireEnv('DEDUP_LAB_MARIADB_DATA_DIR'),
  };
}

export function clickhouseOptionsFromEnv(): Record<string, unknown> {
  return {
    url: requireEnv('DEDUP_LAB_CLICKHOUSE_URL'),
    user: requireEnv('DEDUP_LAB_CLICKHOUSE_USER'),
    password: requireEnv('DEDUP_LAB_CLICKHOUSE_PASSWORD'),
    dataDir: requireEnv('DEDUP_LAB_CLICKHOUSE_DATA_DIR'),
  };
}

/** `count` files of `size` bytes; the last `duplicates` files copy earlier unique files (round-robin), like a grade. */
export function labFiles(spec: { count: number; size: number; duplicates: number; kind: 'random' | 'text'; seed?: string }): LabFile[] {
  const unique = spec.count - spec.duplicates;
  const duplicates: Record<number, number> = {};
  for (let id = unique; id < spec.count; id += 1) duplicates[id] = (id - unique) % unique;
  return makeLabFiles({ count: spec.count, size: spec.size, duplicates, kind: spec.kind, seed: spec.seed ?? 'sql' });
}

export { iterate as streamOf } from './fixtures.js';

export function blobCell(variant: string): CellContext {
  return makeCell({ variant, mode: 'blob' });
}

export function nativeCell(variant: string): CellContext {
  return makeCell({ variant, mode: 'native' });
}

/** One statement through a short-lived admin connection (outside the adapter under test). */
export async function pgAdmin<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const { default: pg } = await import('pg');
  const options = pgOptionsFromEnv();
  const client = new pg.Client({
    host: String(options.host),
    port: Number(options.port),
    user: String(options.user),
    password: String(options.password),
    database: String(options.database),
  });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Contract-suite hooks for a PostgreSQL-wire adapter whose lab is a schema of the test database. */
export function pgContractHooks(lab: string, canarySchema: string) {
  return {
    canary: {
      async create() {
        await pgAdmin(`CREATE SCHEMA IF NOT EXISTS ${canarySchema}`);
        await pgAdmin(`DROP TABLE IF EXISTS ${canarySchema}.keep`);
        await pgAdmin(`CREATE TABLE ${canarySchema}.keep (k bytea)`);
        await pgAdmin(`INSERT INTO ${canarySchema}.keep VALUES ($1)`, [Buffer.from('canary bytes \u0000\u00ff')]);
      },
      async read() {
        const rows = await pgAdmin<{ h: string }>(`SELECT md5(string_agg(encode(k, 'hex'), ',')) AS h FROM ${canarySchema}.keep`);
        return rows[0]?.h ?? '<missing>';
      },
    },
    failWrites: {
      async arm({ cell, poisoned }: { cell: CellContext; poisoned: LabFile }) {
        const table = cell.mode === 'blob' ? 'blobs' : 'n_fixture_rows';
        const column = cell.mode === 'blob' ? 'id' : 'file_id';
        // A real server-side refusal of exactly one file id.
        await pgAdmin(`ALTER TABLE ${lab}.${table} ADD CONSTRAINT refuse_one CHECK (${column} <> ${Number(poisoned.id)})`);
      },
    },
    sideEffectSnapshot: async () => (await pgAdmin<{ n: string }>('SELECT string_agg(nspname, \',\' ORDER BY nspname) AS n FROM pg_namespace'))[0]?.n ?? '',
    labExists: async () => (await pgAdmin('SELECT 1 FROM pg_namespace WHERE nspname = $1', [lab])).length > 0,
  };
}

/** One statement through a short-lived MariaDB admin connection. */
export async function mariadbAdmin<T>(sql: string, params: unknown[] = []): Promise<T> {
  const driver = await import('mariadb');
  const options = mariadbOptionsFromEnv();
  const conn = await driver.createConnection({
    host: String(options.host),
    port: Number(options.port),
    user: String(options.user),
    password: String(options.password),
    bigIntAsNumber: true,
  });
  try {
    return (await conn.query(sql, params)) as T;
  } finally {
    await conn.end();
  }
}

/** One ClickHouse statement over plain HTTP (credentials in headers); a non-200 answer throws. */
export async function clickhouseAdmin(query: string, body?: Buffer): Promise<string> {
  const options = clickhouseOptionsFromEnv();
  const url = new URL(String(options.url));
  url.searchParams.set('query', query);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'X-ClickHouse-User': String(options.user), 'X-ClickHouse-Key': String(options.password) },
    body: body ? new Uint8Array(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse HTTP ${response.status}: ${text.slice(0, 300)}`);
  return text.trim();
}
