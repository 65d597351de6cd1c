/**
 * `k8s manifests` (SPEC §8): from the config, everything needed to run `cascade` as a Job —
 * ServiceAccount, least-privilege Roles/RoleBindings per namespace, ConfigMap, Secret template
 * without values, results PVC and the Job. Pure: objects in, objects out; the CLI prints them.
 */
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../core/errors.js';
import { formatZodError } from '../config/load.js';
import { configSchema, type Config } from '../config/schema.js';
import { scalableWorkloads } from './cascade.js';
import { workloadRef, type WorkloadRef } from './workload.js';

export interface ManifestOptions {
  namespace: string;
  image: string;
  /** The config file's text as written (its ${VAR} references stay unresolved: no secret is expanded). */
  configText: string;
  resultsStorage: string;
  storageClass?: string | undefined;
  activeDeadlineSeconds: number;
}

/**
 * The config as the Job will read it, without resolving it here: `${VAR}` stay references and
 * `…File` options stay paths (they exist only inside the cluster), so no secret is read or embedded.
 */
export function loadConfigTemplate(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch {
    throw new UsageError(`config ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}`);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new UsageError(`config ${file}: ${formatZodError(parsed.error, raw)}`);
  return parsed.data;
}

/** A Kubernetes object as plain data. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

export const APP_NAME = 'dedup-lab';
const LABELS = { 'app.kubernetes.io/name': APP_NAME, 'app.kubernetes.io/component': 'cascade' };
const CONFIG_DIR = '/etc/dedup-lab';
const RESULTS_MOUNT = '/results';
/** §10: peak RSS below 256 MiB; the limit leaves room for the runtime around the heap. */
export const MEMORY_REQUEST = '256Mi';
export const MEMORY_LIMIT = '384Mi';
const HEAP_MB = 192;

function meta(name: string, namespace?: string) {
  return { name, ...(namespace ? { namespace } : {}), labels: { ...LABELS } };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** The rules one namespace needs: scale + get/watch/patch(annotation) of exactly the named workloads, pods list/watch. Pure. */
export function rulesFor(refs: readonly WorkloadRef[], withClaims: boolean): Rule[] {
  const byResource = new Map<string, { group: string; resource: string; names: Set<string> }>();
  for (const ref of refs) {
    const key = `${ref.group}/${ref.resource}`;
    const entry = byResource.get(key) ?? { group: ref.group, resource: ref.resource, names: new Set<string>() };
    entry.names.add(ref.name);
    byResource.set(key, entry);
  }
  const rules: Rule[] = [];
  for (const { group, resource, names } of [...byResource.values()].sort((a, b) => `${a.group}/${a.resource}`.localeCompare(`${b.group}/${b.resource}`))) {
    const resourceNames = [...names].sort();
    rules.push({ apiGroups: [group], resources: [`${resource}/scale`], resourceNames, verbs: ['get', 'patch', 'update'] });
    // patch: the crash-safety annotation (run id, replicas to restore) lives on the workload itself.
    rules.push({ apiGroups: [group], resources: [resource], resourceNames, verbs: ['get', 'watch', 'patch'] });
  }
  rules.push({ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] });
  if (withClaims) rules.push({ apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] });
  return rules;
}

/** `${VAR}` references of the config text: they become env vars from the Secret. */
export function envReferences(configText: string): string[] {
  return [...new Set([...configText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1] as string))].sort();
}

/** Every `…File` option that is an absolute path: a Secret key each, mounted at that path. */
export function secretFiles(config: Config): string[] {
  const files = new Set<string>();
  for (const entry of config.systems) {
    for (const [key, value] of Object.entries(entry.options)) if (/File$/.test(key) && typeof value === 'string' && value.startsWith('/')) files.add(value);
  }
  return [...files].sort();
}

function secretKeyOf(path: string): string {
  return path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]/g, '_');
}

