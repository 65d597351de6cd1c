/** Native read-back in the PostgreSQL dialect (postgresql, pglite, cockroachdb): one file's records. */
import type { CellContext, LabFileRef } from '../types.js';
import { qualifiedName, quoteIdent } from './identifiers.js';
import { labTableName } from './layout.js';
import { FILE_ID_COLUMN } from './native.js';
import { nativeReadSql, rowsInColumnOrder } from './native-readback.js';
import type { PgExecute } from './pgCommon.js';
import { requireNative } from './stages.js';

export async function pgReadRecords(execute: PgExecute, schema: string, cell: CellContext, file: LabFileRef): Promise<unknown[][]> {
  const { table } = requireNative(cell);
  const sql = nativeReadSql(table, qualifiedName(schema, labTableName(cell)), FILE_ID_COLUMN, '$1', (name) => quoteIdent(name));
  return rowsInColumnOrder(table, (await execute(sql, [file.id])).rows);
}
