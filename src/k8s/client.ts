/**
 * Cluster access for `cascade` and `volumes: auto` (SPEC §8) through the official client
 * @kubernetes/client-node: a kubeconfig (KUBECONFIG or ~/.kube/config, `--context`) or, inside a
 * pod, the ServiceAccount. Every API error becomes one line naming the workload and the verb.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../core/errors.js';
import { scrub } from '../config/secrets.js';

/** Where a pod finds its ServiceAccount; DEDUP_LAB_K8S_SA_ROOT prefixes it (tests run the in-cluster path outside a pod). */
const SERVICEACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const API_TIMEOUT_MS = 30_000;

export interface Cluster {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The client module (loaded lazily: `--help` must stay fast). */
  k8s: typeof import('@kubernetes/client-node');
  /** Where the credentials came from, for the log (never the credentials). */
  source: string;
}

/** An API call that failed: one line, workload and verb first. */
export class KubernetesApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

function kubeconfigFiles(): string[] {
  const fromEnv = process.env.KUBECONFIG?.split(':').filter(Boolean) ?? [];
  if (fromEnv.length > 0) return fromEnv;
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

/** Load credentials; a missing or unknown context is a usage error (no cluster I/O happens here). */
export async function connectCluster(options: { context?: string | undefined }): Promise<Cluster> {
  const k8s = await import('@kubernetes/client-node');
  const kubeConfig = new k8s.KubeConfig();
  const files = kubeconfigFiles();
  const saRoot = `${process.env.DEDUP_LAB_K8S_SA_ROOT ?? ''}${SERVICEACCOUNT_DIR}`;
  let source: string;
  if (files.length > 0) {
    for (const file of files) {
      if (!existsSync(file)) throw new UsageError(`kubeconfig ${JSON.stringify(file)} does not exist; valid: an existing kubeconfig file (KUBECONFIG or ~/.kube/config)`);
    }
    kubeConfig.loadFromDefault();
    source = `kubeconfig ${files.join(':')}`;
    if (options.context !== undefined) {
      const names = kubeConfig.getContexts().map((context) => context.name);
      if (!names.includes(options.context)) throw new UsageError(`unknown --context ${JSON.stringify(options.context)}; valid: ${names.join(', ') || '(the kubeconfig has no contexts)'}`);
      kubeConfig.setCurrentContext(options.context);
    }
    source += ` context ${kubeConfig.getCurrentContext()}`;
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(saRoot, 'token'))) {
    if (options.context !== undefined) throw new UsageError(`--context ${JSON.stringify(options.context)} needs a kubeconfig; inside a pod the ServiceAccount is used (valid: no --context)`);
    kubeConfig.loadFromCluster(process.env.DEDUP_LAB_K8S_SA_ROOT);
    source = 'in-cluster ServiceAccount';
  } else {
    throw new UsageError('no Kubernetes credentials: set KUBECONFIG (or create ~/.kube/config), or run inside a pod with a ServiceAccount');
  }
  return { kubeConfig, core: kubeConfig.makeApiClient(k8s.CoreV1Api), custom: kubeConfig.makeApiClient(k8s.CustomObjectsApi), k8s, source };
}

/** The API's own message out of an ApiException body (a Status object as JSON), one line. */
export function statusMessage(body: unknown): string {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.split('\n')[0]?.slice(0, 300) ?? '';
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** "kubernetes: cannot patch scale of statefulset/x in namespace y: HTTP 403 (forbidden: …)". Pure. */
export function apiErrorLine(what: string, verb: string, error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') {
    const detail = statusMessage((error as { body?: unknown }).body);
    return scrub(`kubernetes: cannot ${verb} ${what}: HTTP ${code}${detail ? ` (${detail})` : ''}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return scrub(`kubernetes: cannot ${verb} ${what}: ${message.split('\n')[0]}`);
}

/** Run one API call with a timeout; failures become a KubernetesApiError naming what and the verb. */
export async function apiCall<T>(what: string, verb: string, call: () => Promise<T>, timeoutMs: number = API_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new KubernetesApiError(apiErrorLine(what, verb, error), typeof code === 'number' ? code : null);
  } finally {
    clearTimeout(timer);
  }
}
