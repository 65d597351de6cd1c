/**
 * Real-world sources from a URL (SPEC §3): downloaded once into a cache folder and then used like a
 * local file.
 *
 * - One entry per URL: `<sha256 of the URL without credentials><its extension(s)>` (the extension
 *   keeps `.gz` detection and line alignment working on the cached file) and a JSON sidecar
 *   `<entry>.meta.json` (URL without credentials, ETag, Last-Modified, size, sha256, times).
 * - The body streams into a temporary file in the cache folder, hashed on the way, datasynced and
 *   renamed into place only when complete and as long as Content-Length said. The sidecar is written
 *   after the data, and an entry counts only when the sidecar's size and sha256 match the file
 *   (re-hashed on use), so a crash or a cut connection never leaves an entry that looks complete.
 * - A later run revalidates with a conditional GET (If-None-Match / If-Modified-Since): 304 keeps
 *   the entry, 200 replaces it. Unreachable with an entry: use it with a warning; without: exit 3.
 * - `URL#sha256=<hex>` pins the content: other bytes are refused and never cached; an entry with the
 *   pinned digest is used without asking the network.
 * - Credentials in the URL (`https://user:pass@host/…`) go into an Authorization header (dropped on
 *   a redirect to another origin), are registered as secrets, and never reach a manifest, a log line,
 *   an error message or the sidecar.
 *
 * node:http(s), not fetch: fetch refuses URLs with credentials, decodes Content-Encoding on its own
 * (the bytes would no longer be the file's) and hides the raw byte count Content-Length refers to.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { EXIT, UsageError } from '../core/errors.js';
import { dedupLabCacheRoot } from '../config/cache.js';
import { log } from '../core/log.js';
import { registerSecret, scrub, SECRET_KEY_PATTERN } from '../config/secrets.js';
import { backoffDelayMs, type BackoffOptions } from '../measure/backoff.js';
import { TOOL_VERSION } from '../version.js';
import { FileSink, hashFile } from './files.js';

/** One line naming the forms a source may take (every URL usage error ends with it). */
export const VALID_SOURCE_FORMS = 'valid: a local file, folder or .gz path, or an http(s)://host/path URL, optionally ending in #sha256=<64 hex digits>';

/** The source could not be fetched for a network reason (connection, timeout, 5xx): exit 3. */
export class SourceUnreachableError extends Error {
  readonly exitCode = EXIT.unreachable;
}

/** A parsed, validated source URL. Only `display` may be printed or stored. */
export interface SourceUrl {
  /** What is requested: the URL without user info and without fragment. Never printed (its query may hold tokens). */
  requestUrl: URL;
  /** `Basic …` from the URL's user info, or null. */
  authorization: string | null;
  /** The URL without user info and fragment, secret-looking query values replaced by `***`. */
  display: string;
  /** File name of the cache entry: sha256 of `requestUrl` plus the URL's extension(s). */
  cacheName: string;
  /** Pinned sha256 (lower-case hex) from `#sha256=…`, or null. */
  pin: string | null;
}

export interface CacheSidecar {
  url: string;
  etag: string | null;
  lastModified: string | null;
  size: number;
  sha256: string;
  downloadedAt: string;
  /** Last time the server confirmed the entry (304), or the download time. */
  checkedAt: string;
}

export interface FetchedSource {
  /** The cache entry: read it like a local source file. */
  path: string;
  sha256: string;
  size: number;
  /** How the entry came to be used. */
  origin: 'downloaded' | 'not-modified' | 'pinned-cache' | 'offline-cache';
}

export interface FetchOptions {
  /** Cache folder (default `sourceCacheDir()`). */
  cacheDir?: string;
  /** Names the source in messages, e.g. `source for github_events`. */
  label?: string;
  signal?: AbortSignal;
  /** Retries after a transient failure (connection, timeout, cut body, 5xx, 408, 429). */
  retries?: number;
  backoff?: BackoffOptions;
  /** A request with no bytes moving for this long fails (transient). */
  idleTimeoutMs?: number;
}

