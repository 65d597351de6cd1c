/** environment.json (SPEC §6.4): what produced these numbers — tool, runtime, host, config without secrets, system versions. */
import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { redact } from '../config/secrets.js';
import type { Config } from '../config/schema.js';
import { TOOL_VERSION } from '../version.js';
import { writeFileAtomic } from './results.js';

export interface SystemEnvironment {
  system: string;
  instance: string;
  version: string | null;
  error?: string;
}

export interface Environment {
  tool: { name: 'dedup-lab'; version: string };
  node: string;
  host: { hostname: string; os: string; release: string; arch: string; cpus: number; cpuModel: string; memoryBytes: number };
  startedAt: string;
  runId: string;
  argv: string[];
  config: unknown;
  systems: SystemEnvironment[];
}

export function describeEnvironment(config: Config, runId: string, argv: string[], systems: SystemEnvironment[], startedAt: Date = new Date()): Environment {
  const cpuList = cpus();
  return {
    tool: { name: 'dedup-lab', version: TOOL_VERSION },
    node: process.version,
    host: {
      hostname: hostname(),
      os: platform(),
      release: release(),
      arch: arch(),
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
    },
    startedAt: startedAt.toISOString(),
    runId,
    argv: redact(argv),
    config: redact(config),
    systems: redact(systems),
  };
}

export function writeEnvironment(resultsDir: string, environment: Environment): void {
  writeFileAtomic(join(resultsDir, 'environment.json'), `${JSON.stringify(environment, null, 2)}\n`);
}
