/**
 * `cascade` (SPEC §8): the configured systems one after another — scale a non-production workload
 * up through its scale subresource, watch until its pods are Ready and its protocol answers, run
 * its cells with the ordinary runner, scale it down again whatever happened, next system.
 */
import { log } from '../core/log.js';
import { createProgress } from '../cli/progress.js';
import type { Config } from '../config/schema.js';
import { scrub } from '../config/secrets.js';
import { newRunId, runExperiment } from '../experiment/runner.js';
import { createAdapter, type RunSetup } from '../experiment/setup.js';
import type { SystemTarget } from '../experiment/plan.js';
import type { Cluster } from './client.js';
import { readScale, readScaleRecord, setScale, waitForPods, writeScaleRecord } from './scale.js';
import { cascadeWorkload, describeWorkload, type CascadeWorkload } from './workload.js';

export type CascadePhase = 'scaling up' | 'waiting' | 'running' | 'scaling down';

export interface CascadeStep {
  target: SystemTarget;
  /** null: no `k8s` block — run like `run` does, nothing is scaled. */
  workload: CascadeWorkload | null;
}

/** Every selected system with its workload; production asking to be scaled is a usage error. Pure (no I/O). */
export function planCascade(config: Config, setup: RunSetup): CascadeStep[] {
  const workloads = new Map<string, CascadeWorkload | null>();
  config.systems.forEach((entry, index) => workloads.set(entry.instance ?? entry.id, cascadeWorkload(entry, index)));
  return setup.targets.map((target) => ({ target, workload: workloads.get(target.instance) ?? null }));
}

/** Workloads of the whole config that a cascade may scale (production ones never). */
export function scalableWorkloads(config: Config): CascadeWorkload[] {
  return config.systems.flatMap((entry, index) => {
    const workload = cascadeWorkload(entry, index);
    return workload && !workload.production ? [workload] : [];
  });
}

export interface CascadeOptions {
  config: Config;
  setup: RunSetup;
  steps: CascadeStep[];
  cluster: Cluster | null;
  resultsDir: string;
  fresh: boolean;
  repeat: string[];
  signal: AbortSignal;
  argv: string[];
}

export interface CascadeOutcome {
  runId: string;
  failed: { instance: string; reason: string }[];
  interrupted: boolean;
  completedCells: number;
}

function messageOf(error: unknown): string {
  return scrub(error instanceof Error ? error.message : String(error));
}

/** Undo what an earlier cascade (killed before it could scale down) left scaled up. */
export async function restoreLeftovers(cluster: Cluster, workloads: CascadeWorkload[], runId: string): Promise<string[]> {
  const restored: string[] = [];
  for (const workload of workloads) {
    try {
      const record = await readScaleRecord(cluster, workload.ref);
      if (!record || record.runId === runId) continue;
      log.info(`cascade: ${describeWorkload(workload.ref)} was left scaled up by run ${record.runId}; scaling it back to ${record.restoreReplicas}`);
      await setScale(cluster, workload.ref, record.restoreReplicas);
      await writeScaleRecord(cluster, workload.ref, null);
      restored.push(workload.instance);
    } catch (error) {
      log.warn(`cascade: cannot check ${workload.instance} for leftovers: ${messageOf(error)}`);
    }
  }
  return restored;
}