const DEFAULT_RETRIES = 3;
/** Short waits: an unreachable network with a cached entry should cost seconds, not minutes. */
const DOWNLOAD_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 4000 };
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;
/** A temporary file not written to for this long belongs to a process that is gone. */
const STALE_PART_MS = 10 * 60_000;
const SIDECAR_SUFFIX = '.meta.json';

/** Schemes we name in a usage error instead of treating the text as a local path. */
const KNOWN_SCHEMES = /^(https?|ftps?|sftp|file|s3|gs|ssh|scp|rsync|data|git):/i;
/** Query parameter names whose values are credentials (presigned URLs, API tokens). */
const SECRET_QUERY_NAMES =
  /^(sig|signature|token|auth|key|api[-_]?key|access[-_]?token|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)$/i;

/** `$DEDUP_LAB_SOURCE_CACHE_DIR`, else `<cache root>/sources`. */
export function sourceCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEDUP_LAB_SOURCE_CACHE_DIR || join(dedupLabCacheRoot(env), 'sources');
}

/** Whether a source value is meant as a URL (then it must be a valid http(s) URL) rather than a path. */
export function looksLikeUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(text) || KNOWN_SCHEMES.test(text);
}

/** The text with any `user:password@` replaced, for messages about values that did not parse. */
export function redactUserInfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/**
 * `.jsonl.gz`, `.csv`, `.gz`, '' … : the last extension of the URL path's last segment, plus the
 * one before it when the last is `gz` (what `.gz` detection and line alignment look at).
 */
export function urlExtension(pathname: string): string {
  const segment = pathname.split('/').pop() ?? '';
  const match = /(?:\.([A-Za-z0-9]{1,8}))?\.([A-Za-z0-9]{1,8})$/.exec(segment);
  if (!match) return '';
  const [, before, last] = match as unknown as [string, string | undefined, string];
  const suffix = last.toLowerCase() === 'gz' && before ? `.${before}.${last}` : `.${last}`;
  return suffix.toLowerCase();
}

