/**
 * `check`: preflight (SPEC §2). Reach every chosen system at protocol level, print its version,
 * verify the lab namespace can be created and dropped, print the plan. Changes nothing else.
 * Exit 0 all reachable, 1 some unreachable, 3 none reachable.
 */
import type { CommandModule } from './types.js';
import { EXIT, errorMessage } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { addDatasetOptions, loadCommandConfig } from '../options.js';
import { addRunOptions } from './run.js';
import { createAdapter, describePlan, resolveRunSetup } from '../../experiment/setup.js';
import { cellIdOf, objectTagOf, type SystemTarget } from '../../experiment/plan.js';
import type { CellContext } from '../../systems/types.js';
import type { Config } from '../../config/schema.js';

/** A throw-away cell for creating the lab namespace once. */
export function probeCell(target: SystemTarget, signal: AbortSignal): CellContext {
  const base = { systemId: target.definition.id, instance: target.instance, variant: target.definition.variants[0] ?? 'default', mode: 'blob' as const, payloadType: 'random_binary', grade: 'U0', repetition: 0 };
  const cellId = `check.${cellIdOf(base)}`;
  return { cellId, objectTag: objectTagOf(cellId), variant: base.variant, mode: 'blob', payloadType: base.payloadType, grade: base.grade, signal };
}

export interface ReachResult {
  instance: string;
  ok: boolean;
  detail: string;
}

/** Connect, do `work`, close — one line of outcome per system; never throws. */
export async function withEachSystem(targets: SystemTarget[], config: Config, work: (adapter: ReturnType<typeof createAdapter>, target: SystemTarget) => Promise<string>): Promise<ReachResult[]> {
  const results: ReachResult[] = [];
  for (const target of targets) {
    let adapter;
    try {
      adapter = createAdapter(target, config);
      await adapter.connect();
      results.push({ instance: target.instance, ok: true, detail: await work(adapter, target) });
    } catch (error) {
      results.push({ instance: target.instance, ok: false, detail: errorMessage(error) });
    } finally {
      await adapter?.close().catch(() => {});
    }
  }
  return results;
}

export function exitCodeOfReach(results: ReachResult[]): number {
  const reachable = results.filter((result) => result.ok).length;
  if (reachable === 0) return EXIT.unreachable;
  return reachable === results.length ? EXIT.ok : EXIT.cellsFailed;
}

export const command: CommandModule = {
  register: (program) =>
    addDatasetOptions(addRunOptions(program.command('check').description('preflight: reach every system, print versions, create and drop the lab namespace, print the plan'))),
  run: async (_args, options) => {
    const config = loadCommandConfig(options);
    const setup = await resolveRunSetup(options, config);
    const signal = new AbortController().signal;
    const results = await withEachSystem(setup.targets, config, async (adapter, target) => {
      const version = await adapter.version();
      await adapter.resetLab(probeCell(target, signal));
      await adapter.dropLab();
      return `${version}; lab namespace created and dropped`;
    });
    for (const result of results) {
      if (result.ok) process.stdout.write(`ok    ${result.instance}: ${result.detail}\n`);
      else process.stdout.write(`FAIL  ${result.instance}: ${result.detail}\n`);
    }
    process.stdout.write(`${await describePlan(setup)}\n`);
    const code = exitCodeOfReach(results);
    if (code === EXIT.unreachable) log.error('no configured system is reachable');
    return code;
  },
};
