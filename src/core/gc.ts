/**
 * V8's minor (young-generation) collection, for code whose garbage V8 does not see: native memory
 * held by small JavaScript wrappers (lz4-napi's output buffers, @duckdb/node-api's results) is freed
 * only when a scavenge finds the wrapper dead, and V8 counts none of those bytes, so with little
 * other garbage it scavenges rarely and they pile up (docs/storage.md, docs/systems-embedded.md).
 * `gc` is global when Node runs with --expose-gc; otherwise `--expose-gc` set at run time makes it
 * available in contexts created afterwards (a fresh vm context here). A scavenge of a small young
 * generation costs well under a millisecond.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'minor' }) => void;
let collector: (() => void) | null | undefined;

/** A function that runs a minor collection, or null where none can be had (memoized). */
export function minorCollector(): (() => void) | null {
  if (collector !== undefined) return collector;
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
  collector = typeof gc === 'function' ? () => (gc as Gc)({ type: 'minor' }) : null;
  return collector;
}
