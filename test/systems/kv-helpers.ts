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

/**
 * Canary objects OUTSIDE a lab namespace, named to be confused with it, for the safety tests:
 * `create()` writes them (replacing any left over), `read()` returns a fingerprint of every byte
 * the server holds for them (missing objects read as "missing"), `drop()` removes them.
 */
export interface Canaries {
  names: string[];
  create(): Promise<void>;
  read(): Promise<string>;
  drop(): Promise<void>;
}

const CANARY_BYTES = Buffer.from('canary bytes \u0000\u00ff outside the lab', 'latin1');

export function redisCanaries(names: string[]): Canaries {
  const client = async (): Promise<import('ioredis').Redis> => {
    const { Redis } = await import('ioredis');
    const options = redisOptionsFromEnv();
    return new Redis({ host: options.host as string, port: options.port as number, password: options.password as string });
  };
  const withClient = async <T>(work: (redis: import('ioredis').Redis) => Promise<T>): Promise<T> => {
    const redis = await client();
    try {
      return await work(redis);
    } finally {
      await redis.quit();
    }
  };
  return {
    names,
    create: () => withClient(async (redis) => void (await Promise.all(names.map((name) => redis.set(name, Buffer.concat([CANARY_BYTES, Buffer.from(name)])))))),
    read: () => withClient(async (redis) => (await Promise.all(names.map(async (name) => `${name}=${(await redis.getBuffer(name))?.toString('hex') ?? 'missing'}`))).join(';')),
    drop: () => withClient(async (redis) => void (await redis.del(...names))),
  };
}

export function kafkaCanaries(topics: string[]): Canaries {
  const brokers = [requireEnv('DEDUP_LAB_KAFKA_BROKERS')];
  const admin = async (): Promise<import('@platformatic/kafka').Admin> => new (await import('@platformatic/kafka')).Admin({ clientId: 'kv-canary', bootstrapBrokers: brokers });
  /** Every record of partition 0 (offset, key, value, headers) read with plain fetches. */
  const records = async (topic: string): Promise<string> => {
    const { Consumer } = await import('@platformatic/kafka');
    const client = await admin();
    const consumer = new Consumer({ clientId: 'kv-canary', groupId: 'kv-canary-reader', bootstrapBrokers: brokers });
    try {
      if (!(await client.listTopics()).includes(topic)) return 'missing';
      const info = (await client.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)!;
      const out: string[] = [];
      let next = 0n;
      for (let round = 0; round < 10; round++) {
        const response = await consumer.fetch({
          node: info.partitions[0]!.leader,
          topics: [{ topicId: info.id, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: next, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 1 << 20,
        });
        const partition = response.responses[0]!.partitions[0]!;
        if (partition.errorCode !== 0) return `fetch error ${partition.errorCode}`;
        const before = next;
        for (const batch of partition.records ?? []) {
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            out.push(`${offset}:${record.key?.toString('hex')}:${record.value?.toString('hex')}`);
            next = offset + 1n;
          }
        }
        if (next === before) break;
      }
      return `${topic}[${out.join(',')}]`;
    } finally {
      await consumer.close(true);
      await client.close();
    }
  };
  const deleteTopics = async (client: import('@platformatic/kafka').Admin): Promise<void> => {
    const present = (await client.listTopics()).filter((name) => topics.includes(name));
    if (present.length === 0) return;
    await client.deleteTopics({ topics: present });
    while ((await client.listTopics()).some((name) => topics.includes(name))) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  return {
    names: topics,
    async create() {
      const client = await admin();
      try {
        await deleteTopics(client);
        for (let attempt = 0; ; attempt++) {
          try {
            await client.createTopics({ topics, partitions: 1, replicas: 1 });
            break;
          } catch (error) {
            // A just-deleted topic of the same name can take a moment to go.
            if (attempt > 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      } finally {
        await client.close();
      }
      const { Producer } = await import('@platformatic/kafka');
      const producer = new Producer({ clientId: 'kv-canary', bootstrapBrokers: brokers, acks: -1 });
      try {
        await producer.send({ messages: topics.flatMap((topic) => [0, 1].map((n) => ({ topic, partition: 0, key: Buffer.from(`k${n}`), value: Buffer.concat([CANARY_BYTES, Buffer.from(topic)]) }))) });
      } finally {
        await producer.close();
      }
    },
    async read() {
      const out: string[] = [];
      for (const topic of topics) out.push(await records(topic));
      return out.join(';');
    },
    async drop() {
      const client = await admin();
      try {
        await deleteTopics(client);
      } finally {
        await client.close();
      }
    },
  };
}

export function s3Canaries(buckets: string[]): Canaries {
  const client = async (): Promise<import('@aws-sdk/client-s3').S3Client> => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    return new S3Client({
      endpoint: requireEnv('DEDUP_LAB_S3_ENDPOINT'),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: requireEnv('DEDUP_LAB_S3_ACCESS_KEY'), secretAccessKey: requireEnv('DEDUP_LAB_S3_SECRET_KEY') },
    });
  };
  const KEYS = ['canary.bin', 'f/0'];
  return {
    names: buckets,
    async create() {
      const { CreateBucketCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
      const s3 = await client();
      try {
        for (const bucket of buckets) {
          await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined); // may exist from an earlier run
          for (const key of KEYS) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.concat([CANARY_BYTES, Buffer.from(bucket + key)]) }));
        }
      } finally {
        s3.destroy();
      }
    },
    async read() {
      const { GetObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const s3 = await client();
      try {
        const out: string[] = [];
        for (const bucket of buckets) {
          const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).then(
            (answer) => (answer.Contents ?? []).map((object) => `${object.Key}:${object.Size}`).join(','),
            (error: Error) => `list failed: ${error.name}`,
          );
          out.push(`${bucket}[${listed}]`);
          for (const key of KEYS) {
            const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
              async (object) => sha256(Buffer.from(await object.Body!.transformToByteArray())),
              (error: Error) => `missing (${error.name})`,
            );
            out.push(`${bucket}/${key}=${body}`);
          }
        }
        return out.join(';');
      } finally {
        s3.destroy();
      }
    },
    async drop() {
      const { DeleteBucketCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
      const s3 = await client();
      try {
        for (const bucket of buckets) {
          for (const key of KEYS) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
          await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
        }
      } finally {
        s3.destroy();
      }
    },
  };
}

