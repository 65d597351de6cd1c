/** `run` options and config keys of the SPEC §4.1 dimensions → validated plan input (CLI over config). */
import type { Config } from '../config/schema.js';
import { parseCacheState, parseDeleteMethods, parseDeleteScope, parsePlacement, type PlanDimensions } from './dimensions.js';
import { splitList } from './setup.js';

export function resolveDimensions(cliOptions: Record<string, unknown>, config: Config): PlanDimensions {
  const text = (cli: unknown, configured: string | undefined, fallback: string) => (typeof cli === 'string' ? cli : (configured ?? fallback));
  return {
    deleteMethods: parseDeleteMethods(splitList(cliOptions.deleteMethods) ?? config.run.deleteMethods ?? ['perfile']),
    deleteScope: parseDeleteScope(text(cliOptions.deleteScope, config.run.deleteScope, 'all')),
    placement: parsePlacement(text(cliOptions.placement, config.run.placement, 'within')),
    cache: parseCacheState(text(cliOptions.cache, config.run.cache, 'warm')),
  };
}
