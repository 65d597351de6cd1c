/**
 * Connection options and raw clients for the key-value / log / object / stream services of
 * scripts/services.sh. Tests FAIL (never skip) when the environment is missing: CI brings the
 * services up through scripts/test.sh.
 */
import { createHash } from 'node:crypto';

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test.sh (it starts the services)`);
  return value;
}

export function redisOptionsFromEnv(): Record<string, unknown> {
  return {
    host: process.env.DEDUP_LAB_REDIS_URL_HOST ?? '127.0.0.1',
    port: Number(requireEnv('DEDUP_LAB_REDIS_PORT')),
    password: requireEnv('DEDUP_LAB_REDIS_PASSWORD'),
  };
}

export function kafkaOptionsFromEnv(): Record<string, unknown> {
  return { brokers: requireEnv('DEDUP_LAB_KAFKA_BROKERS'), dataDir: process.env.DEDUP_LAB_KAFKA_DATA_DIR };
}

export function s3OptionsFromEnv(): Record<string, unknown> {
  return {
    endpoint: requireEnv('DEDUP_LAB_S3_ENDPOINT'),
    accessKeyId: requireEnv('DEDUP_LAB_S3_ACCESS_KEY'),
    secretAccessKey: requireEnv('DEDUP_LAB_S3_SECRET_KEY'),
    dataDir: process.env.DEDUP_LAB_S3_DATA_DIR,
  };
}

export function natsOptionsFromEnv(): Record<string, unknown> {
  return {
    servers: requireEnv('DEDUP_LAB_NATS_SERVERS'),
    user: requireEnv('DEDUP_LAB_NATS_USER'),
    password: requireEnv('DEDUP_LAB_NATS_PASSWORD'),
    dataDir: process.env.DEDUP_LAB_NATS_DATA_DIR,
  };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