export function natsCanaries(streams: string[]): Canaries {
  const withManager = async <T>(work: (jsm: import('@nats-io/jetstream').JetStreamManager, js: import('@nats-io/jetstream').JetStreamClient) => Promise<T>): Promise<T> => {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
    const options = natsOptionsFromEnv();
    const nc = await connect({ servers: options.servers as string, user: options.user as string, pass: options.password as string });
    try {
      return await work(await jetstreamManager(nc), jetstream(nc));
    } finally {
      await nc.drain();
    }
  };
  // Subjects of canary i: `kvcanary<i>.>` — and stream names that look like the lab's.
  const subject = (index: number): string => `kvcanary${index}`;
  return {
    names: streams,
    create: () =>
      withManager(async (jsm, js) => {
        for (const [index, stream] of streams.entries()) {
          await jsm.streams.delete(stream).catch(() => false);
          await jsm.streams.add({ name: stream, subjects: [`${subject(index)}.>`] });
          for (const n of [0, 1]) await js.publish(`${subject(index)}.m${n}`, Buffer.concat([CANARY_BYTES, Buffer.from(`${stream}${n}`)]));
        }
      }),
    read: () =>
      withManager(async (jsm) => {
        const out: string[] = [];
        for (const stream of streams) {
          const info = await jsm.streams.info(stream).catch(() => null);
          if (!info) {
            out.push(`${stream}=missing`);
            continue;
          }
          const messages: string[] = [];
          for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
            const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
            messages.push(message ? `${seq}:${message.subject}:${sha256(Buffer.from(message.data))}` : `${seq}:gone`);
          }
          out.push(`${stream}[${info.state.messages}/${info.state.bytes}:${messages.join(',')}]`);
        }
        return out.join(';');
      }),
    drop: () => withManager(async (jsm) => void (await Promise.all(streams.map((stream) => jsm.streams.delete(stream).catch(() => false))))),
  };
}
