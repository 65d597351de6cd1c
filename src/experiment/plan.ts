/**
 * The planner (SPEC §4): configuration + CLI choices → the ordered list of cells
 * system → variant → mode → payload type → grade → repetition. Pure: it gets the system
 * definitions handed in and does no I/O, so every rule here has a unit test.
 */
import { createHash } from 'node:crypto';
import { invalidChoice, UsageError } from '../core/errors.js';
import type { SystemEntry } from '../config/schema.js';
import { resolveSystemId, SYSTEM_ALIASES, SYSTEM_IDS, EMBEDDED_SYSTEMS } from '../systems/registry.js';
import { DEFAULT_DIMENSIONS, dimensionSuffix, type CellDimensions, type PlanDimensions } from './dimensions.js';
import { OPT_IN_STAGES, STAGE_ORDER, STAGES, type Mode, type StageName, type SystemDefinition } from '../systems/types.js';

/** One configured system instance with its (module-level, driver-free) definition. */
export interface SystemTarget {
  entry: SystemEntry;
  /** `entry.instance ?? entry.id`. */
  instance: string;
  definition: SystemDefinition;
}

export interface PlannedCell {
  cellId: string;
  objectTag: string;
  systemId: string;
  instance: string;
  variant: string;
  mode: Mode;
  payloadType: string;
  grade: string;
  repetition: number;
  /** Research-plan dimensions (SPEC §4.1); absent = every one at its default. */
  dimensions?: CellDimensions;
  /** Set when the cell cannot run at all (e.g. native mode of a `mixed` set): recorded, not run. */
  notApplicable?: string;
}

export interface Plan {
  cells: PlannedCell[];
  stages: StageName[];
  /** Things the user should know about what was left out and why. */
  notes: string[];
}

export type ModeChoice = Mode | 'both';
export const MODE_CHOICES: readonly ModeChoice[] = ['blob', 'native', 'both'];

export interface PlanInput {
  targets: SystemTarget[];
  /** `--variants` entries (`system:variant` or a bare variant name); undefined = every variant. */
  variants?: readonly string[];
  stages: readonly StageName[];
  mode: ModeChoice;
  /** Data sets in run order (payload type, then grade). */
  datasets: readonly { payloadType: string; grade: string }[];
  runs: number;
  /** SPEC §4.1: one cell per delete method, and the cell-wide scope/placement/cache; absent = defaults. */
  dimensions?: PlanDimensions;
}

/** Readable and filesystem-safe: `sqlite.default.blob.random_binary.U50.r1` (`id@instance` when they differ). */
export function cellIdOf(cell: Omit<PlannedCell, 'cellId' | 'objectTag' | 'notApplicable'>): string {
  const system = cell.instance === cell.systemId ? cell.systemId : `${cell.systemId}@${cell.instance}`;
  const raw = [system, cell.variant, cell.mode, cell.payloadType, cell.grade, `r${cell.repetition}`].join('.') + (cell.dimensions ? dimensionSuffix(cell.dimensions) : '');
  return raw.replace(/[^A-Za-z0-9_.@-]/g, '_');
}

/** Short per-cell tag for object names (`[a-z0-9]{13}`): a letter + 12 hex digits of sha256(cellId). */
export function objectTagOf(cellId: string): string {
  return `c${createHash('sha256').update(cellId).digest('hex').slice(0, 12)}`;
}

/** Parse `--stages`: default and implemented opt-in stages, kept in cell order whatever order they were given in. */
export function parseStages(raw: readonly string[] | undefined): StageName[] {
  if (raw === undefined) return [...STAGES];
  const valid = STAGE_ORDER.filter((stage) => STAGES.includes(stage) || OPT_IN_STAGES.includes(stage));
  if (raw.length === 0) throw new UsageError(`empty stage list; valid: ${valid.join(', ')}`);
  for (const stage of raw) if (!(valid as readonly string[]).includes(stage)) throw invalidChoice('stage', stage, valid);
  return valid.filter((stage) => raw.includes(stage));
}

export function parseMode(raw: string): ModeChoice {
  if (!(MODE_CHOICES as readonly string[]).includes(raw)) throw invalidChoice('mode', raw, MODE_CHOICES);
  return raw as ModeChoice;
}

export function parseRuns(raw: string | number): number {
  const runs = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(runs) || runs < 1 || String(raw).trim() === '') {
    throw new UsageError(`invalid --runs ${JSON.stringify(String(raw))}; valid: an integer ≥ 1`);
  }
  return runs;
}

export function parseMaxRetries(raw: string | number): number {
  const retries = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(retries) || retries < 0 || String(raw).trim() === '') {
    throw new UsageError(`invalid --max-retries ${JSON.stringify(String(raw))}; valid: an integer ≥ 0`);
  }
  return retries;
}

/**
 * Which configured entries `--systems` selects. Names are system ids (alias `s3` → `minio`) or
 * instance names. Without config entries, embedded systems run with default options; a server
 * system needs a config entry (it needs an address).
 */
