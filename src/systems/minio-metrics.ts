/**
 * MinIO's own bucket-size metric, read from its Prometheus endpoint (metrics v2:
 * `/minio/v2/metrics/bucket`, or `/minio/v2/metrics/cluster` on older servers), series
 * `minio_bucket_usage_total_bytes{bucket="…",server="…"}`.
 *
 * MinIO computes this value in its background data scanner, not on every PUT or DELETE, so it
 * LAGS the bucket's real content by one scanner cycle (minutes on a busy server). The probe is
 * therefore an extra, opt-in reading (config `metricsUrl`), never the primary probe. It is
 * implemented against the documented text format and unit-tested on a sample in that format;
 * the local test server is SeaweedFS, not MinIO, so it is not verified against a live MinIO here.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_match, char: string) => (char === 'n' ? '\n' : char));
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  while (LABEL_PAIR.lastIndex < text.length) {
    const at = LABEL_PAIR.lastIndex;
    const match = LABEL_PAIR.exec(text);
    if (!match || match.index !== at) return null;
    labels[match[1] as string] = unescapeLabel(match[2] as string);
  }
  return labels;
}

/** Parse the Prometheus text exposition format (comments and malformed lines are skipped). */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) continue;
    const labels = match[3] ? parseLabels(match[3]) : {};
    if (!labels) continue;
    const literal = match[4] as string;
    const value = literal === '+Inf' ? Infinity : literal === '-Inf' ? -Infinity : Number(literal);
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

export const MINIO_BUCKET_USAGE_METRIC = 'minio_bucket_usage_total_bytes';

/**
 * Bytes MinIO reports for the given buckets. In a distributed deployment every server exports the
 * same cluster-wide value, so per bucket the series of several servers are not added up: the
 * highest is taken (they agree once the scanner ran). A bucket without a series throws (missing,
 * never zero).
 */
export function bucketUsageBytes(samples: PromSample[], buckets: string[]): number {
  let total = 0;
  for (const bucket of buckets) {
    const values = samples
      .filter((sample) => sample.name === MINIO_BUCKET_USAGE_METRIC && sample.labels.bucket === bucket)
      .map((sample) => sample.value)
      .filter((value) => Number.isFinite(value));
    if (values.length === 0) throw new Error(`no ${MINIO_BUCKET_USAGE_METRIC} series for bucket ${bucket}`);
    total += Math.max(...values);
  }
  return total;
}

/** Fetch and read the metric (bearer token optional, as MinIO requires unless auth is public). */
export async function readMinioBucketUsage(url: string, buckets: string[], bearerToken?: string): Promise<number> {
  const response = await fetch(url, {
    headers: bearerToken ? { authorization: `Bearer ${bearerToken}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`metrics endpoint answered HTTP ${response.status}`);
  return bucketUsageBytes(parsePrometheusText(await response.text()), buckets);
}
