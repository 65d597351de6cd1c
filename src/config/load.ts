/**
 * Load a YAML or JSON config: `${ENV_VAR}` substitution, `<secret>File` indirection, schema
 * validation with messages naming the path and the bad value, and secret registration.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { configSchema, type Config } from './schema.js';
import { registerSecretsIn, scrub, SECRET_KEY_PATTERN } from './secrets.js';

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replace `${NAME}` / `${NAME:-default}` in every string; an unset variable is an error. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_match, name: string, fallback: string | undefined) => {
      // Shell semantics: `${NAME:-default}` also applies the default when NAME is set but empty.
      const value = env[name];
      const resolved = fallback !== undefined && (value === undefined || value === '') ? fallback : value;
      if (resolved === undefined) {
        throw new UsageError(`config ${path || '<root>'}: environment variable ${name} is not set`);
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substituteEnv(item, env, `${path}[${index}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, substituteEnv(inner, env, path ? `${path}.${key}` : key)]),
    );
  }
  return value;
}

/** `passwordFile: /run/secrets/pg` becomes `password: <file content, trimmed>`. */
export function resolveSecretFiles(value: unknown, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item, index) => resolveSecretFiles(item, `${path}[${index}]`));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const secretKey = key.endsWith('File') ? key.slice(0, -'File'.length) : null;
    if (secretKey && SECRET_KEY_PATTERN.test(secretKey) && typeof inner === 'string') {
      try {
        out[secretKey] = readFileSync(inner, 'utf8').trim();
      } catch {
        throw new UsageError(`config ${path ? `${path}.` : ''}${key}: cannot read secret file ${JSON.stringify(inner)}`);
      }
    } else {
      out[key] = resolveSecretFiles(inner, path ? `${path}.${key}` : key);
    }
  }
  return out;
}

/** One line per problem: `systems[0].options.port: expected number, received "x"`. */
export function formatZodError(error: z.ZodError, input: unknown): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
      const cleanPath = path.startsWith('.') ? path.slice(1) : path;
      let bad: unknown = input;
      for (const part of issue.path) bad = (bad as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey];
      const lastKey = issue.path[issue.path.length - 1];
      const shown =
        typeof lastKey === 'string' && SECRET_KEY_PATTERN.test(lastKey) ? '***' : describeValue(bad);
      return `${cleanPath || '<root>'}: ${issue.message} (got ${shown})`;
    })
    .join('; ');
}

/**
 * The bad value as shown in an error. Objects and arrays are described, never dumped: they can
 * hold secrets under keys the secret pattern does not know (a misspelled `pasword`).
 */
function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value && typeof value === 'object') return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return JSON.stringify(value);
}

export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, origin = 'config'): Config {
  const substituted = resolveSecretFiles(substituteEnv(raw ?? {}, env));
  registerSecretsIn(substituted);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) throw new UsageError(scrub(`${origin}: ${formatZodError(parsed.error, substituted)}`));
  return parsed.data;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read config file ${JSON.stringify(file)}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    // Parser messages can quote the text around the error, which may be a password: give only where.
    throw new UsageError(`config ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${parseErrorLocation(error, text)}`);
  }
  return parseConfig(raw, env, file);
}

/** ` at line L, column C` from a JSON (position N) or YAML (linePos) parse error, or ''. */
function parseErrorLocation(error: unknown, text: string): string {
  const yamlPosition = (error as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  if (yamlPosition) return ` at line ${yamlPosition.line}, column ${yamlPosition.col}`;
  const match = /position (\d+)/.exec((error as Error).message ?? '');
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}
