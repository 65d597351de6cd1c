import { scrub } from '../config/secrets.js';

/** Exit codes of SPEC §2. */
export const EXIT = {
  ok: 0,
  cellsFailed: 1,
  usage: 2,
  unreachable: 3,
} as const;

/** Bad input (CLI flag or config value): one clear line, exit code 2, nothing written. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

/** Build the standard "bad value, valid values" message. */
export function invalidChoice(what: string, value: string, valid: readonly string[]): UsageError {
  return new UsageError(`unknown ${what} ${JSON.stringify(value)}; valid: ${valid.join(', ')}`);
}

/** Parse a comma-separated list, checking each entry against the valid values. */
export function parseChoiceList(what: string, raw: string, valid: readonly string[]): string[] {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`empty ${what} list; valid: ${valid.join(', ')}`);
  for (const item of items) if (!valid.includes(item)) throw invalidChoice(what, item, valid);
  return [...new Set(items)];
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return scrub(text);
}
