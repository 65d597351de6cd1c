/**
 * Issue 10: every row of the answer table agrees with its storage layer — the SQL servers
 * (PostgreSQL, MariaDB, ClickHouse), every variant, U0/U90 (checks: answer-storage-check.ts).
 */
import { describe, it } from 'node:test';
import { assertAnswerAgreesWithStorage, runLocalMatrix } from './answer-storage-check.js';

const IDS = ['postgresql', 'mariadb', 'clickhouse'];

describe('the answer table agrees with the storage layer: SQL servers', { timeout: 600_000 }, () => {
  it('EDRs, returned and verdict from the lab-scoped storage probe; gaps shown with both numbers and a reason', async (t) => {
    assertAnswerAgreesWithStorage(await runLocalMatrix(IDS, t), IDS, (line) => t.diagnostic(line));
  });
});
