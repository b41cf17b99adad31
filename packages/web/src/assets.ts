import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Node side of the web UI: where the bundle is (dist/, written by
 * scripts/bundle.mjs at build time) and how a file of it is served:
 * its content type and cache policy. The web server (peer-worker's
 * web-ui.ts) maps a URL path to a file through `loadAsset`, which
 * refuses any path that could leave the folder.
 */

/** The bundle's folder. From src/ (tests) and dist-node/ (built) alike: both sit beside dist/. */
export function webDistDir(): string {
  return fileURLToPath(new URL('../dist/', import.meta.url));
}

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export function contentType(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** esbuild's `[name]-[hash]` file names: the content never changes under one. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+$/;

/**
 * The index is asked again on every load (it names the current bundle);
 * a hashed file is kept for a year (a new build has new names); anything
 * else is revalidated.
 */
export function cacheControl(name: string): string {
  if (HASHED.test(name)) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

/** A path that would leave the bundle's folder, or that no file of it could have. */
export class AssetPathError extends Error {
  override readonly name = 'AssetPathError';
  constructor(
    readonly urlPath: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The file a URL path names, relative to the bundle's folder: `/` is
 * index.html. Percent-escapes are decoded first, so `%2e%2e` and `%2f`
 * are caught too; a `..` or `.` segment, a backslash, a NUL or an empty
 * segment (but a trailing slash) is refused.
 */
export function assetName(urlPath: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    throw new AssetPathError(urlPath, `${urlPath} is not a valid URL path (a bad percent-escape)`);
  }
  if (!decoded.startsWith('/')) throw new AssetPathError(urlPath, `${urlPath} does not start with /`);
  if (decoded === '/') return 'index.html';
  if (decoded.includes('\\') || decoded.includes('\0')) throw new AssetPathError(urlPath, `${urlPath} holds a backslash or NUL`);
  const segments = decoded.slice(1).split('/');
  // A trailing slash names a folder, which is no file (loadAsset finds none); an empty segment elsewhere is refused.
  if (segments.some((s, i) => (s === '' && i < segments.length - 1) || s === '.' || s === '..')) throw new AssetPathError(urlPath, `${urlPath} has an empty, . or .. segment`);
  return segments.join('/');
}

export interface WebAsset {
  /** Relative to the bundle's folder. */
  name: string;
  contentType: string;
  cacheControl: string;
  body: Buffer;
}

/**
 * The file for a URL path, or undefined when there is none (a folder is
 * none either). Throws AssetPathError for a path that is refused.
 */
export async function loadAsset(urlPath: string, dir: string = webDistDir()): Promise<WebAsset | undefined> {
  const name = assetName(urlPath);
  const base = resolve(dir);
  const path = join(base, ...name.split('/'));
  // assetName's rules already keep it inside; this is the second lock.
  if (!path.startsWith(base + sep)) throw new AssetPathError(urlPath, `${urlPath} leaves the web UI's folder`);
  try {
    if (!(await stat(path)).isFile()) return undefined;
    return { name, contentType: contentType(name), cacheControl: cacheControl(name), body: await readFile(path) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}
