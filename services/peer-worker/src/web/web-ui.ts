import { AssetPathError, loadAsset, webDistDir } from '@seedbox/web';
import type { WebApi } from './web-api.js';
import { text, type WebResponse } from './web-request.js';

/**
 * The web UI's files (packages/web's bundle) at `/`: the last API in the
 * server's list, so every path the APIs do not take comes here. The
 * files are public, as qBittorrent serves its login page to anyone: the
 * page holds no data, and everything it shows comes from /api/v2/,
 * which asks for the login.
 */

export interface WebUiOptions {
  /** The bundle's folder (default: @seedbox/web's dist/). */
  dir?: string;
}

/** Headers of every file: no guessing of types, no framing by other sites, and the page may load only its own files. */
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
};

export function createWebUi(o: WebUiOptions = {}): WebApi {
  const dir = o.dir ?? webDistDir();
  return {
    prefix: '/',
    async handle(req): Promise<WebResponse> {
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      let asset;
      try {
        asset = await loadAsset(req.path, dir);
      } catch (e) {
        if (e instanceof AssetPathError) return text(400, 'Bad Request');
        throw e;
      }
      if (!asset) {
        if (req.path === '/') return text(404, 'The web UI is not built: run `npm run build` (it bundles packages/web into its dist/ folder)');
        return text(404, 'Not Found');
      }
      return { status: 200, headers: { 'Content-Type': asset.contentType, 'Cache-Control': asset.cacheControl, ...SECURITY_HEADERS }, body: asset.body };
    },
  };
}
