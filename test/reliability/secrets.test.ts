/**
 * Issue 14 #7 (SPEC §9, §13): every command runs with passwords set on every server system that
 * has authentication (Kafka's test broker has none), plus one instance per system with a wrong
 * password (so authentication errors are produced) and a URL source with credentials. Every
 * output, result file, trace, report and error is then searched for each secret and its
 * URL-encoded form: zero hits. Needs the real servers: run under the servers lock.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../experiment/helpers.js';
import { SERVER_SYSTEMS } from './faults.js';

const WRONG = 'Wr0ng-pw%/@:x!';
const URL_PASSWORD = 'url-Secr3t!';

/** The option key that holds each system's secret. */
const SECRET_KEY: Record<string, string> = { postgresql: 'password', mariadb: 'password', clickhouse: 'password', redis: 'password', nats: 'password', minio: 'secretAccessKey' };

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const root = tempDir('secrets');
after(() => rmSync(root, { recursive: true, force: true }));

it('no password (or its URL-encoded form) in any output, result, trace, report or error', { timeout: 540_000 }, async () => {
  const secrets = new Set<string>([WRONG, URL_PASSWORD]);
  const systems = SERVER_SYSTEMS.flatMap((system) => {
    const options = system.options();
    const key = SECRET_KEY[system.id];
    if (!key) return [{ id: system.id, options }];
    secrets.add(String(options[key]));
    return [
      { id: system.id, options },
      { id: system.id, instance: `${system.id}-wrong`, options: { ...options, [key]: WRONG } },
    ];
  });
  const configPath = join(root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ labName: 'dedup_lab_secrets', systems }));
  const badPath = join(root, 'bad.json');
  writeFileSync(badPath, JSON.stringify({ systems: [{ id: 'postgresql', options: { ...SERVER_SYSTEMS[0]?.options(), port: 'not-a-port' } }] }));
  const data = ['--payload-types', 'random_binary', '--grades', 'U50', '--files', '3', '--file-size', '4KiB', '--data-dir', join(root, 'data')];
  const results = join(root, 'results');
  const commands: string[][] = [
    ['--config', configPath, 'check', ...data, '--stages', 'bulk_insert'],
    ['--config', configPath, 'run', ...data, '--stages', 'bulk_insert', '--max-retries', '0', '--results-dir', results],
    ['--config', configPath, 'run', ...data, '--stages', 'bulk_insert', '--dry-run', '--results-dir', results],
    ['report', results],
    ['--config', configPath, 'cleanup'],
    ['--config', badPath, 'run', ...data, '--results-dir', join(root, 'bad-results')],
    ['generate', '--payload-types', 'gutenberg_text', '--grades', 'U0', '--files', '2', '--source', `gutenberg_text=http://reader:${encodeURIComponent(URL_PASSWORD)}@127.0.0.1:9/books.txt`, '--data-dir', join(root, 'data')],
  ];
  const outputs: string[] = [];
  for (const args of commands) {
    const result = await runCli(args, { cwd: root });
    outputs.push(`$ ${args[0] === '--config' ? args[2] : args[0]} (exit ${result.code})\n${result.stdout}\n${result.stderr}`);
  }
  assert.match(outputs[1] ?? '', /wrong/, 'the wrong-password instances produced errors');
  const texts = [...outputs.map((text, index) => ({ where: `output of command ${index + 1}`, text })),
    ...filesUnder(root).filter((path) => path !== configPath && path !== badPath).map((path) => ({ where: path, text: readFileSync(path, 'latin1') }))];
  assert.ok(texts.some((entry) => entry.where.endsWith('results.jsonl')) && texts.some((entry) => entry.where.endsWith('report.html')), 'results and report were searched');
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      const hits = texts.filter((entry) => entry.text.includes(form)).map((entry) => entry.where);
      assert.deepEqual(hits, [], `secret ${JSON.stringify(form.slice(0, 3))}… found`);
    }
  }
});
