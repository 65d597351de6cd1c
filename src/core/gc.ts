/**
 * V8's minor (young-generation) collection, for code whose garbage V8 does not see: native memory
 * held by small JavaScript wrappers (@duckdb/node-api's results) is freed
 * only when a scavenge finds the wrapper dead, and V8 counts none of those bytes, so with little
 * other garbage it scavenges rarely and they pile up (docs/storage.md, docs/systems-embedded.md).
 * `gc` is global when Node runs with --expose-gc; otherwise `--expose-gc` set at run time makes it
 * available in contexts created afterwards (a fresh vm context here). A scavenge of a small young
 * generation costs well under a millisecond.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type: 'minor' | 'major' }) => void;
let exposedGc: Gc | null | undefined;
let collector: (() => void) | null | undefined;

/** V8's `gc`, or null where none can be had (memoized). */
function exposeGc(): Gc | null {
  if (exposedGc !== undefined) return exposedGc;
  const global = (globalThis as { gc?: unknown }).gc;
  let gc: unknown = global;
  if (typeof gc !== 'function') {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc');
    } catch {
      gc = null; // a Node line that refuses late flags: the garbage waits for V8's own collections
    }
  }
  exposedGc = typeof gc === 'function' ? (gc as Gc) : null;
  return exposedGc;
}

/** A function that runs a minor collection, or null where none can be had (memoized). */
export function minorCollector(): (() => void) | null {
  if (collector !== undefined) return collector;
  const gc = exposeGc();
  collector = gc ? () => gc({ type: 'minor' }) : null;
  return collector;
}

/**
 * A minor collection, then a full one when the ArrayBuffers still alive exceed `limitBytes`.
 * Only a full collection frees a buffer whose small wrapper object survived two scavenges (it was
 * still in use when one ran) and moved to the old generation; V8 itself starts one late, as it
 * counts little of that memory, so such buffers can pile up by hundreds of MiB. Null where no
 * collection can be had.
 */
export function bufferCollector(limitBytes: number): (() => void) | null {
  const gc = exposeGc();
  if (!gc) return null;
  return () => {
    gc({ type: 'minor' });
    if (process.memoryUsage().arrayBuffers > limitBytes) gc({ type: 'major' });
  };
}
