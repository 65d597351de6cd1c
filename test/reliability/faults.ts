/**
 * Fault injection against the real servers of scripts/services.sh: SIGKILL, SIGSTOP/SIGCONT of a
 * server's whole process tree, and a restart through `services.sh up`. The callers run under the
 * cross-helper servers lock (the test command is wrapped in flock; the tests never take it).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, redisOptionsFromEnv, s3OptionsFromEnv } from '../systems/kv-helpers.js';
import { clickhouseOptionsFromEnv, mariadbOptionsFromEnv, pgOptionsFromEnv } from '../systems/sql-helpers.js';

const run = promisify(execFile);
const SERVICES = new URL('../../scripts/services.sh', import.meta.url).pathname;

export interface ServerSystem {
  /** System id in the config. */
  id: string;
  /** Service name of scripts/services.sh. */
  service: string;
  options: () => Record<string, unknown>;
  /** Deterministic EDRs (same bytes → same sizes), compared with an uninterrupted run. */
  deterministic: boolean;
  /** The client reconnects by itself (nats.js): a quick restart may cost no attempt at all. */
  reconnectsItself?: boolean;
}

export const SERVER_SYSTEMS: ServerSystem[] = [
  { id: 'postgresql', service: 'postgresql', options: pgOptionsFromEnv, deterministic: true },
  { id: 'mariadb', service: 'mariadb', options: mariadbOptionsFromEnv, deterministic: false },
  { id: 'clickhouse', service: 'clickhouse', options: clickhouseOptionsFromEnv, deterministic: false },
  { id: 'redis', service: 'redis', options: redisOptionsFromEnv, deterministic: false },
  { id: 'kafka', service: 'kafka', options: kafkaOptionsFromEnv, deterministic: false },
  { id: 'minio', service: 's3', options: s3OptionsFromEnv, deterministic: false },
  { id: 'nats', service: 'nats', options: natsOptionsFromEnv, deterministic: false, reconnectsItself: true },
];

/** Systems named in DEDUP_LAB_FAULT_SYSTEMS (comma list), else all. */
export function faultSystems(): ServerSystem[] {
  const wanted = process.env.DEDUP_LAB_FAULT_SYSTEMS?.split(',').map((name) => name.trim()).filter(Boolean);
  return wanted ? SERVER_SYSTEMS.filter((system) => wanted.includes(system.id) || wanted.includes(system.service)) : SERVER_SYSTEMS;
}

const SERVICES_ROOT = process.env.DEDUP_LAB_SERVICES_DIR ?? '/var/lib/dedup-lab-services';

/** The server's pid from the pid file services.sh keeps, read synchronously (a fault lands the moment a stage starts). */
export function serverPidNow(service: string): number {
  const file = service === 'postgresql' ? join(SERVICES_ROOT, 'postgresql', 'data', 'postmaster.pid') : join(SERVICES_ROOT, service, 'run', `${service}.pid`);
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`no pid in ${file}`);
  return pid;
}

/** The pid and every descendant (PostgreSQL backends, the real nats-server under its wrapper …). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Signal the server's whole process tree; after SIGKILL, wait until every process is gone (PostgreSQL cannot start while old backends hold its shared memory). */
export async function signalServer(service: string, signal: NodeJS.Signals): Promise<void> {
  const pids = processTree(serverPidNow(service));
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  if (signal !== 'SIGKILL') return;
  const deadline = Date.now() + 30_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Start (or re-check) a service; resolves when it answers (a start right after a crash may need a second try). */
export async function serviceUp(service: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run('bash', [SERVICES, 'up', service], { maxBuffer: 1 << 24 });
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

/** Leave the server running and answering, whatever happened (SIGCONT first: a stopped server cannot be checked). */
export async function restoreServer(service: string): Promise<void> {
  await signalServer(service, 'SIGCONT').catch(() => undefined);
  await serviceUp(service);
}
