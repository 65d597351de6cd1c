/** Payload types (SPEC §3): names, file extensions and which ones read a real-world source. */

export const SYNTHETIC_TYPES = [
  'random_binary',
  'structured_json',
  'text_document',
  'uuid_keys',
  'jsonb_documents',
  'numeric_dataset',
  'bank_transactions',
] as const;
export type SyntheticType = (typeof SYNTHETIC_TYPES)[number];

export const REAL_WORLD_TYPES = ['nasa_image', 'blender_video', 'gutenberg_text', 'github_events', 'text_corpus'] as const;
export type RealWorldType = (typeof REAL_WORLD_TYPES)[number];

export const MIXED = 'mixed';

/** User-named source types share the config's key rules: a safe identifier. */
export const USER_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

const SYNTHETIC_EXTENSIONS: Record<SyntheticType, string> = {
  random_binary: 'bin',
  structured_json: 'json',
  text_document: 'txt',
  uuid_keys: 'uuid',
  jsonb_documents: 'json',
  numeric_dataset: 'csv',
  bank_transactions: 'csv',
};

const REAL_WORLD_EXTENSIONS: Record<RealWorldType, string> = {
  nasa_image: 'jpg',
  blender_video: 'mp4',
  gutenberg_text: 'txt',
  github_events: 'jsonl',
  text_corpus: 'txt',
};

/** Extensions whose content is line based: slices of such sources are cut at line ends. */
const LINE_BASED_EXTENSIONS = new Set(['txt', 'text', 'jsonl', 'ndjson', 'csv', 'tsv', 'log', 'md', 'json']);

export function isSyntheticType(type: string): type is SyntheticType {
  return (SYNTHETIC_TYPES as readonly string[]).includes(type);
}

export function isRealWorldType(type: string): type is RealWorldType {
  return (REAL_WORLD_TYPES as readonly string[]).includes(type);
}

/** Every payload type name accepted on the command line / in the config. */
export function validPayloadTypes(sources: Record<string, string>): string[] {
  const userNamed = Object.keys(sources).filter(
    (name) => !isSyntheticType(name) && !isRealWorldType(name) && name !== MIXED && USER_TYPE_PATTERN.test(name),
  );
  return [...SYNTHETIC_TYPES, ...REAL_WORLD_TYPES, MIXED, ...userNamed.sort()];
}

/** The extension of a source path, ignoring a trailing `.gz`, when it is a plain short word. */
export function sourceExtension(source: string | null): string | null {
  if (!source) return null;
  const base = source.replace(/\.gz$/i, '').split(/[\\/]/).pop() ?? '';
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(base);
  return match?.[1] ? match[1].toLowerCase() : null;
}

/** File extension for a payload type (the set's own type, or a file's type in `mixed`). */
export function extensionFor(type: string, source: string | null = null): string {
  if (isSyntheticType(type)) return SYNTHETIC_EXTENSIONS[type];
  if (isRealWorldType(type)) return REAL_WORLD_EXTENSIONS[type];
  return sourceExtension(source) ?? 'bin';
}

/** Whether slices of this type's source are cut at line boundaries. */
export function isLineBased(type: string, source: string | null): boolean {
  if (type === 'gutenberg_text' || type === 'github_events' || type === 'text_corpus') return true;
  if (type === 'nasa_image' || type === 'blender_video') return false;
  const ext = sourceExtension(source);
  return ext !== null && LINE_BASED_EXTENSIONS.has(ext);
}
