/**
 * Issue 10: every row of the answer table agrees with its storage layer — the key-value,
 * log and object servers (Redis, Kafka, S3 on SeaweedFS, NATS), every variant, U0/U90 (checks: answer-storage-check.ts).
 */
import { describe, it } from 'node:test';
import { assertAnswerAgreesWithStorage, runLocalMatrix } from './answer-storage-check.js';

const IDS = ['redis', 'kafka', 'minio', 'nats'];

describe('the answer table agrees with the storage layer: key-value, log and object servers', { timeout: 600_000 }, () => {
  it('EDRs, returned and verdict from the lab-scoped storage probe; gaps shown with both numbers and a reason', async (t) => {
    assertAnswerAgreesWithStorage(await runLocalMatrix(IDS, t), IDS, (line) => t.diagnostic(line));
  });
});
