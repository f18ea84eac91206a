/**
 * A real browser for the UI tests: Debian's chromium driven by playwright-core
 * (a driver only: no browser is downloaded), a fresh user-data-dir, and a
 * watcher per page that collects console errors, page errors, failed requests
 * and answers >= 400 that the test did not expect.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface Browser { context: BrowserContext, close: () => Promise<void> }

export async function launch (): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'openhash-ui-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, viewport: { width: 1280, height: 900 } })
  return {
    context,
    async close () {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
  }
}

export interface Watch {
  /** Everything that went wrong on the page so far (empty is good). */
  problems: string[]
  /** Every request the page made (method and URL). */
  requests: string[]
  /** Statuses the test expects (e.g. 401 before a token); others >= 400 are problems. */
  allow: (status: number, path?: RegExp) => void
}

export function watch (page: Page): Watch {
  const problems: string[] = []
  const requests: string[] = []
  const allowed: Array<{ status: number, path?: RegExp }> = []
  page.on('console', (m) => {
    if (m.type() !== 'error') return
    // Chromium logs every answer >= 400 as "Failed to load resource"; an expected one is no problem
    const status = /status of (\d{3})/.exec(m.text())?.[1]
    if (status !== undefined && allowed.some(a => a.status === Number(status) && (a.path === undefined || a.path.test(m.location().url === '' ? '' : new URL(m.location().url).pathname)))) return
    problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`))
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`))
  page.on('response', (r) => {
    if (r.status() < 400) return
    const path = new URL(r.url()).pathname
    if (allowed.some(a => a.status === r.status() && (a.path === undefined || a.path.test(path)))) return
    problems.push(`response ${r.status()}: ${r.request().method()} ${r.url()}`)
  })
  return { problems, requests, allow: (status, path) => { allowed.push({ status, path }) } }
}
