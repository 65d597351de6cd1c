/** Hand a data set's files to the runner one at a time (bounded memory: one file in RAM). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabFile } from '../systems/types.js';
import { disposable } from '../systems/shared/stages.js';
import type { Manifest } from './manifest.js';

/** Files up to this size are read with one blocking call (≈ 1 ms at most from the page cache). */
const SYNC_READ_MAX_BYTES = 4 * 1024 * 1024;

export interface IterateOptions {
  /** Only these manifest indexes, in this order. */
  ids?: number[];
}

export async function* iterateLabFiles(dir: string, manifest: Manifest, options: IterateOptions = {}): AsyncIterable<LabFile> {
  const ids = options.ids ?? manifest.entries.map((_, index) => index);
  for (const id of ids) {
    const entry = manifest.entries[id];
    if (!entry) throw new RangeError(`file id ${id} is not in the manifest of ${dir} (${manifest.entries.length} files)`);
    // Small files are read synchronously: an async readFile costs three thread-pool round trips
    // (≈ 0.14 ms per file measured, 230 ms for 1600 × 64 KiB vs 73 ms sync), which showed up as a
    // third of a fast bulk load's time. Large files stay async so the event loop never stalls long.
    const path = join(dir, entry.name);
    const content = entry.size <= SYNC_READ_MAX_BYTES ? readFileSync(path) : await readFile(path);
    if (content.length !== entry.size) throw new Error(`${path} has ${content.length} bytes, manifest says ${entry.size}`);
    // Nothing keeps or reuses a yielded file: its bytes may be freed once the system took them.
    yield { id, name: entry.name, size: entry.size, sha256: entry.sha256, payloadType: entry.payloadType, content: disposable(content) };
  }
}
