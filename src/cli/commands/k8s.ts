/** `k8s manifests [--output DIR]` (SPEC §8): the objects that run `cascade` as a Job inside the cluster. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CommandModule } from './types.js';
import { EXIT, invalidChoice, UsageError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { TOOL_VERSION } from '../../version.js';
import { buildManifests, loadConfigTemplate, manifestFileName, pathWarnings } from '../../k8s/manifests.js';

const SUBCOMMANDS = ['manifests'];
const K8S_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

function parsedOptions(options: Record<string, unknown>) {
  const namespace = typeof options.namespace === 'string' ? options.namespace : 'dedup-lab';
  if (!K8S_NAME.test(namespace)) throw new UsageError(`invalid --namespace ${JSON.stringify(namespace)}; valid: a Kubernetes namespace name (lower-case letters, digits, -)`);
  const resultsStorage = typeof options.resultsStorage === 'string' ? options.resultsStorage : '20Gi';
  if (!QUANTITY.test(resultsStorage)) throw new UsageError(`invalid --results-storage ${JSON.stringify(resultsStorage)}; valid: a quantity such as 20Gi`);
  const deadline = options.activeDeadline === undefined ? 86_400 : Number(options.activeDeadline);
  if (!Number.isInteger(deadline) || deadline < 60) throw new UsageError(`invalid --active-deadline ${JSON.stringify(String(options.activeDeadline))}; valid: an integer ≥ 60 (seconds)`);
  const image = typeof options.image === 'string' && options.image.trim() !== '' ? options.image : `dedup-lab:${TOOL_VERSION}`;
  const storageClass = typeof options.storageClass === 'string' ? options.storageClass : undefined;
  return { namespace, resultsStorage, activeDeadlineSeconds: deadline, image, storageClass };
}

export const command: CommandModule = {
  register: (program) =>
    program
      .command('k8s')
      .description('Kubernetes helpers: `k8s manifests` prints the RBAC, ConfigMap, Secret template, PVC and Job that run `cascade` in the cluster')
      .argument('<what>', `one of: ${SUBCOMMANDS.join(', ')}`)
      .option('--output <dir>', 'write one file per object into DIR instead of printing')
      .option('--namespace <ns>', 'namespace of the Job, ServiceAccount, ConfigMap, Secret and PVC (default dedup-lab)')
      .option('--image <ref>', 'container image of the Job (default dedup-lab:<version>)')
      .option('--results-storage <size>', 'size of the results/checkpoints PVC (default 20Gi)')
      .option('--storage-class <name>', 'storage class of the results PVC (default: the cluster default)')
      .option('--active-deadline <s>', "the Job's activeDeadlineSeconds (default 86400)"),
  run: async (args, options) => {
    const what = String(args[0]);
    if (!SUBCOMMANDS.includes(what)) throw invalidChoice('k8s subcommand', what, SUBCOMMANDS);
    if (typeof options.config !== 'string') throw new UsageError('k8s manifests needs --config FILE (the config the Job runs)');
    const parsed = parsedOptions(options);
    let configText: string;
    try {
      configText = readFileSync(options.config, 'utf8');
    } catch {
      throw new UsageError(`cannot read config file ${JSON.stringify(options.config)}`);
    }
    const config = loadConfigTemplate(configText, options.config);
    const objects = buildManifests(config, { ...parsed, configText });
    for (const warning of pathWarnings(config)) log.warn(warning);
    if (typeof options.output === 'string') {
      mkdirSync(options.output, { recursive: true });
      objects.forEach((object, index) => writeFileSync(join(options.output as string, manifestFileName(index, object)), stringify(object, { aliasDuplicateObjects: false })));
      log.info(`wrote ${objects.length} manifests to ${options.output}`);
    } else {
      process.stdout.write(objects.map((object) => stringify(object, { aliasDuplicateObjects: false })).join('---\n'));
    }
    return EXIT.ok;
  },
};
