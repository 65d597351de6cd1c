/**
 * Systems registered by id (go-ycsb style). Each id maps to one module in this folder that
 * exports `definition: SystemDefinition`; the module imports its driver lazily, so loading a
 * definition (for validation, plans, help) never loads a driver.
 */
import { invalidChoice } from '../core/errors.js';
import type { SystemDefinition } from './types.js';

/** id → module file (without extension) in src/systems. */
const MODULES = {
  pglite: 'pglite',
  sqlite: 'sqlite',
  duckdb: 'duckdb',
  postgresql: 'postgresql',
  cockroachdb: 'cockroachdb',
  mariadb: 'mariadb',
  clickhouse: 'clickhouse',
  chdb: 'chdb',
  redis: 'redis',
  kafka: 'kafka',
  minio: 'minio',
  nats: 'nats',
} as const;

export type SystemId = keyof typeof MODULES;
export const SYSTEM_IDS = Object.keys(MODULES) as SystemId[];
export const SYSTEM_ALIASES: Record<string, SystemId> = { s3: 'minio' };
export const EMBEDDED_SYSTEMS: SystemId[] = ['pglite', 'sqlite', 'duckdb', 'chdb'];
/** What `demo` runs: chdb is an optional ≈ 540 MB package, so the demo never needs it. */
export const DEMO_SYSTEMS: SystemId[] = ['pglite', 'sqlite', 'duckdb'];

export function resolveSystemId(name: string): SystemId {
  const id = SYSTEM_ALIASES[name] ?? name;
  if (!(id in MODULES)) throw invalidChoice('system', name, [...SYSTEM_IDS, ...Object.keys(SYSTEM_ALIASES)]);
  return id as SystemId;
}

export async function loadSystem(name: string): Promise<SystemDefinition> {
  const id = resolveSystemId(name);
  const module = (await import(`./${MODULES[id]}.js`)) as { definition: SystemDefinition };
  return module.definition;
}
