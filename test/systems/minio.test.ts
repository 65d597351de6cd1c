/** minio/s3 adapter against the real S3 server of scripts/services.sh (SeaweedFS; env DEDUP_LAB_S3_*). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { assertBucketName, bucketPrefixFor, definition, gatherBody, parseListingPage } from '../../src/systems/minio.js';
import { bucketUsageBytes, parsePrometheusText } from '../../src/systems/minio-metrics.js';
import type { SystemAdapter } from '../../src/systems/types.js';
import { runContractSuite } from './contract.js';
import { iterate, makeCell, makeLabFiles } from './fixtures.js';
import { requireEnv, s3OptionsFromEnv, sha256 } from './kv-helpers.js';

const LAB = 'dedup_kv_s3';
const CANARY_BUCKET = 'dedup-kv-s3-canary-x'; // shares the lab's bucket prefix, but is no `<prefix><tag>` name

function rawClient(): S3Client {
  return new S3Client({
    endpoint: requireEnv('DEDUP_LAB_S3_ENDPOINT'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: requireEnv('DEDUP_LAB_S3_ACCESS_KEY'), secretAccessKey: requireEnv('DEDUP_LAB_S3_SECRET_KEY') },
  });
}

runContractSuite({
  definitionId: 'minio',
  options: s3OptionsFromEnv,
  labName: LAB,
  canary: {
    async create() {
      const client = rawClient();
      await client.send(new CreateBucketCommand({ Bucket: CANARY_BUCKET })).catch(() => undefined);
      await client.send(new PutObjectCommand({ Bucket: CANARY_BUCKET, Key: 'canary.bin', Body: Buffer.from('canary bytes') }));
      client.destroy();
    },
    async read() {
      const client = rawClient();
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: CANARY_BUCKET, Key: 'canary.bin' }));
        return sha256(Buffer.from(await object.Body!.transformToByteArray()));
      } finally {
        client.destroy();
      }
    },
  },
  labExists: async () => {
    const client = rawClient();
    const buckets = (await client.send(new ListBucketsCommand({}))).Buckets ?? [];
    client.destroy();
    return buckets.some((bucket) => bucket.Name?.startsWith(bucketPrefixFor(LAB)) && bucket.Name !== CANARY_BUCKET);
  },
});

describe('s3 names and MinIO metrics (pure)', () => {
  test('bucket names are valid S3 names and one-to-one with lab names', () => {
    assert.equal(bucketPrefixFor('dedup_lab'), 'dedup-lab-');
    assert.equal(assertBucketName('dedup-lab-abc123'), 'dedup-lab-abc123');
    assert.throws(() => assertBucketName('Dedup'));
    assert.throws(() => assertBucketName('ab'));
    assert.throws(() => assertBucketName(`a${'b'.repeat(63)}`));
    assert.throws(() => bucketPrefixFor('bad-name'));
  });

  test('parses the MinIO v2 bucket-usage metric (format of /minio/v2/metrics/bucket)', () => {
    // Sample built from MinIO's documented v2 exposition: HELP/TYPE lines, labels bucket + server.
    const sample = [
      '# HELP minio_bucket_usage_total_bytes Total bucket size in bytes',
      '# TYPE minio_bucket_usage_total_bytes gauge',
      'minio_bucket_usage_total_bytes{bucket="dedup-lab-abc",server="127.0.0.1:9000"} 2.097152e+06',
      'minio_bucket_usage_total_bytes{bucket="dedup-lab-abc",server="127.0.0.2:9000"} 2.097152e+06',
      'minio_bucket_usage_total_bytes{bucket="other",server="127.0.0.1:9000"} 5',
      'minio_bucket_usage_object_total{bucket="dedup-lab-abc",server="127.0.0.1:9000"} 32',
      'minio_bucket_objects_size_distribution{bucket="dedup-lab-abc",range="LESS_THAN_1024_B",server="127.0.0.1:9000"} 0',
    ].join('\n');
    const samples = parsePrometheusText(sample);
    assert.equal(samples.length, 5);
    assert.equal(bucketUsageBytes(samples, ['dedup-lab-abc']), 2_097_152, 'servers report the same cluster value: not added');
    assert.throws(() => bucketUsageBytes(samples, ['missing-bucket']), /no minio_bucket_usage_total_bytes/);
  });
});

describe('s3 body gathering (pure)', () => {
  async function* chunksOf(...chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
    yield* chunks;
  }

  test('gathers exactly Content-Length bytes into a buffer of its own and frees each copied chunk', async () => {
    const first = Buffer.alloc(70_000, 1); // above Node's pool size: its own ArrayBuffer
    const second = Buffer.alloc(30_000, 2);
    const pooled = Buffer.from('pooled'); // a slice of Node's shared pool: never freed
    const body = await gatherBody(chunksOf(first, second, pooled), 100_006, 'test');
    assert.equal(body.length, 100_006);
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, 100_006, 'spans its own ArrayBuffer (the read stage may free it)');
    assert.deepEqual([body[0], body[69_999], body[70_000], body[99_999]], [1, 1, 2, 2]);
    assert.equal(body.subarray(100_000).toString(), 'pooled');
    assert.equal(first.length, 0, 'a copied chunk with an ArrayBuffer of its own is freed');
    assert.equal(second.length, 0);
    assert.equal(pooled.toString(), 'pooled', 'a chunk sharing its ArrayBuffer is left alone');
  });

  test('a body shorter or longer than its Content-Length is an error, not a result', async () => {
    await assert.rejects(gatherBody(chunksOf(Buffer.alloc(10)), 11, 'short'), /body has 10 bytes, Content-Length 11/);
    await assert.rejects(gatherBody(chunksOf(Buffer.alloc(10), Buffer.alloc(2)), 11, 'long'), /longer than its Content-Length 11/);
    assert.deepEqual([...(await gatherBody(chunksOf(Buffer.from([1, 2]), Buffer.from([3])), undefined, 'no length'))], [1, 2, 3]);
  });
});

describe('s3 listing pages folded to counts (pure)', () => {
  const head = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>';
  const object = (key: string, size: number) => `<Contents><Key>${key}</Key><ETag>"e"</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;

  test('counts objects and sums sizes; a truncated page gives its unescaped continuation token', () => {
    const xml = `${head}<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>a&amp;b&#x2F;c</NextContinuationToken>${object('f/1', 5)}${object('f/2', 7)}</ListBucketResult>`;
    assert.deepEqual(parseListingPage(xml), { objects: 2, bytes: 12, truncated: true, nextToken: 'a&b/c' });
    assert.deepEqual(parseListingPage(`${head}<IsTruncated>false</IsTruncated></ListBucketResult>`), { objects: 0, bytes: 0, truncated: false, nextToken: undefined });
    assert.deepEqual(parseListingPage(`${head}${object('r/a&amp;b/1', 0)}${object('f/2', 7)}</ListBucketResult>`, true).entries, [{ key: 'r/a&b/1', size: 0 }, { key: 'f/2', size: 7 }]);
  });

  test('a page it cannot account for is an error, never a smaller number', () => {
    assert.throws(() => parseListingPage(`${head}<KeyCount>3</KeyCount>${object('f/1', 5)}</ListBucketResult>`), /KeyCount 3 but 1 objects/);
    assert.throws(() => parseListingPage(`${head}<Contents><Key>f/1</Key></Contents></ListBucketResult>`), /without a valid <Size>/);
    assert.throws(() => parseListingPage(`${head}<IsTruncated>true</IsTruncated>${object('f/1', 5)}</ListBucketResult>`), /without a NextContinuationToken/);
    assert.throws(() => parseListingPage('<Error><Code>NoSuchBucket</Code></Error>'), /not a ListBucketResult/);
    assert.throws(() => parseListingPage(`${head}<Contents><Size>1</Size></Contents></ListBucketResult>`, true), /without a <Key>/);
  });
});

describe('s3 specifics', () => {
  let adapter: SystemAdapter;
  before(async () => {
    adapter = definition.create('minio', definition.parseOptions(s3OptionsFromEnv()), `${LAB}_x`);
    await adapter.connect();
  });
  after(async () => {
    await adapter.dropLab();
    await adapter.close();
  });

  test('by-content stores one object per content, reference objects per file, and listed sizes match', async () => {
    const cell = makeCell({ variant: 'by-content', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 10, size: 12_345, duplicates: { 5: 0, 6: 0, 7: 1 }, seed: 's3-specific' });
    await adapter.bulkInsert(iterate(files), cell);
    const client = rawClient();
    try {
      const bucket = `${bucketPrefixFor(`${LAB}_x`)}${cell.objectTag}`;
      const listed = (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/' }))).Contents ?? [];
      assert.equal(listed.length, 7);
      assert.equal((await adapter.probes(cell)[0]!.read()).bytes, 7 * 12_345);
      await adapter.deleteOne(files[5]!, cell);
      await adapter.deleteOne(files[6]!, cell);
      assert.equal(((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/' }))).Contents ?? []).length, 7);
      await adapter.deleteOne(files[0]!, cell);
      assert.equal(((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/' }))).Contents ?? []).length, 6);
      assert.equal(await adapter.countStored(cell), 7);
    } finally {
      client.destroy();
    }
  });

  test('countStored, the internal probe and the trace sample follow the listing across pages (> 1000 objects)', async () => {
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    await adapter.resetLab(cell);
    const files = makeLabFiles({ count: 1001, size: 10, seed: 's3-pages' });
    const outcome = await adapter.bulkInsert(iterate(files), cell);
    assert.equal(outcome.acknowledged.length, 1001);
    assert.equal(await adapter.countStored(cell), 1001);
    assert.equal((await adapter.probes(cell)[0]!.read()).bytes, 10_010);
    assert.deepEqual(await adapter.sampleMetrics(), { bucketObjectsAtLeast: 1000 });
    await adapter.deleteOne(files[0]!, cell);
    assert.equal(await adapter.countStored(cell), 1000);
    assert.deepEqual(await adapter.sampleMetrics(), { bucketBytes: 10_000, bucketObjects: 1000 });
  });

  test('the trace sample of a bucket that does not exist (between a drop and the re-create) is an empty bucket, not a failure', async () => {
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    await adapter.resetLab(cell);
    const client = rawClient();
    try {
      await client.send(new DeleteBucketCommand({ Bucket: `${bucketPrefixFor(`${LAB}_x`)}${cell.objectTag}` }));
    } finally {
      client.destroy();
    }
    assert.deepEqual(await adapter.sampleMetrics(), { bucketBytes: 0, bucketObjects: 0 });
    await adapter.resetLab(cell);
  });

  test('readOne returns a multi-chunk object byte for byte, in a buffer of its own', async () => {
    const cell = makeCell({ variant: 'by-id', mode: 'blob' });
    await adapter.resetLab(cell);
    const [file] = makeLabFiles({ count: 1, size: 3 * 1024 * 1024 + 17, seed: 's3-read-chunks' });
    await adapter.insertOne(file!, cell);
    const bytes = await adapter.readOne!(file!, cell);
    assert.equal(bytes.length, file!.size);
    assert.equal(sha256(bytes), file!.sha256);
    assert.equal(bytes.buffer.byteLength, file!.size, 'own ArrayBuffer: readOneOwned lets the read stage free it');
  });
});
