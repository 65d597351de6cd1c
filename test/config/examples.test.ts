/**
 * Every config in examples/ loads, validates, and each system entry's options are accepted by
 * that system's own definition — so the examples the README points to never rot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/load.js';
import { loadSystem } from '../../src/systems/registry.js';

const examplesDir = new URL('../../examples/', import.meta.url);

/** Env with every referenced ${VAR} set, so the examples validate without the services. */
function envFor(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const match of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = match[1]!;
    env[name] = name.endsWith('PORT') ? '5432' : name.endsWith('URL') || name.endsWith('ENDPOINT') ? 'http://127.0.0.1:1' : `value-of-${name.toLowerCase()}`;
  }
  return env;
}

/** `…File` secrets point at files; give them real files in a temp dir. */
function withSecretFiles(raw: unknown, dir: string): unknown {
  if (Array.isArray(raw)) return raw.map((item) => withSecretFiles(item, dir));
  if (!raw || typeof raw !== 'object') return raw;
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => {
      if (key.endsWith('File') && typeof value === 'string') {
        const file = join(dir, key + Math.random().toString(36).slice(2));
        writeFileSync(file, 'example-secret-value\n');
        return [key, file];
      }
      return [key, withSecretFiles(value, dir)];
    }),
  );
}

for (const name of readdirSync(examplesDir).filter((file) => /\.(ya?ml|json)$/.test(file))) {
  test(`examples/${name} validates, and every system accepts its options`, async () => {
    const text = readFileSync(new URL(name, examplesDir), 'utf8');
    const raw = withSecretFiles(parseYaml(text), mkdtempSync(join(tmpdir(), 'dedup-example-')));
    const config = parseConfig(raw, envFor(text), name);
    assert.ok(config.systems.length > 0, 'an example config names systems');
    for (const entry of config.systems) {
      const definition = await loadSystem(entry.id);
      assert.doesNotThrow(() => definition.parseOptions(entry.options), `${name}: options of ${entry.id}`);
    }
  });
}
