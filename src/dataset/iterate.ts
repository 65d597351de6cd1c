/** Hand a data set's files to the runner one at a time (bounded memory: one file in RAM). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabFile } from '../systems/types.js';
import type { Manifest } from './manifest.js';

export interface IterateOptions {
  /** Only these manifest indexes, in this order. */
  ids?: number[];
}

export async function* iterateLabFiles(dir: string, manifest: Manifest, options: IterateOptions = {}): AsyncIterable<LabFile> {
  const ids = options.ids ?? manifest.entries.map((_, index) => index);
  for (const id of ids) {
    const entry = manifest.entries[id];
    if (!entry) throw new RangeError(`file id ${id} is not in the manifest of ${dir} (${manifest.entries.length} files)`);
    const content = await readFile(join(dir, entry.name));
    if (content.length !== entry.size) throw new Error(`${join(dir, entry.name)} has ${content.length} bytes, manifest says ${entry.size}`);
    yield { id, name: entry.name, size: entry.size, sha256: entry.sha256, payloadType: entry.payloadType, content };
  }
}
