/**
 * The route groups of the API, each a Hono sub-app whose routes declare their
 * scope, rate class and audit action (api/route.ts), and the table of all
 * those declarations that the middleware reads.
 */
import { RouteTable } from '../route.js'
import type { RateLimitClass } from '../middleware/rate-limit.js'
import { admin } from './admin.js'
import { content } from './content.js'
import { docs } from './docs.js'
import { metadata } from './metadata.js'
import { pins } from './pins.js'
import { statsHistory } from './stats-history.js'
import { system } from './system.js'
import { tickets } from './tickets.js'
import { ui } from './ui.js'
import { upload } from './upload.js'

/** In the order they are mounted (a path two groups match goes to the first). */
export const GROUPS = [system, statsHistory, upload, content, metadata, pins, admin, tickets, docs, ui]

export const ROUTES = new RouteTable(GROUPS)

/** The rate-limit class of a request, or undefined for what is never limited (OPTIONS, unknown paths, /health …). */
export function classify (method: string, path: string): RateLimitClass | undefined {
  const rate = ROUTES.resolve(method, path).rate
  return rate === 'none' ? undefined : rate
}