export function buildManifests(config: Config, options: ManifestOptions): Manifest[] {
  const ns = options.namespace;
  const workloads = scalableWorkloads(config);
  const autoVolumes = config.systems.filter((entry) => entry.probes.prometheus?.volumes === 'auto' && entry.k8s);
  const namespaces = new Map<string, { refs: WorkloadRef[]; claims: boolean }>();
  for (const workload of workloads) {
    const slot = namespaces.get(workload.ref.namespace) ?? { refs: [], claims: false };
    slot.refs.push(workload.ref);
    namespaces.set(workload.ref.namespace, slot);
  }
  for (const entry of autoVolumes) {
    const ref = workloadRef(entry.k8s!, entry.id);
    const slot = namespaces.get(ref.namespace) ?? { refs: [], claims: false };
    slot.claims = true;
    namespaces.set(ref.namespace, slot);
  }
  const subject = [{ kind: 'ServiceAccount', name: APP_NAME, namespace: ns }];
  const objects: Manifest[] = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(APP_NAME, ns), automountServiceAccountToken: true }];
  for (const [namespace, slot] of [...namespaces.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    objects.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta('dedup-lab-cascade', namespace), rules: rulesFor(slot.refs, slot.claims) });
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('dedup-lab-cascade', namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'dedup-lab-cascade' },
      subjects: subject,
    });
  }
  if (autoVolumes.length > 0) {
    // PersistentVolumes are cluster-scoped: reading the bound PV's volume name needs a ClusterRole (get only).
    objects.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(`dedup-lab-volumes-${ns}`), rules: [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['get'] }] });
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(`dedup-lab-volumes-${ns}`),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `dedup-lab-volumes-${ns}` },
      subjects: subject,
    });
  }
  objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('dedup-lab-config', ns), data: { 'config.yaml': options.configText } });
  const files = secretFiles(config);
  const envNames = envReferences(options.configText);
  const secretKeys = [...files.map(secretKeyOf), ...envNames];
  // Template only: the keys, empty values — fill them with `kubectl create secret … --dry-run=client -o yaml | kubectl apply -f -`.
  objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: meta('dedup-lab-secrets', ns), type: 'Opaque', stringData: Object.fromEntries(secretKeys.map((key) => [key, ''])) });
  objects.push({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta('dedup-lab-results', ns),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: options.resultsStorage } }, ...(options.storageClass ? { storageClassName: options.storageClass } : {}) },
  });
  objects.push(jobManifest(config, options, files, envNames));
  return objects;
}

function jobManifest(config: Config, options: ManifestOptions, files: string[], envNames: string[]): Manifest {
  const secretMounts = files.map((file) => ({ name: 'secrets', mountPath: file, subPath: secretKeyOf(file), readOnly: true }));
  const resultsDir = config.resultsDir ?? posix.join(RESULTS_MOUNT, 'cascade');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta('dedup-lab-cascade', options.namespace),
    spec: {
      // A retried pod resumes from the checkpoints on the results volume.
      backoffLimit: 3,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      template: {
        metadata: { labels: { ...LABELS } },
        spec: {
          serviceAccountName: APP_NAME,
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'cascade',
              image: options.image,
              args: ['cascade', '--config', `${CONFIG_DIR}/config.yaml`, '--results-dir', resultsDir],
              env: [
                { name: 'NODE_OPTIONS', value: `--max-old-space-size=${HEAP_MB}` },
                ...envNames.map((name) => ({ name, valueFrom: { secretKeyRef: { name: 'dedup-lab-secrets', key: name } } })),
              ],
              resources: { requests: { cpu: '500m', memory: MEMORY_REQUEST }, limits: { memory: MEMORY_LIMIT } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'results', mountPath: RESULTS_MOUNT },
                { name: 'tmp', mountPath: '/tmp' },
                ...secretMounts,
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: 'dedup-lab-config' } },
            { name: 'results', persistentVolumeClaim: { claimName: 'dedup-lab-results' } },
            { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
            ...(files.length > 0 ? [{ name: 'secrets', secret: { secretName: 'dedup-lab-secrets' } }] : []),
          ],
        },
      },
    },
  };
}

/** `NN-kind-name.yaml` for `--output DIR`. Pure. */
export function manifestFileName(index: number, object: Manifest): string {
  const ns = object.metadata.namespace ? `${object.metadata.namespace}-` : '';
  return `${String(index + 1).padStart(2, '0')}-${object.kind.toLowerCase()}-${ns}${object.metadata.name}.yaml`;
}

/** Paths outside the results volume are lost when the Job's pod goes; say so (used as warnings). */
export function pathWarnings(config: Config): string[] {
  const warnings: string[] = [];
  for (const [what, path] of [['dataDir', config.dataDir], ['resultsDir', config.resultsDir]] as const) {
    if (path !== undefined && !(path === RESULTS_MOUNT || path.startsWith(`${RESULTS_MOUNT}/`))) warnings.push(`config ${what} ${JSON.stringify(path)} is not under ${RESULTS_MOUNT} (the results volume): a restarted Job cannot resume from it`);
  }
  return warnings;
}

