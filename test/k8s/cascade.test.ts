/**
 * `cascade` against the real control plane (issue 11 #1–#4, #7): StatefulSet, Deployment and a
 * KafkaNodePool scaled up through their scale subresource, pods Ready (kwok), cells run, scaled
 * down — also after a failing system and after SIGTERM; restore after SIGKILL; production never
 * scaled. The systems here are embedded (sqlite), so no server lock is needed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readRecords } from '../../src/experiment/results.js';
import type { ChildProcess } from 'node:child_process';
import { runCli, tempDir } from '../experiment/helpers.js';
import { annotationOf, apply, createNamespace, deleteNamespace, deployment, ensureKafkaNodePoolCrd, fakeKafkaOperator, generation, kafkaNodePool, readyPods, specReplicas, statefulSet } from './cluster.js';

const DATA = ['--payload-types', 'random_binary', '--grades', 'U50', '--files', '4', '--min-size', '1KiB', '--max-size', '4KiB'];

let ns: string;
let root: string;

before(() => {
  ensureKafkaNodePoolCrd();
  ns = createNamespace('dl-cascade');
  root = tempDir('cascade');
});
after(() => deleteNamespace(ns));

function sqlite(instance: string, k8s?: Record<string, unknown>, options: Record<string, unknown> = {}) {
  return { id: 'sqlite', instance, options: { dataDir: join(root, 'lab', instance), ...options }, ...(k8s ? { k8s: { namespace: ns, readyTimeoutS: 60, ...k8s } } : {}) };
}

function writeConfig(name: string, systems: object[]): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, stringify({ dataDir: join(root, 'data'), systems }));
  return file;
}

function cascade(config: string, resultsDir: string, extra: string[] = [], onStderr?: (text: string, child: ChildProcess) => void) {
  return runCli(['cascade', '--config', config, '--results-dir', resultsDir, ...DATA, ...extra], { cwd: root, ...(onStderr ? { onStderr } : {}) });
}

describe('cascade on a real control plane', () => {
  it('scales each workload up, waits for Ready pods, runs its cells, scales it down; production is never scaled', async () => {
    apply([statefulSet(ns, 'lab-sts', 0), deployment(ns, 'lab-dep', 0), kafkaNodePool(ns, 'lab-pool', 0), statefulSet(ns, 'prod-sts', 1)]);
    const operator = fakeKafkaOperator(ns, 'lab-pool');
    const prodGeneration = generation(ns, 'statefulset/prod-sts');
    const config = writeConfig('all', [
      sqlite('sts', { workload: 'statefulset/lab-sts', replicasUp: 2 }),
      sqlite('dep', { workload: { kind: 'Deployment', name: 'lab-dep' }, replicasUp: 1 }),
      sqlite('pool', { workload: 'kafkanodepool/lab-pool', replicasUp: 2, podSelector: 'strimzi.io/pool-name=lab-pool' }),
      sqlite('prod', { workload: 'statefulset/prod-sts', production: true }),
    ]);
    const readyWhenRunning: Record<string, number> = {};
    const selectors: Record<string, string> = { sts: 'app=lab-sts', dep: 'app=lab-dep', pool: 'strimzi.io/pool-name=lab-pool' };
    const resultsDir = join(root, 'results-all');
    let result;
    try {
      result = await cascade(config, resultsDir, [], (text) => {
        for (const [instance, selector] of Object.entries(selectors)) {
          if (readyWhenRunning[instance] === undefined && new RegExp(`cascade \\d/4 ${instance}: running`).test(text)) readyWhenRunning[instance] = readyPods(ns, selector);
        }
      });
    } finally {
      operator.stop();
    }
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readyWhenRunning, { sts: 2, dep: 1, pool: 2 }, 'the pods were Ready when the cells started');
    for (const [position, instance] of ['sts', 'dep', 'pool', 'prod'].entries()) assert.match(result.stderr, new RegExp(`cascade ${position + 1}/4 ${instance}: running`));
    assert.match(result.stderr, /cascade 1\/4 sts: scaling up — statefulset\/lab-sts in namespace \S+ 0 → 2/);
    assert.match(result.stderr, /cascade 3\/4 pool: scaling down/);
    assert.doesNotMatch(result.stderr, /prod: scaling/);
    const records = readRecords(resultsDir);
    assert.deepEqual([...new Set(records.map((record) => record.instance))].sort(), ['dep', 'pool', 'prod', 'sts']);
    assert.ok(records.every((record) => record.error === null));
    for (const resource of ['statefulset/lab-sts', 'deployment/lab-dep', 'kafkanodepool/lab-pool']) {
      assert.equal(specReplicas(ns, resource), 0, `${resource} scaled down`);
      assert.equal(annotationOf(ns, resource), '', `${resource}: annotation removed`);
    }
    assert.equal(specReplicas(ns, 'statefulset/prod-sts'), 1);
    assert.equal(generation(ns, 'statefulset/prod-sts'), prodGeneration, 'the production StatefulSet was never changed');
  });

  it('a failing system is scaled down and never stops the cascade; exit 1 names it', async () => {
    apply([statefulSet(ns, 'fail-sts', 0), statefulSet(ns, 'next-sts', 0)]);
    const config = writeConfig('fail', [
      // A data dir that cannot be created: the adapter never connects.
      sqlite('broken', { workload: 'statefulset/fail-sts', replicasUp: 1, readyTimeoutS: 2 }, { dataDir: '/etc/hostname/not-a-dir' }),
      sqlite('next', { workload: 'statefulset/next-sts', replicasUp: 1 }),
    ]);
    const resultsDir = join(root, 'results-fail');
    const result = await cascade(config, resultsDir);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /failed systems: broken \(/);
    assert.match(result.stderr, /cascade 1\/2 broken: scaling down/);
    assert.match(result.stderr, /cascade 2\/2 next: running/);
    assert.deepEqual([...new Set(readRecords(resultsDir).map((record) => record.instance))], ['next']);
    for (const resource of ['statefulset/fail-sts', 'statefulset/next-sts']) {
      assert.equal(specReplicas(ns, resource), 0);
      assert.equal(annotationOf(ns, resource), '');
    }
  });

  it('SIGTERM while the cells run: scaled down, annotation removed, exit 130', async () => {
    apply([statefulSet(ns, 'term-sts', 0)]);
    const config = writeConfig('term', [sqlite('term', { workload: 'statefulset/term-sts', replicasUp: 1 })]);
    let sent = false;
    let replicasAtSignal = -1;
    // Enough files that the cell is still running when the signal arrives.
    const result = await cascade(config, join(root, 'results-term'), ['--files', '1500', '--max-size', '2KiB'], (text, child) => {
      if (!sent && /term: running/.test(text)) {
        sent = true;
        replicasAtSignal = specReplicas(ns, 'statefulset/term-sts');
        child.kill('SIGTERM');
      }
    });
    assert.ok(sent, result.stderr);
    assert.equal(replicasAtSignal, 1);
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /term: scaling down/);
    assert.equal(specReplicas(ns, 'statefulset/term-sts'), 0);
    assert.equal(annotationOf(ns, 'statefulset/term-sts'), '');
  });

  it('SIGKILL mid-system leaves the annotation; the next cascade restores the workload before it begins', async () => {
    apply([statefulSet(ns, 'kill-sts', 0)]);
    const config = writeConfig('kill', [sqlite('kill', { workload: 'statefulset/kill-sts', replicasUp: 2 }), sqlite('other')]);
    let killed = false;
    const first = await cascade(config, join(root, 'results-kill'), ['--systems', 'kill', '--files', '40'], (text, child) => {
      if (!killed && /kill: running/.test(text)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    assert.equal(first.signal, 'SIGKILL', first.stderr);
    assert.equal(specReplicas(ns, 'statefulset/kill-sts'), 2, 'left scaled up by the killed cascade');
    const record = JSON.parse(annotationOf(ns, 'statefulset/kill-sts')) as { runId: string; restoreReplicas: number };
    assert.equal(record.restoreReplicas, 0);
    // The second cascade runs another system only: the leftover is restored anyway, first.
    const second = await cascade(config, join(root, 'results-kill2'), ['--systems', 'other']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`statefulset/kill-sts in namespace ${ns} was left scaled up by run ${record.runId}; scaling it back to 0`));
    assert.ok(second.stderr.indexOf('left scaled up') < second.stderr.indexOf('other: '), 'restored before the cascade began');
    assert.equal(specReplicas(ns, 'statefulset/kill-sts'), 0);
    assert.equal(annotationOf(ns, 'statefulset/kill-sts'), '');
  });

  it('production asking to be scaled is a usage error before any I/O', async () => {
    apply([statefulSet(ns, 'guard-sts', 1)]);
    const before = generation(ns, 'statefulset/guard-sts');
    const config = writeConfig('guard', [sqlite('guard', { workload: 'statefulset/guard-sts', production: true, replicasUp: 3 })]);
    const resultsDir = join(root, 'results-guard');
    // An unusable kubeconfig proves no cluster I/O is even attempted.
    const result = await runCli(['cascade', '--config', config, '--results-dir', resultsDir, ...DATA], { cwd: root, env: { KUBECONFIG: '/nonexistent/kubeconfig' } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /guard is production: true, which is never scaled; remove replicasUp\/replicasDown/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(resultsDir), false, 'nothing written');
    assert.equal(generation(ns, 'statefulset/guard-sts'), before);
    assert.equal(specReplicas(ns, 'statefulset/guard-sts'), 1);
  });

  it('an API error is one line naming the workload and the verb', async () => {
    const config = writeConfig('missing', [sqlite('missing', { workload: 'statefulset/no-such-sts', replicasUp: 1 })]);
    const result = await cascade(config, join(root, 'results-missing'));
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`error: cascade 1/1 missing: kubernetes: cannot get scale of statefulset/no-such-sts in namespace ${ns}: HTTP 404 \\([^\\n]*not found\\)\\n`));
  });
});