/** Parse and validate a source URL; registers its credentials as secrets. Bad input → UsageError. */
export function parseSourceUrl(text: string): SourceUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid source URL ${JSON.stringify(redactUserInfo(text))}; ${VALID_SOURCE_FORMS}`);
  }
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  // A password is the secret; a bare user name in a URL is usually a token (https://TOKEN@host).
  for (const secret of password ? [password, url.password] : user ? [user, url.username] : []) registerSecret(secret);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`unsupported source URL scheme ${JSON.stringify(url.protocol)} in ${JSON.stringify(redactUserInfo(text))}; ${VALID_SOURCE_FORMS}`);
  }
  if (!url.hostname) throw new UsageError(`invalid source URL ${JSON.stringify(redactUserInfo(text))} (no host); ${VALID_SOURCE_FORMS}`);
  let pin: string | null = null;
  if (url.hash) {
    const match = /^#sha256=([0-9a-f]{64})$/i.exec(url.hash);
    if (!match?.[1]) {
      throw new UsageError(`invalid source URL fragment ${JSON.stringify(url.hash)} in ${JSON.stringify(displayOf(withoutCredentials(url)))}; ${VALID_SOURCE_FORMS}`);
    }
    pin = match[1].toLowerCase();
  }
  const requestUrl = withoutCredentials(url);
  const authorization = user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : null;
  const cacheName = createHash('sha256').update(requestUrl.href).digest('hex') + urlExtension(requestUrl.pathname);
  return { requestUrl, authorization, display: displayOf(requestUrl), cacheName, pin };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function withoutCredentials(url: URL): URL {
  const out = new URL(url.href);
  out.username = '';
  out.password = '';
  out.hash = '';
  return out;
}

/** The URL with secret-looking query values replaced (and registered as secrets). */
function displayOf(url: URL): string {
  const out = new URL(url.href);
  let changed = false;
  for (const [name, value] of url.searchParams) {
    if (value && (SECRET_QUERY_NAMES.test(name) || SECRET_KEY_PATTERN.test(name))) {
      registerSecret(value);
      out.searchParams.set(name, '***');
      changed = true;
    }
  }
  // Untouched queries keep their exact spelling (searchParams.set re-encodes the whole query).
  return changed ? out.href : url.href;
}

/** Source URLs seen by the CLI, by display form: the manifest holds the display form only. */
const knownUrls = new Map<string, SourceUrl>();

/** Parse, validate and remember a source URL; returns its display form for the parameters. */
export function registerSourceUrl(text: string): SourceUrl {
  const parsed = parseSourceUrl(text);
  knownUrls.set(parsed.display, parsed);
  return parsed;
}

/** The URL (with credentials and pin) a display form stands for, or the text parsed as given. */
export function sourceUrlFor(text: string): SourceUrl {
  return knownUrls.get(text) ?? parseSourceUrl(text);
}

/** `42 s`, `17 min`, `5 h`, `3 days`: how old a cache entry is, for the offline warning. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** An HTTP status other than 200/304 (after redirects). */
class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    statusText: string,
  ) {
    super(`HTTP ${status}${statusText ? ` ${statusText}` : ''}`);
  }
}

/** A failure worth retrying that says nothing about the URL being wrong: a network problem. */
class TransientError extends Error {}

function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof HttpStatusError) return error.status >= 500 || error.status === 408 || error.status === 429;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET'].includes(code);
}

/** Whether the failure means "the network or server is unavailable" (cache fallback, exit 3). */
function isUnavailable(error: unknown): boolean {
  if (isTransient(error)) return true;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  // A name that does not resolve is what an offline machine sees.
  return code === 'ENOTFOUND' || code === 'ERR_SOCKET_CONNECTION_TIMEOUT';
}

function causeOf(error: unknown): string {
  return scrub(error instanceof Error ? error.message || String((error as NodeJS.ErrnoException).code) : String(error));
}

/** Download a URL source into the cache (or reuse the cached entry): the local path and digest. */
export async function fetchSource(source: SourceUrl, options: FetchOptions = {}): Promise<FetchedSource> {
  const dir = options.cacheDir ?? sourceCacheDir();
  const label = options.label ?? 'source';
  const entry = join(dir, source.cacheName);
  await mkdir(dir, { recursive: true });
  await removeStaleParts(dir, source.cacheName);
  const cached = await readValidEntry(entry);
  if (source.pin && cached?.sha256 === source.pin) return { path: entry, sha256: cached.sha256, size: cached.size, origin: 'pinned-cache' };
  // An entry that does not match the pin must not turn a 304 into a use of the wrong bytes.
  const revalidate = source.pin ? null : cached;
  const retries = options.retries ?? DEFAULT_RETRIES;
  for (let attempt = 1; ; attempt++) {
    try {
      return await downloadOnce(source, entry, revalidate, label, options);
    } catch (error) {
      if (error instanceof UsageError || options.signal?.aborted) throw error;
      if (isTransient(error) && attempt <= retries) {
        log.debug(`${label}: ${source.display}: ${causeOf(error)}; retry ${attempt} of ${retries}`);
        await sleep(backoffDelayMs(attempt, options.backoff ?? DOWNLOAD_BACKOFF), undefined, { signal: options.signal });
        continue;
      }
      const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
      if (isUnavailable(error)) {
        if (revalidate) {
          const age = formatAge(Date.now() - Date.parse(revalidate.downloadedAt));
          log.warn(`cannot reach ${source.display} (${causeOf(error)}${tries}); using the cached copy downloaded ${age} ago (${revalidate.downloadedAt}), last confirmed ${revalidate.checkedAt}`);
          return { path: entry, sha256: revalidate.sha256, size: revalidate.size, origin: 'offline-cache' };
        }
        const noCache = cached ? `the cached copy in ${dir} does not match the pinned sha256` : `no cached copy in ${dir}`;
        throw new SourceUnreachableError(`cannot download ${label} from ${source.display}: ${causeOf(error)}${tries}; ${noCache}`, { cause: error });
      }
      if (error instanceof HttpStatusError) {
        const hint = cached ? `; a copy downloaded ${cached.downloadedAt} is in ${entry}` : '';
        throw new UsageError(`cannot download ${label} from ${source.display}: ${error.message} (check the URL and its credentials)${hint}`, { cause: error });
      }
      throw new Error(`cannot download ${label} from ${source.display}: ${causeOf(error)}`, { cause: error });
    }
  }
}

/** Per process, each URL is fetched (or revalidated) once, however many grades use it. */
const fetched = new Map<string, Promise<FetchedSource>>();

export function fetchSourceOnce(source: SourceUrl, options: FetchOptions = {}): Promise<FetchedSource> {
  const key = `${options.cacheDir ?? sourceCacheDir()}\0${source.cacheName}\0${source.pin ?? ''}`;
  let pending = fetched.get(key);
  if (!pending) {
    pending = fetchSource(source, options);
    fetched.set(key, pending);
    // A failure is not remembered: a later call tries again.
    pending.catch(() => fetched.delete(key));
  }
  return pending;
}

/** Forget what this process fetched (tests that simulate a second run in one process). */
export function forgetFetchedSources(): void {
  fetched.clear();
}

async function downloadOnce(source: SourceUrl, entry: string, cached: CacheSidecar | null, label: string, options: FetchOptions): Promise<FetchedSource> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': `dedup-lab/${TOOL_VERSION}` };
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
  const response = await get(source, headers, options);
  if (response.statusCode === 304 && cached) {
    response.resume();
    const checked = { ...cached, checkedAt: new Date().toISOString() };
    // Only a record of the last confirmation: failing to write it changes nothing.
    await writeSidecar(entry, checked).catch(() => undefined);
    return { path: entry, sha256: cached.sha256, size: cached.size, origin: 'not-modified' };
  }
  if (response.statusCode !== 200) {
    response.resume();
    throw new HttpStatusError(response.statusCode ?? 0, response.statusMessage ?? '');
  }
  log.info(`downloading ${label} from ${source.display}${response.headers['content-length'] ? ` (${response.headers['content-length']} bytes)` : ''}`);
  const started = performance.now();
  const dir = join(entry, '..');
  const part = join(dir, `.${source.cacheName}.part-${process.pid}-${randomBytes(4).toString('hex')}`);
  const sink = await FileSink.create(part);
  let rawBytes = 0;
  try {
    const decoder = decoderFor(response.headers['content-encoding'], source.requestUrl.pathname);
    const countRaw = async function* (body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of body) {
        rawBytes += chunk.length;
        yield chunk;
      }
    };
    // Decoders are typed as yielding strings too; they never do without setEncoding.
    const write = async (body: AsyncIterable<Buffer | string>): Promise<void> => {
      for await (const chunk of body) await sink.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const expected = response.headers['content-length'];
    try {
      if (decoder) await pipeline(response, countRaw, decoder, write);
      else await pipeline(response, countRaw, write);
    } catch (error) {
      // A connection cut mid-body: the server may be fine on the next try.
      throw isTransient(error) || (error as Error).message === 'aborted' ? new TransientError(`connection lost after ${rawBytes}${expected === undefined ? '' : ` of ${expected}`} bytes (${causeOf(error)})`, { cause: error }) : error;
    }
    const written = await sink.close();
    await syncFile(part);
    if (expected !== undefined && Number(expected) !== rawBytes) {
      throw new TransientError(`received ${rawBytes} bytes, Content-Length said ${expected}; download refused`);
    }
    if (source.pin && written.sha256 !== source.pin) {
      throw new UsageError(
        `refused ${label} from ${source.display}: its sha256 is ${written.sha256}, the pin #sha256= expects ${source.pin}; nothing cached (update the pin if the new content is intended)`,
      );
    }
    await rename(part, entry);
    const now = new Date().toISOString();
    await writeSidecar(entry, {
      url: source.display,
      etag: headerValue(response.headers.etag),
      lastModified: headerValue(response.headers['last-modified']),
      size: written.size,
      sha256: written.sha256,
      downloadedAt: now,
      checkedAt: now,
    });
    // The renames themselves survive a power cut only once the folder is synced.
    await syncFile(dir);
    const seconds = (performance.now() - started) / 1000;
    log.info(`downloaded ${written.size} bytes in ${seconds.toFixed(1)} s (${(written.size / 1e6 / Math.max(seconds, 1e-3)).toFixed(0)} MB/s), sha256 ${written.sha256} → ${entry}`);
    return { path: entry, sha256: written.sha256, size: written.size, origin: 'downloaded' };
  } catch (error) {
    response.destroy();
    await sink.abandon();
    await rm(part, { force: true });
    throw error;
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * We ask for `identity`; a server that encodes anyway is decoded, except `gzip` on a `.gz` URL:
 * that is the file itself mislabelled, and the `.gz` bytes are what the user asked for.
 */
function decoderFor(encoding: string | undefined, pathname: string): NodeJS.ReadWriteStream | null {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return null;
  if ((name === 'gzip' || name === 'x-gzip') && /\.gz$/i.test(pathname)) return null;
  if (name === 'gzip' || name === 'x-gzip') return createGunzip();
  if (name === 'deflate') return createInflate();
  if (name === 'br') return createBrotliDecompress();
  throw new TransientError(`unsupported Content-Encoding ${JSON.stringify(name)}`);
}

/** GET with redirects followed; the Authorization header only goes to the URL's own origin. */
async function get(source: SourceUrl, headers: Record<string, string>, options: FetchOptions): Promise<IncomingMessage> {
  let url = source.requestUrl;
  for (let redirects = 0; ; redirects++) {
    const sameOrigin = url.origin === source.requestUrl.origin;
    const response = await request(url, source.authorization && sameOrigin ? { ...headers, authorization: source.authorization } : headers, options);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (![301, 302, 303, 307, 308].includes(status) || !location) return response;
    response.resume();
    if (redirects >= MAX_REDIRECTS) throw new HttpStatusError(status, `more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new HttpStatusError(status, `redirect to unsupported scheme ${next.protocol}`);
    next.username = '';
    next.password = '';
    url = next;
  }
}

function request(url: URL, headers: Record<string, string>, options: FetchOptions): Promise<IncomingMessage> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // agent: false — one connection per request, nothing kept open after the download.
    let response: IncomingMessage | null = null;
    const req = client.request(url, { method: 'GET', headers, agent: false, signal: options.signal }, (res) => {
      response = res;
      resolve(res);
    });
    req.setTimeout(idleMs, () => {
      // Destroying the response too makes a body read fail with this cause, not a bare "aborted".
      const error = new TransientError(`no data for ${idleMs / 1000} s`);
      (response as IncomingMessage | null)?.destroy(error);
      req.destroy(error);
    });
    req.on('error', reject);
    req.end();
  });
}

async function readValidEntry(entry: string): Promise<CacheSidecar | null> {
  let sidecar: CacheSidecar;
  try {
    sidecar = JSON.parse(await readFile(entry + SIDECAR_SUFFIX, 'utf8')) as CacheSidecar;
    if (typeof sidecar.sha256 !== 'string' || typeof sidecar.size !== 'number' || typeof sidecar.downloadedAt !== 'string') return null;
    if ((await stat(entry)).size !== sidecar.size) return null;
  } catch {
    return null;
  }
  // Re-hashed on every use: the digest recorded in manifests must be of the bytes really read.
  const actual = await hashFile(entry).catch(() => null);
  if (actual?.sha256 !== sidecar.sha256) {
    log.debug(`cache entry ${entry} does not match its sidecar; ignoring it`);
    return null;
  }
  return { ...sidecar, checkedAt: sidecar.checkedAt ?? sidecar.downloadedAt, etag: sidecar.etag ?? null, lastModified: sidecar.lastModified ?? null };
}

async function writeSidecar(entry: string, sidecar: CacheSidecar): Promise<void> {
  const path = entry + SIDECAR_SUFFIX;
  const temp = `${path}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, `${JSON.stringify(sidecar, null, 1)}\n`);
    await syncFile(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** fsync through a new descriptor: it flushes the file's data whoever wrote it. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temporary files of downloads that died (a crash, a kill -9), not written to for 10 minutes. */
async function removeStaleParts(dir: string, cacheName: string): Promise<void> {
  const prefixes = [`.${cacheName}.part-`, `${cacheName}${SIDECAR_SUFFIX}.part-`];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!prefixes.some((prefix) => name.startsWith(prefix))) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => null);
    if (info && Date.now() - info.mtimeMs > STALE_PART_MS) await rm(path, { force: true });
  }
}
