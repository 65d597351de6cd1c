/**
 * The `prometheus` probe (SPEC §6.2, §8): a PromQL instant query through Prometheus' HTTP API
 * that must give exactly one number of bytes — typically a sum over every volume of a workload,
 * e.g. `sum(longhorn_volume_actual_size_bytes{volume=~"pvc-…"})`. The reading is what the metric
 * counts (every replica); `replicas` from the config says how many copies that is, and the EDR
 * divides by it (SPEC §6.3) — the probe itself never divides.
 *
 * Any failure — unreachable server, HTTP error, PromQL error, no series, several series, a
 * non-finite or negative value — is `{ bytes: null, error }`, never a number (the predecessor
 * subtracted -1 readings as sizes).
 */
import type { Probe, ProbeReading } from '../../systems/types.js';
import type { PrometheusProbeConfig } from '../../config/schema.js';
import { scrub } from '../../config/secrets.js';

type PromSample = [number, string];
interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

/** Turn a query response into bytes or a reason; pure, unit-tested. */
export function bytesFromResponse(body: PromResponse): ProbeReading {
  if (body.status !== 'success') return { bytes: null, error: `query failed: ${body.errorType ?? 'error'}: ${body.error ?? 'no message'}` };
  const data = body.data;
  let raw: string;
  if (data?.resultType === 'scalar') {
    raw = (data.result as PromSample)[1];
  } else if (data?.resultType === 'vector') {
    const series = data.result as { metric: Record<string, string>; value: PromSample }[];
    if (series.length === 0) return { bytes: null, error: 'query returned no series (metric absent or not scraped yet)' };
    if (series.length > 1) {
      return { bytes: null, error: `query returned ${series.length} series; it must return one number — wrap it in sum(…)` };
    }
    raw = series[0]!.value[1];
  } else {
    return { bytes: null, error: `query returned a ${data?.resultType ?? 'missing'} result; an instant vector or scalar is needed` };
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) return { bytes: null, error: `query returned ${raw}, not a finite number` };
  if (value < 0) return { bytes: null, error: `query returned ${raw}: a size cannot be negative` };
  return { bytes: value };
}

/** Credentials in the URL move to an Authorization header (fetch refuses URLs that carry them). */
function requestParts(baseUrl: string, query: string): { url: string; headers: Record<string, string> } {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/query`;
  url.search = new URLSearchParams({ query }).toString();
  return { url: url.toString(), headers };
}

export interface PrometheusProbeOptions extends PrometheusProbeConfig {
  /** Resolved: given in the config or built from `volumes: auto` (src/k8s/volumes.ts). */
  query: string;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
}

export function prometheusProbe(config: PrometheusProbeOptions): Probe {
  return {
    // A volume metric (e.g. Longhorn actual size): blocks the volume really holds.
    layer: 'storage',
    scope: 'volume',
    name: 'prometheus',
    replicas: config.replicas,
    settleTimeoutMs: config.settleTimeoutMs,
    pollIntervalMs: config.pollIntervalMs,
    async read() {
      try {
        const { url, headers } = requestParts(config.url, config.query);
        const response = await fetch(url, { headers, signal: AbortSignal.timeout(config.requestTimeoutMs ?? 10_000) });
        const text = await response.text();
        let body: PromResponse;
        try {
          body = JSON.parse(text) as PromResponse;
        } catch {
          return { bytes: null, error: scrub(`HTTP ${response.status}: not a Prometheus API answer: ${text.slice(0, 200)}`) };
        }
        // Prometheus answers PromQL errors with 400/422 and an error body: keep its message.
        const reading = bytesFromResponse(body);
        if (!response.ok && reading.bytes !== null) return { bytes: null, error: `HTTP ${response.status}` };
        return reading.error ? { bytes: null, error: scrub(reading.error) } : reading;
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
        return { bytes: null, error: scrub(`cannot query Prometheus: ${error instanceof Error ? error.message : String(error)}${cause}`) };
      }
    },
  };
}