export function selectEntries(configured: readonly SystemEntry[], names: readonly string[] | undefined): SystemEntry[] {
  if (names === undefined) {
    if (configured.length === 0) {
      throw new UsageError(`no systems configured: pass --systems (embedded: ${EMBEDDED_SYSTEMS.join(', ')}) or a --config with systems`);
    }
    return [...configured];
  }
  if (names.length === 0) throw new UsageError(`empty system list; valid: ${validSystemNames(configured).join(', ')}`);
  const chosen: SystemEntry[] = [];
  const add = (entry: SystemEntry) => {
    if (!chosen.includes(entry)) chosen.push(entry);
  };
  for (const name of names) {
    const byInstance = configured.filter((entry) => (entry.instance ?? entry.id) === name);
    if (byInstance.length > 0) {
      byInstance.forEach(add);
      continue;
    }
    const id = SYSTEM_ALIASES[name] ?? name;
    const byId = configured.filter((entry) => (SYSTEM_ALIASES[entry.id] ?? entry.id) === id);
    if (byId.length > 0) {
      byId.forEach(add);
      continue;
    }
    if (!(SYSTEM_IDS as readonly string[]).includes(id)) throw invalidChoice('system', name, validSystemNames(configured));
    if (!(EMBEDDED_SYSTEMS as readonly string[]).includes(id)) {
      throw new UsageError(
        `system ${JSON.stringify(name)} is not in the config (a server system needs its address there); configured: ${
          configured.map((entry) => entry.instance ?? entry.id).join(', ') || 'none'
        }`,
      );
    }
    const entry: SystemEntry = { id: resolveSystemId(id), options: {}, probes: {} };
    add(entry);
  }
  return chosen;
}

function validSystemNames(configured: readonly SystemEntry[]): string[] {
  const instances = configured.map((entry) => entry.instance ?? entry.id);
  return [...new Set([...instances, ...SYSTEM_IDS, ...Object.keys(SYSTEM_ALIASES)])];
}

/**
 * `--variants`: `system:variant` entries pick that variant of that system (system = id, alias or
 * instance); a bare name picks that variant in every chosen system that has it. A system that no
 * entry selects anything of is left out (with a note). Unknown values are usage errors.
 */
export function selectVariants(targets: readonly SystemTarget[], raw: readonly string[] | undefined): { byInstance: Map<string, string[]>; notes: string[] } {
  const byInstance = new Map<string, string[]>();
  const notes: string[] = [];
  if (raw === undefined) {
    for (const target of targets) byInstance.set(target.instance, [...target.definition.variants]);
    return { byInstance, notes };
  }
  const validValues = [
    ...new Set([
      ...targets.flatMap((target) => target.definition.variants),
      ...targets.flatMap((target) => target.definition.variants.map((variant) => `${target.definition.id}:${variant}`)),
    ]),
  ];
  if (raw.length === 0) throw new UsageError(`empty variant list; valid: ${validValues.join(', ')}`);
  const wanted = new Map<string, Set<string>>(targets.map((target) => [target.instance, new Set<string>()]));
  for (const item of raw) {
    const colon = item.indexOf(':');
    if (colon >= 0) {
      const systemName = item.slice(0, colon);
      const variant = item.slice(colon + 1);
      const id = SYSTEM_ALIASES[systemName] ?? systemName;
      const matching = targets.filter((target) => target.instance === systemName || target.definition.id === id);
      if (matching.length === 0) throw invalidChoice('variant', item, validValues);
      for (const target of matching) {
        if (!target.definition.variants.includes(variant)) throw invalidChoice('variant', item, validValues);
        wanted.get(target.instance)?.add(variant);
      }
    } else {
      const matching = targets.filter((target) => target.definition.variants.includes(item));
      if (matching.length === 0) throw invalidChoice('variant', item, validValues);
      for (const target of matching) wanted.get(target.instance)?.add(item);
    }
  }
  for (const target of targets) {
    const chosen = target.definition.variants.filter((variant) => wanted.get(target.instance)?.has(variant));
    if (chosen.length === 0) notes.push(`${target.instance}: none of the requested variants applies (it has ${target.definition.variants.join(', ')}); skipped`);
    else byInstance.set(target.instance, chosen);
  }
  return { byInstance, notes };
}

/** One dimension set per delete method (the default: the single classic cell). */
function cellDimensionsOf(input: PlanInput): CellDimensions[] {
  if (!input.dimensions) return [DEFAULT_DIMENSIONS];
  const { deleteMethods, ...rest } = input.dimensions;
  return deleteMethods.map((deleteMethod) => ({ ...rest, deleteMethod }));
}

export function planCells(input: PlanInput): Plan {
  const { byInstance, notes } = selectVariants(input.targets, input.variants);
  const requestedModes: Mode[] = input.mode === 'both' ? ['blob', 'native'] : [input.mode];
  const cells: PlannedCell[] = [];
  for (const target of input.targets) {
    const variants = byInstance.get(target.instance);
    if (!variants) continue;
    const modes = requestedModes.filter((mode) => target.definition.modes.includes(mode));
    for (const mode of requestedModes) {
      if (!modes.includes(mode)) notes.push(`${target.instance}: has no ${mode} mode; its ${mode} cells are skipped`);
    }
    for (const variant of variants) {
      for (const mode of modes) {
        for (const dataset of input.datasets) {
          for (const dimensions of cellDimensionsOf(input)) {
            for (let repetition = 1; repetition <= input.runs; repetition++) {
              const base = { systemId: target.definition.id, instance: target.instance, variant, mode, payloadType: dataset.payloadType, grade: dataset.grade, repetition, dimensions };
              const cellId = cellIdOf(base);
              const cell: PlannedCell = { ...base, cellId, objectTag: objectTagOf(cellId) };
              if (mode === 'native' && dataset.payloadType === 'mixed') {
                cell.notApplicable = 'native mode needs one record shape per set; a mixed set has several';
              } else if (dimensions.placement.kind === 'across' && !target.definition.placementAcross) {
                cell.notApplicable = `${target.definition.id} cannot spread files over several objects (--placement ${dimensions.placement.kind}:${dimensions.placement.objects})`;
              }
              cells.push(cell);
            }
          }
        }
      }
    }
  }
  if (cells.length === 0) throw new UsageError(`the plan is empty: ${notes.join('; ') || 'nothing selected'}`);
  return { cells, stages: [...input.stages], notes };
}
