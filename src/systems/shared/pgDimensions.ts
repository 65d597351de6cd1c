/**
 * The SPEC §4.1 operations in the PostgreSQL dialect, shared by `postgresql` and `pglite`:
 * bulk delete, TRUNCATE, drop-and-recreate of the cell's table, plain VACUUM (the light
 * maintenance level; VACUUM FULL is the rewriting one) and the read-back of one blob.
 * Driver-free like pgCommon.ts: every function takes a `PgExecute`.
 */
import type { CellContext, LabFileRef } from '../types.js';
import { qualifiedName, quoteIdent } from './identifiers.js';
import { BLOB_TABLE, fileIdColumn, labTableName } from './layout.js';
import { pgCreateTableStatements, pgTableList, type PgExecute } from './pgCommon.js';
import { groupByObject, labTableOf, labTablesOf } from './placement.js';

/** One DELETE for all the given files (ids travel as one int[] parameter). */
export async function pgDeleteMany(execute: PgExecute, schema: string, cell: CellContext, files: readonly LabFileRef[]): Promise<void> {
  for (const [table, group] of groupByObject(files, labTableName(cell), cell.placement)) {
    const sql = `DELETE FROM ${qualifiedName(schema, table)} WHERE ${quoteIdent(fileIdColumn(cell))} = ANY($1::int[])`;
    await execute(sql, [group.map((file) => file.id)]);
  }
}

export async function pgTruncate(execute: PgExecute, schema: string, cell: CellContext): Promise<void> {
  await execute(`TRUNCATE ${pgTableList(schema, cell)}`);
}

/** DROP TABLE and the same CREATE (with the variant's storage settings) as resetLab. */
export async function pgDropAndRecreate(execute: PgExecute, schema: string, cell: CellContext): Promise<void> {
  for (const table of labTablesOf(cell)) await execute(`DROP TABLE ${qualifiedName(schema, table)}`);
  for (const statement of pgCreateTableStatements(schema, cell)) await execute(statement);
}

/** Plain VACUUM: marks dead tuples reusable and truncates only empty pages at the END of the relation. */
export function pgVacuumSql(schema: string, cell: CellContext): string {
  return `VACUUM ${pgTableList(schema, cell)}`;
}

/** The stored bytes of one blob-mode file; a missing row is an error. */
export async function pgReadBlob(execute: PgExecute, schema: string, file: LabFileRef, cell?: CellContext): Promise<Buffer> {
  const table = cell ? labTableOf(cell, file.id) : BLOB_TABLE;
  const result = await execute(`SELECT content FROM ${qualifiedName(schema, table)} WHERE id = $1`, [file.id]);
  const content = result.rows[0]?.content;
  if (!(content instanceof Uint8Array)) throw new Error(`file ${file.id} is not stored in schema ${schema}`);
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}