/** Poll the protocol until the adapter connects and reads its version (a protocol has no watch). */
export async function waitForProtocol(target: SystemTarget, config: Config, timeoutS: number, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + timeoutS * 1000;
  let lastError: string;
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw new Error('interrupted while waiting for the protocol');
    const adapter = createAdapter(target, config);
    try {
      await adapter.connect();
      return await adapter.version();
    } catch (error) {
      lastError = messageOf(error);
    } finally {
      await adapter.close().catch(() => {});
    }
    if (Date.now() >= deadline) throw new Error(`${target.instance} did not answer within ${timeoutS} s: ${lastError}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 5_000, Math.max(0, deadline - Date.now()))));
  }
}

export async function runCascade(options: CascadeOptions): Promise<CascadeOutcome> {
  const runId = newRunId();
  const outcome: CascadeOutcome = { runId, failed: [], interrupted: false, completedCells: 0 };
  const { cluster, signal } = options;
  if (cluster) await restoreLeftovers(cluster, scalableWorkloads(options.config), runId);
  const total = options.steps.length;
  for (const [index, step] of options.steps.entries()) {
    if (signal.aborted) break;
    const phase = (name: CascadePhase, detail = '') => log.info(`cascade ${index + 1}/${total} ${step.target.instance}: ${name}${detail ? ` — ${detail}` : ''}`);
    try {
      const failedCells = await runStep(step, phase);
      if (failedCells > 0) outcome.failed.push({ instance: step.target.instance, reason: `${failedCells} cells failed` });
    } catch (error) {
      const reason = messageOf(error);
      if (!signal.aborted) log.error(`cascade ${index + 1}/${total} ${step.target.instance}: ${reason}`);
      outcome.failed.push({ instance: step.target.instance, reason });
    }
  }
  outcome.interrupted = signal.aborted;
  return outcome;

  async function runStep(step: CascadeStep, phase: (name: CascadePhase, detail?: string) => void): Promise<number> {
    const { workload, target } = step;
    const scalable = workload !== null && !workload.production && cluster !== null;
    // Set once the annotation is written: from then on the workload is scaled down whatever happens.
    const touched = { value: false };
    try {
      if (scalable) await scaleUp(workload, phase, touched);
      else phase('waiting', workload?.production ? 'production: never scaled, checking the protocol' : 'no k8s workload, checking the protocol');
      const version = await waitForProtocol(target, options.config, workload?.readyTimeoutS ?? 60, signal);
      phase('running', `${target.definition.id} ${version}`);
      const summary = await runExperiment({
        config: options.config,
        targets: [target],
        plan: { ...options.setup.plan, cells: options.setup.plan.cells.filter((cell) => cell.instance === target.instance) },
        datasets: options.setup.datasets,
        dataDir: options.setup.dataDir,
        resultsDir: options.resultsDir,
        fresh: options.fresh,
        repeat: options.repeat,
        maxRetries: options.setup.maxRetries,
        keepLab: options.setup.keepLab,
        traceIntervalMs: options.setup.traceIntervalMs,
        signal,
        progress: createProgress(),
        argv: options.argv,
      });
      outcome.completedCells += summary.completedCells;
      for (const failed of summary.failedCells) log.error(`cell failed: ${failed.cellId}: ${failed.error}`);
      return summary.failedCells.length;
    } finally {
      if (scalable && touched.value) await scaleDown(workload, phase);
    }
  }

  async function scaleUp(workload: CascadeWorkload, phase: (name: CascadePhase, detail?: string) => void, touched: { value: boolean }): Promise<void> {
    const ref = workload.ref;
    const before = await readScale(cluster!, ref);
    phase('scaling up', `${describeWorkload(ref)} ${before.replicas} → ${workload.replicasUp}`);
    // The record goes first: a SIGKILL right after the scale-up still leaves what to restore.
    touched.value = true;
    await writeScaleRecord(cluster!, ref, { runId, restoreReplicas: workload.replicasDown, previousReplicas: before.replicas, scaledAt: new Date().toISOString() });
    await setScale(cluster!, ref, workload.replicasUp);
    const selector = (await readScale(cluster!, ref)).selector || workload.podSelector;
    if (!selector) throw new Error(`${describeWorkload(ref)}: its scale subresource reports no pod selector; set k8s.podSelector`);
    phase('waiting', `${workload.replicasUp} pods Ready (selector ${selector})`);
    await waitForPods(cluster!, ref, selector, (counts) => counts.ready >= workload.replicasUp, workload.readyTimeoutS, signal);
  }

  async function scaleDown(workload: CascadeWorkload, phase: (name: CascadePhase, detail?: string) => void): Promise<void> {
    const ref = workload.ref;
    phase('scaling down', `${describeWorkload(ref)} → ${workload.replicasDown}`);
    try {
      await setScale(cluster!, ref, workload.replicasDown);
      await writeScaleRecord(cluster!, ref, null);
    } catch (error) {
      // The annotation stays: the next cascade restores it.
      log.error(`cascade: scaling ${workload.instance} down failed (the next cascade retries it): ${messageOf(error)}`);
      throw error;
    }
  }
}
