/**
 * The web UI (ui/, built by Vite into dist/ui) served by the daemon at /ui/,
 * same origin as the API. The assets are static and public (`scope: 'none'`,
 * never rate-limited): the page itself holds no data, and asks for a token
 * when the API answers 401. Every answer under /ui carries a strict CSP of its
 * own (no inline script, nothing from elsewhere); hashed assets are cached
 * immutably, index.html is revalidated. The UI routes with the URL hash
 * (`/ui/#/files`), so any other path under /ui/ answers index.html.
 * `GET /` sends browsers (Accept: text/html) to /ui/ and API clients the
 * usual JSON 404.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import mime from 'mime-types'
import { packageRoot } from '../../config.js'
import { RouteNotFoundError } from '../../errors.js'
import type { C } from '../route.js'
import { Routes } from '../route.js'

/** The CSP of the UI's own pages; /view keeps its sandboxed one (http-content.ts). */
export const UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const IMMUTABLE = 'public, max-age=31536000, immutable'
/** A file name Vite writes (no separators, no dot-dot). */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$/

let root: string | undefined
const uiDir = (): string => (root ??= join(packageRoot(), 'dist', 'ui'))

function headers (type: string, cache: string): Record<string, string> {
  return {
    'Content-Type': type,
    'Cache-Control': cache,
    'Content-Security-Policy': UI_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY'
  }
}

async function fileOrUndefined (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined
    throw err
  }
}

async function indexPage (c: C): Promise<Response> {
  const body = await fileOrUndefined(join(uiDir(), 'index.html'))
  if (body === undefined) throw new RouteNotFoundError('the web UI is not built: run "npm run build" (dist/ui/index.html is missing)', { path: c.req.path })
  return c.body(new Uint8Array(body), 200, headers('text/html; charset=utf-8', 'no-cache'))
}

/** A file of dist/ui (or of one of its folders) by its bare name. */
async function asset (c: C, dir: string, name: string, cache: string): Promise<Response | undefined> {
  if (!SAFE_NAME.test(name)) return undefined
  const body = await fileOrUndefined(join(uiDir(), dir, name))
  if (body === undefined) return undefined
  const type = mime.contentType(name) || 'application/octet-stream'
  return c.body(new Uint8Array(body), 200, headers(type, cache))
}

export const ui = new Routes()

ui.route({ method: 'GET', path: '/', scope: 'none', rate: 'none', audit: 'none' }, (c) => {
  const accept = c.req.header('accept') ?? ''
  if (/\btext\/html\b/i.test(accept)) return c.redirect('/ui/', 302)
  throw new RouteNotFoundError(`no such endpoint: ${c.req.method} ${c.req.path} (the web UI is at /ui/)`, { path: c.req.path })
})

ui.route({ method: 'GET', path: '/ui', scope: 'none', rate: 'none', audit: 'none' }, (c) => c.redirect('/ui/', 301))

ui.route({ method: 'GET', path: '/ui/assets/:name', scope: 'none', rate: 'none', audit: 'none' }, async (c) => {
  const name = c.req.param('name') ?? ''
  const found = await asset(c, 'assets', name, IMMUTABLE)
  if (found !== undefined) return found
  throw new RouteNotFoundError(`no such UI asset: ${name}`, { path: c.req.path })
})

/** index.html for /ui/ and any client path; a top-level file of dist/ui (favicon) as itself. */
ui.route({ method: 'GET', path: '/ui/*', scope: 'none', rate: 'none', audit: 'none' }, async (c) => {
  const rest = c.req.path.slice('/ui/'.length)
  if (rest !== '' && rest !== 'index.html' && !rest.includes('/')) {
    const found = await asset(c, '.', rest, 'public, max-age=3600')
    if (found !== undefined) return found
  }
  return await indexPage(c)
})
