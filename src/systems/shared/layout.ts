/** Table names SQL adapters use inside their lab namespace. */
import type { CellContext } from '../types.js';
import { FILE_ID_COLUMN, nativeTableName } from './native.js';
import { requireNative } from './stages.js';

/** Blob mode: one row per file (id, name, sha256, size, content). */
export const BLOB_TABLE = 'blobs';

/** The table a cell writes: `blobs` in blob mode, `n_<payload table>` in native mode. */
export function labTableName(cell: CellContext): string {
  return cell.mode === 'blob' ? BLOB_TABLE : nativeTableName(requireNative(cell).table);
}

/** Column holding the file id in the cell's table. */
export function fileIdColumn(cell: CellContext): string {
  return cell.mode === 'blob' ? 'id' : FILE_ID_COLUMN;
}
