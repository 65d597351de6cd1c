import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_MODULES, invokedCommand } from '../../src/cli/main.js';
import { runCli } from '../experiment/helpers.js';

test('each command module registers the name it is loaded by', async () => {
  for (const [name, load] of Object.entries(COMMAND_MODULES)) {
    const { command } = await load();
    assert.equal(command.register(new Command('dedup-lab')).name(), name);
  }
});

test('invokedCommand: the first word that is neither a global option nor its value, if it is a command', () => {
  assert.equal(invokedCommand(['run', '--systems', 'sqlite']), 'run');
  assert.equal(invokedCommand(['--config', 'run', 'estimate', '--dir', 'x']), 'estimate');
  assert.equal(invokedCommand(['--verbose', '--config=x.yaml', 'demo']), 'demo');
  assert.equal(invokedCommand(['help', 'run']), undefined);
  assert.equal(invokedCommand(['rnu']), undefined);
  assert.equal(invokedCommand(['--quiet']), undefined);
  assert.equal(invokedCommand(['constructor']), undefined);
});

test('a mistyped command still gets commander\'s suggestion from the full list (exit 2)', async () => {
  const result = await runCli(['estimat']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command 'estimat'/);
  assert.match(result.stderr, /estimate/);
});

test('estimate --dir loads neither the data-set modules nor an HTTP client (≈ 100 ms of imports before the scan starts)', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  // A fresh process: this one has loaded everything already.
  const script = [
    "await import('./src/cli/commands/estimate.ts');",
    "await import('./src/storage/blockdedup.ts');",
    "await import('./src/storage/format.ts');",
    "await import('./src/storage/cdc-thread.ts');",
    'console.log(JSON.stringify(process.moduleLoadList));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url) });
  const loaded = JSON.parse(stdout) as string[];
  assert.deepEqual(loaded.filter((name) => /^NativeModule (https?|http2|internal\/deps\/undici\/undici)$/.test(name)), []);
});
