/**
 * Helpers shared by the non-SQL server adapters (redis, kafka, minio/s3, nats): bounded
 * concurrency over a file stream and the per-cell object names that keep every object inside the
 * lab namespace. Probes are built with shared/probes.ts like everywhere else.
 */
import { errorMessage } from '../core/errors.js';
import type { LabFile, WriteOutcome } from './types.js';
import { releaseContent } from './shared/stages.js';

/** The cell tag the runner hands us is validated upstream; we check again before using it in a name. */
export const OBJECT_TAG_PATTERN = /^[a-z0-9]{1,16}$/;

export function assertObjectTag(tag: string): string {
  if (!OBJECT_TAG_PATTERN.test(tag)) {
    throw new Error(`invalid cell object tag ${JSON.stringify(tag)}: must match ${OBJECT_TAG_PATTERN}`);
  }
  return tag;
}

/**
 * Run `work` over a stream of files with at most `limit` files (and, when given, `limit.bytes`
 * bytes of files) in flight, collecting the acknowledged and failed ids. `work` resolves when the
 * system acknowledged the file; a rejection is a failed write with the system's error text. Files
 * are pulled lazily, so only the files in flight are held in memory (a file bigger than the byte
 * limit goes alone), and an acknowledged file's bytes are released at once (`releaseContent`):
 * `work` must not keep them past its acknowledgement.
 */
export async function forEachFileLimited(
  files: AsyncIterable<LabFile>,
  limit: number | { files: number; bytes: number },
  signal: AbortSignal,
  work: (file: LabFile) => Promise<void>,
): Promise<WriteOutcome> {
  const maxFiles = typeof limit === 'number' ? limit : limit.files;
  const maxBytes = typeof limit === 'number' ? Number.POSITIVE_INFINITY : limit.bytes;
  const outcome: WriteOutcome = { acknowledged: [], failed: [] };
  const inFlight = new Set<Promise<void>>();
  let bytesInFlight = 0;
  for await (const file of files) {
    if (signal.aborted) break;
    bytesInFlight += file.size;
    const task: Promise<void> = work(file).then(
      () => {
        outcome.acknowledged.push(file.id);
        // Acknowledged, so sent: its bytes are freed now rather than at V8's next collection.
        releaseContent(file);
      },
      (error: unknown) => {
        outcome.failed.push({ id: file.id, error: errorMessage(error) });
      },
    );
    const tracked = task.finally(() => {
      inFlight.delete(tracked);
      bytesInFlight -= file.size;
    });
    inFlight.add(tracked);
    while (inFlight.size > 0 && (inFlight.size >= maxFiles || bytesInFlight >= maxBytes)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  outcome.acknowledged.sort((a, b) => a - b);
  outcome.failed.sort((a, b) => a.id - b.id);
  return outcome;
}

/** Sleep used only between settle/poll reads of a server-side process (never a fixed stage wait). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `read` until the value stops shrinking: two consecutive equal reads after at least one
 * decrease from `start` (or two equal reads in a row when `requireDecrease` is false). Returns
 * whether it settled before the timeout and the last value.
 */
export async function waitUntilStable(
  read: () => Promise<number>,
  options: { timeoutMs: number; pollMs: number; requireDecrease: boolean; signal?: AbortSignal },
): Promise<{ settled: boolean; value: number; start: number }> {
  const start = await read();
  const deadline = Date.now() + options.timeoutMs;
  let previous = start;
  let decreased = false;
  while (Date.now() < deadline && !options.signal?.aborted) {
    await pause(options.pollMs);
    const value = await read();
    if (value < previous) decreased = true;
    if (value === previous && (decreased || !options.requireDecrease)) return { settled: true, value, start };
    previous = value;
  }
  return { settled: false, value: previous, start };
}
