/**
 * Native mode (SPEC §5.4): the typed table shape of each payload type and a streaming parser that
 * turns one file into rows of that shape. A duplicate file yields the same rows again.
 */
import type { NativeColumn, NativeTable, NativeValue } from './records.js';
import { BANK_HEADER, NUMERIC_HEADER } from './payloads/synthetic.js';
import { MIXED } from './types.js';

type Shape = 'bytes' | 'json_records' | 'json_document' | 'json_lines' | 'paragraphs' | 'uuid_lines' | 'csv';

interface NativeShape {
  shape: Shape;
  columns: NativeColumn[];
}

const BYTES: NativeShape = { shape: 'bytes', columns: [{ name: 'content', type: 'bytes' }] };
const PARAGRAPHS: NativeShape = {
  shape: 'paragraphs',
  columns: [
    { name: 'paragraph_no', type: 'int' },
    { name: 'body', type: 'text' },
  ],
};

const SHAPES: Record<string, NativeShape> = {
  random_binary: BYTES,
  nasa_image: BYTES,
  blender_video: BYTES,
  structured_json: {
    shape: 'json_records',
    columns: [
      { name: 'id', type: 'int' },
      { name: 'username', type: 'text' },
      { name: 'name', type: 'text' },
      { name: 'email', type: 'text' },
      { name: 'age', type: 'int' },
      { name: 'city', type: 'text' },
      { name: 'country', type: 'text' },
      { name: 'score', type: 'float' },
      { name: 'active', type: 'bool' },
      { name: 'created_at', type: 'timestamp' },
      { name: 'tags', type: 'json' },
    ],
  },
  jsonb_documents: { shape: 'json_document', columns: [{ name: 'doc', type: 'json' }] },
  github_events: { shape: 'json_lines', columns: [{ name: 'event', type: 'json' }] },
  text_document: PARAGRAPHS,
  gutenberg_text: PARAGRAPHS,
  text_corpus: PARAGRAPHS,
  uuid_keys: { shape: 'uuid_lines', columns: [{ name: 'key', type: 'uuid' }] },
  numeric_dataset: {
    shape: 'csv',
    columns: csvColumns(NUMERIC_HEADER, { id: 'int', count: 'int' }, 'float'),
  },
  bank_transactions: {
    shape: 'csv',
    columns: csvColumns(
      BANK_HEADER,
      { transaction_id: 'int', booked_at: 'timestamp', amount: 'decimal', balance: 'decimal' },
      'text',
    ),
  },
};

function csvColumns(header: string, types: Record<string, NativeColumn['type']>, fallback: NativeColumn['type']): NativeColumn[] {
  return header
    .trim()
    .split(',')
    .map((name) => ({ name, type: types[name] ?? fallback }));
}

function shapeOf(payloadType: string): NativeShape | null {
  if (payloadType === MIXED) return null;
  // User-named source types have no known structure: stored as one blob per file.
  return SHAPES[payloadType] ?? BYTES;
}

/** The table a payload type's records go into; null for `mixed` (files of several shapes). */
export function nativeTableFor(payloadType: string): NativeTable | null {
  const shape = shapeOf(payloadType);
  return shape ? { name: payloadType, columns: shape.columns.map((column) => ({ ...column })) } : null;
}

/** Lines of a buffer without copying the whole buffer into one string (CR LF tolerated). */
function* lines(content: Buffer): Iterable<{ text: string; number: number }> {
  let start = 0;
  let number = 1;
  while (start < content.length) {
    let end = content.indexOf(10, start);
    if (end < 0) end = content.length;
    let stop = end;
    if (stop > start && content[stop - 1] === 13) stop -= 1;
    yield { text: content.toString('utf8', start, stop), number };
    start = end + 1;
    number += 1;
  }
}

function parseJsonLine(text: string, number: number, payloadType: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${payloadType}: line ${number} is not valid JSON`);
  }
}

/**
 * Rows for one file, in file order. JSON arrays from the generator hold one element per line,
 * so they are parsed line by line (`[`/`]` lines and trailing commas skipped) rather than whole.
 */
export async function* parseRecords(payloadType: string, content: Buffer): AsyncIterable<NativeValue[]> {
  const shape = shapeOf(payloadType);
  if (!shape) throw new Error(`payload type ${payloadType} has no native table (mixed sets are blob-only)`);
  switch (shape.shape) {
    case 'bytes':
      yield [content];
      return;
    case 'paragraphs': {
      let paragraph: string[] = [];
      let index = 0;
      for (const { text } of lines(content)) {
        if (text.trim() === '') {
          if (paragraph.length > 0) yield [index++, paragraph.join('\n')];
          paragraph = [];
        } else paragraph.push(text);
      }
      if (paragraph.length > 0) yield [index, paragraph.join('\n')];
      return;
    }
    case 'uuid_lines':
      for (const { text, number } of lines(content)) {
        const key = text.trim();
        if (key === '') continue;
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key)) {
          throw new Error(`${payloadType}: line ${number} is not a UUID`);
        }
        yield [key];
      }
      return;
    case 'json_lines':
    case 'json_document':
    case 'json_records':
      for (const { text, number } of lines(content)) {
        let element = text.trim();
        if (shape.shape !== 'json_lines') {
          if (element === '[' || element === ']' || element === '[]') continue;
          if (element.endsWith(',')) element = element.slice(0, -1);
        }
        if (element === '') continue;
        const value = parseJsonLine(element, number, payloadType);
        if (shape.shape === 'json_records') yield recordRow(value as Record<string, unknown>, shape.columns);
        else yield [JSON.stringify(value)];
      }
      return;
    case 'csv': {
      let header = true;
      for (const { text, number } of lines(content)) {
        if (header) {
          header = false;
          continue;
        }
        if (text === '') continue;
        const fields = text.split(',');
        if (fields.length !== shape.columns.length) {
          throw new Error(`${payloadType}: line ${number} has ${fields.length} fields, expected ${shape.columns.length}`);
        }
        yield fields.map((field, i) => csvValue(field, (shape.columns[i] as NativeColumn).type));
      }
      return;
    }
  }
}

function csvValue(field: string, type: NativeColumn['type']): NativeValue {
  if (field === '') return null;
  if (type === 'int' || type === 'float') {
    const value = Number(field);
    if (!Number.isFinite(value)) throw new Error(`not a number: ${JSON.stringify(field)}`);
    return value;
  }
  return field;
}

function recordRow(record: Record<string, unknown>, columns: NativeColumn[]): NativeValue[] {
  return columns.map(({ name, type }) => {
    const value = record[name];
    if (value === undefined || value === null) return null;
    if (type === 'json') return JSON.stringify(value);
    if (typeof value === 'object') return JSON.stringify(value);
    return value as NativeValue;
  });
}
