/** Option parsing shared by adapters: zod schema → typed options, bad input → UsageError. */
import { resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../core/errors.js';
import { formatZodError } from '../../config/load.js';
import { scrub } from '../../config/secrets.js';
import { splitTimeoutOptions, timeoutOptionsSchema } from './timeouts.js';

/**
 * Validate a system's raw `options` from the config with its zod schema. A bad value is a usage
 * error naming the system, the field and the value (secret-named fields shown as ***).
 */
export function parseSystemOptions<Schema extends z.ZodType>(systemId: string, schema: Schema, raw: unknown): z.output<Schema> {
  // Every system also takes the operation timeouts (shared/timeouts.ts), validated here.
  const { timeouts, rest } = splitTimeoutOptions(raw ?? {});
  const timeoutCheck = timeoutOptionsSchema.safeParse(timeouts);
  if (!timeoutCheck.success) throw new UsageError(scrub(`${systemId} options: ${formatZodError(timeoutCheck.error, timeouts)}`));
  const parsed = schema.safeParse(rest);
  if (!parsed.success) throw new UsageError(scrub(`${systemId} options: ${formatZodError(parsed.error, rest)}`));
  return parsed.data;
}

export const embeddedOptionsSchema = z
  .object({
    /** Folder holding this system's lab files; default `.dedup-lab/<system id>/` in the cwd. */
    dataDir: z.string().min(1).optional(),
  })
  .strict();

export interface EmbeddedOptions {
  /** Absolute folder for the lab data of this system. */
  dataDir: string;
}

export function defaultDataDir(systemId: string): string {
  return resolve('.dedup-lab', systemId);
}

/** Parse raw config options for an embedded system; resolves `dataDir` against the cwd. */
export function parseEmbeddedOptions(systemId: string, raw: unknown): EmbeddedOptions {
  const parsed = parseSystemOptions(systemId, embeddedOptionsSchema, raw);
  return { dataDir: parsed.dataDir ? resolve(parsed.dataDir) : defaultDataDir(systemId) };
}
