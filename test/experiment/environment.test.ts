import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { describeEnvironment } from '../../src/experiment/environment.js';
import { TOOL_VERSION } from '../../src/version.js';

it('environment.json describes tool, runtime, host and systems, with every secret redacted', () => {
  const secret = 'hunter2-very-secret';
  const config = parseConfig({ systems: [{ id: 'postgresql', options: { host: 'db', password: secret, url: `postgres://lab:${secret}@db/x` } }] });
  const environment = describeEnvironment(config, 'run-1', ['run', '--config', 'x.yaml', `--note=${secret}`], [{ system: 'postgresql', instance: 'postgresql', version: 'PostgreSQL 15.18', error: `auth failed for ${secret}` }], new Date('2026-01-02T03:04:05Z'));
  const text = JSON.stringify(environment);
  assert.ok(!text.includes(secret), text);
  assert.equal(environment.tool.version, TOOL_VERSION);
  assert.equal(environment.node, process.version);
  assert.ok(environment.host.cpus >= 1 && environment.host.memoryBytes > 0);
  assert.equal(environment.startedAt, '2026-01-02T03:04:05.000Z');
  assert.equal(environment.systems[0]?.version, 'PostgreSQL 15.18');
  assert.match(text, /"password":"\*\*\*"/);
});
