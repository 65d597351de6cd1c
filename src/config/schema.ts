/**
 * The configuration file (SPEC §9), validated with zod. Every field has a default so that an
 * empty config is valid; CLI flags override the file. System-specific `options` are validated
 * by each system's own definition (see `src/systems/registry.ts`).
 */
import { z } from 'zod';

export const GRADE_PATTERN = /^U([0-9]|[1-9][0-9])$/;

const k8sWorkloadSchema = z.union([
  /** `statefulset/name`, `deployment/name`, `kafkanodepool/name` … */
  z.string().regex(/^[a-z.]+\/[a-z0-9][a-z0-9.-]*$/, 'expected KIND/NAME, e.g. statefulset/postgres'),
  z
    .object({
      kind: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
      name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/),
      /** `group/version`; needed for kinds other than StatefulSet, Deployment, ReplicaSet, KafkaNodePool. */
      apiVersion: z.string().regex(/^[a-z0-9.-]+\/v[a-z0-9]+$/).optional(),
      /** The resource's plural name (default: lower-case kind + "s"). */
      resource: z.string().regex(/^[a-z0-9.-]+$/).optional(),
    })
    .strict(),
]);

const k8sSchema = z
  .object({
    namespace: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a Kubernetes namespace name'),
    workload: k8sWorkloadSchema,
    /** Unset on production workloads (they are never scaled); defaults 1 and 0 elsewhere (src/k8s/workload.ts). */
    replicasUp: z.number().int().min(1).optional(),
    replicasDown: z.number().int().min(0).optional(),
    production: z.boolean().default(false),
    /** Seconds to wait for pods to be ready and the protocol to answer. */
    readyTimeoutS: z.number().int().positive().optional(),
    /** Deprecated spelling of readyTimeoutS. */
    readyTimeoutSeconds: z.number().int().positive().optional(),
    /** Label selector of the workload's pods when its scale subresource reports none (e.g. a KafkaNodePool before its operator wrote status). */
    podSelector: z.string().min(1).optional(),
  })
  .strict();

const prometheusProbeSchema = z
  .object({
    url: z.string().url(),
    /** PromQL returning one number: bytes for the whole workload (sum over every volume). */
    query: z.string().min(1).optional(),
    /** `auto`: the workload's PVCs → PVs → Longhorn volumes, summed (src/k8s/volumes.ts); needs the entry's `k8s`. */
    volumes: z.literal('auto').optional(),
    /** Metric summed over the volumes with `volumes: auto`. */
    volumeMetric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
    /** How many stored copies the metric counts (e.g. Longhorn replicas). */
    replicas: z.number().int().min(1),
    settleTimeoutMs: z.number().int().positive().default(120_000),
    pollIntervalMs: z.number().int().positive().default(2_000),
  })
  .strict()
  .refine((probe) => (probe.query === undefined) !== (probe.volumes === undefined), { message: 'give exactly one of query and volumes: auto' });

const probesSchema = z
  .object({
    /** `fs`: allocated bytes (block count) under these local paths; defaults to the adapter's. */
    fs: z
      .object({
        paths: z.array(z.string().min(1)).optional(),
        enabled: z.boolean().default(true),
        settleTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .optional(),
    prometheus: prometheusProbeSchema.optional(),
    /** Which probe's EDR is the headline number; default: the deepest layer measured (SPEC §6.2). */
    primary: z.string().min(1).optional(),
  })
  .strict();

export const systemEntrySchema = z
  .object({
    id: z.string().min(1),
    /** Distinguishes several instances of one system; defaults to the id. */
    instance: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,40}$/)
      .optional(),
    options: z.record(z.string(), z.unknown()).default({}),
    probes: probesSchema.default({}),
    k8s: k8sSchema.optional(),
  })
  .strict();

export const datasetSchema = z
  .object({
    payloadTypes: z.array(z.string().min(1)).min(1).optional(),
    grades: z.array(z.string().regex(GRADE_PATTERN, 'expected U0 … U99')).min(1).default(['U0', 'U50', 'U90']),
    files: z.number().int().min(1).max(1_000_000).default(100),
    /** SPEC §4.1: size the set by total bytes (e.g. "1GiB" or a byte count) instead of `files`. */
    totalSize: z.union([z.number().int().min(1), z.string().min(1)]).optional(),
    minSize: z.number().int().min(1).default(4096),
    maxSize: z.number().int().min(1).default(1024 * 1024),
    seed: z.number().int().min(0).default(42),
    dupDistribution: z.enum(['uniform', 'zipf']).default('uniform'),
    /** Real-world sources: payload type → local file/folder (or URL, cached). */
    sources: z.record(z.string(), z.string().min(1)).default({}),
  })
  .strict();

export const runSchema = z
  .object({
    systems: z.array(z.string()).optional(),
    variants: z.array(z.string()).optional(),
    stages: z.array(z.string()).optional(),
    mode: z.enum(['blob', 'native', 'both']).default('blob'),
    runs: z.number().int().min(1).default(1),
    maxRetries: z.number().int().min(0).default(2),
    traceIntervalMs: z.number().int().min(100).default(1000),
    /** Upper bound of the reclaim watch after delete, maintenance and compaction (SPEC §6.4), seconds. */
    reclaimWindowS: z.number().int().min(1).default(600),
    keepLab: z.boolean().default(false),
    /** SPEC §4.1 dimensions (validated with the CLI's parsers in setup, so both give the same message). */
    deleteMethods: z.array(z.string()).optional(),
    deleteScope: z.string().optional(),
    placement: z.string().optional(),
    cache: z.string().optional(),
  })
  .strict();

export const traceSchema = z
  .object({
    kafka: z.object({ brokers: z.array(z.string()).min(1), topic: z.string().min(1) }).strict().optional(),
    pushgateway: z.object({ url: z.string().url(), job: z.string().default('dedup_lab') }).strict().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Prefix of every lab namespace; validated again by each adapter before any I/O. */
    labName: z.string().default('dedup_lab'),
    dataDir: z.string().default('./data'),
    resultsDir: z.string().optional(),
    dataset: datasetSchema.default(datasetSchema.parse({})),
    run: runSchema.default(runSchema.parse({})),
    systems: z.array(systemEntrySchema).default([]),
    trace: traceSchema.default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SystemEntry = z.infer<typeof systemEntrySchema>;
export type K8sTarget = z.infer<typeof k8sSchema>;
export type K8sWorkloadRef = z.infer<typeof k8sWorkloadSchema>;
export type PrometheusProbeConfig = z.infer<typeof prometheusProbeSchema>;
