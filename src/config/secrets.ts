/**
 * Secrets never reach logs, results, reports, traces or error messages (SPEC §9).
 *
 * Every secret value the config loads is registered here; `scrub` replaces any occurrence in a
 * string, and `redact` replaces secret-named fields in objects. Output paths call these.
 */
const registered = new Set<string>();

/** Field names whose values are secrets wherever they appear in a config. */
export const SECRET_KEY_PATTERN = /(password|passwd|secret|token|credential|private_?key|access_?key_?secret|secretaccesskey)/i;

export const REDACTED = '***';

export function registerSecret(value: string | undefined | null): void {
  // Very short values would make scrubbing mangle ordinary text; configs reject them instead.
  if (value && value.length >= 4) registered.add(value);
}

export function scrub(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

/** Deep copy with secret-named fields replaced and every string scrubbed. */
export function redact<T>(value: T): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (Array.isArray(value)) return value.map((item) => redact(item)) as T;
  if (value && typeof value === 'object' && !(value instanceof Buffer)) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY_PATTERN.test(key) && inner != null && inner !== '' ? REDACTED : redact(inner);
    }
    return out as T;
  }
  return value;
}

/** Walk a loaded config and register every secret-named string value. */
export function registerSecretsIn(value: unknown): void {
  if (Array.isArray(value)) value.forEach(registerSecretsIn);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (typeof inner === 'string' && SECRET_KEY_PATTERN.test(key)) registerSecret(inner);
      else registerSecretsIn(inner);
    }
  }
}
