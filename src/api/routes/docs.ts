/**
 * API documentation served by the daemon: the OpenAPI 3 document kept in
 * docs/openapi.json at /openapi.json, and Swagger UI (swagger-ui-dist) at /docs.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, normalize } from 'node:path'
import { packageRoot } from '../../config.js'
import { RouteNotFoundError } from '../../errors.js'
import { Routes } from '../route.js'

const require = createRequire(import.meta.url)

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png'
}

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>OpenHashDB API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' })
`

let openapi: string | undefined

/** absolute-path.js only: the package's main module loads the whole UI bundle */
let dist: string | undefined
const distDir = (): string => (dist ??= (require('swagger-ui-dist/absolute-path.js') as () => string)())

export const docs = new Routes()

docs.route({ method: 'GET', path: '/openapi.json', scope: 'none', rate: 'none', audit: 'none' }, async (c) => {
  openapi ??= await readFile(join(packageRoot(), 'docs', 'openapi.json'), 'utf8')
  return c.body(openapi, 200, { 'Content-Type': 'application/json; charset=utf-8' })
})

docs.route({ method: 'GET', path: '/docs', scope: 'none', rate: 'none', audit: 'none' }, (c) => c.html(PAGE))

docs.route({ method: 'GET', path: '/docs/init.js', scope: 'none', rate: 'none', audit: 'none' }, (c) => c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }))

docs.route({ method: 'GET', path: '/docs/:asset', scope: 'none', rate: 'none', audit: 'none' }, async (c) => {
  const name = c.req.param('asset') ?? ''
  const type = ASSETS[name]
  if (type === undefined) throw new RouteNotFoundError(`no such documentation asset: ${name}`)
  const body = await readFile(normalize(join(distDir(), name)))
  return c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' })
})
