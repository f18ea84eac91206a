/**
 * The web UI in a real browser (chromium through playwright-core) against real
 * daemons (bin/openhash over dist/, loopback, temp data dirs): uploads of a
 * file and of a nested folder through the pickers (hashes checked against
 * node:crypto and `openhash add` of the same tree), browsing into the folder,
 * pin with a priority and unpin, token create → the secret works with curl →
 * revoke → 401, the auth-on flow (token screen, a wrong token, bounded
 * requests), and every page with no console error and no failed request,
 * screenshotted light and dark at 1280 and 375 px into test-results/ui/.
 * Needs `npm run build` (npm test runs it first) and /usr/bin/chromium.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, ROOT } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { tempDir } from '../helpers/tmp.js'
import type { Browser, Watch } from './browser.js'
import { launch, watch } from './browser.js'

const run = promisify(execFile)
const SHOTS = join(ROOT, 'test-results', 'ui')
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** `openhash add <path>` in a data dir of its own (no daemon there): the hash the CLI gives. */
async function cliAdd (path: string, dataDir: string): Promise<string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: '/dev/null', OPENHASH_DATA_DIR: dataDir }
  const { stdout } = await run(process.execPath, [BIN, 'add', path, '--json'], { env, cwd: ROOT })
  return (JSON.parse(stdout) as { hash: string }).hash
}

async function curl (url: string, token: string): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, url])
  return Number(stdout)
}

/** A full load of the page (a hash-only change would be a same-document navigation, for which networkidle means nothing). */
async function open (page: Page, url: string): Promise<void> {
  await page.goto('about:blank')
  await page.goto(url)
  await page.waitForLoadState('networkidle')
}

describe('web UI in chromium', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let daemon: DaemonProcess
  let browser: Browser
  let adminToken: string
  const hashes: { file?: string, folder?: string } = {}
  /** A second daemon, connected through the Network page (then a replica holder for the Pins page). */
  let other: DaemonProcess | undefined
  let otherPeer = ''

  beforeAll(async () => {
    dir = await tempDir('openhash-ui-')
    await mkdir(SHOTS, { recursive: true })
    daemon = await startDaemon(join(dir.path, 'node'))
    adminToken = (await readFile(join(dir.path, 'node', 'admin.token'), 'utf8')).trim()
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await other?.stop()
    await daemon?.stop()
    await dir?.cleanup()
  })

  async function newPage (): Promise<{ page: Page, w: Watch }> {
    const page = await browser.context.newPage()
    return { page, w: watch(page) }
  }

  it('uploads a file through the file picker: its hash is the SHA-256 of its bytes', async () => {
    const bytes = Buffer.concat([Buffer.from('hello from the web UI\n'), createHash('sha512').update('x').digest()])
    const file = join(dir.path, 'hello-ui.txt')
    await writeFile(file, bytes)
    const { page, w } = await newPage()
    await open(page, `${daemon.url}/ui/#/upload`)
    await page.setInputFiles('#pick-files', file)
    const job = page.locator('li.job[data-name="hello-ui.txt"]')
    await job.locator('a[data-hash]').waitFor()
    expect(await job.locator('.state').textContent()).toBe('done')
    hashes.file = await job.locator('a[data-hash]').getAttribute('data-hash') ?? ''
    expect(hashes.file).toBe(sha256(bytes))
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('uploads a nested folder through the folder picker: the hash is what `openhash add` gives; browsing into it', async () => {
    const tree = join(dir.path, 'site')
    await mkdir(join(tree, 'css', 'deep'), { recursive: true })
    await writeFile(join(tree, 'index.html'), '<!doctype html><title>site</title><p>hi</p>\n')
    await writeFile(join(tree, 'notes.txt'), 'notes\n')
    await writeFile(join(tree, 'css', 'style.css'), 'p { color: red }\n')
    await writeFile(join(tree, 'css', 'deep', 'data.bin'), Buffer.alloc(300_000, 7))
    const expected = await cliAdd(tree, join(dir.path, 'cli'))
    const { page, w } = await newPage()
    await open(page, `${daemon.url}/ui/#/upload`)
    await page.setInputFiles('#pick-folder', tree)
    const job = page.locator('li.job[data-name="site"]')
    await job.locator('a[data-hash]').waitFor()
    hashes.folder = await job.locator('a[data-hash]').getAttribute('data-hash') ?? ''
    expect(hashes.folder).toBe(expected)
    // each file of the folder with its own bytes and progress
    expect(await job.getByTestId('files-done').textContent()).toContain('4 of 4 files sent')
    await job.locator('summary', { hasText: 'Each file' }).click()
    const big = job.locator('li[data-file="css/deep/data.bin"]')
    expect(await big.textContent()).toContain('293.0 KiB of 293.0 KiB')
    expect(await big.locator('progress').getAttribute('value')).toBe('100')
    expect(await job.locator('li[data-file]').count()).toBe(4)
    // into the folder, then css/, then deep/, and back through the breadcrumb
    await job.locator('a[data-hash]').click()
    await page.getByRole('link', { name: 'index.html', exact: true }).waitFor()
    await expect.poll(async () => await page.locator('h1').textContent()).toBe('site')
    await page.getByRole('link', { name: 'css/' }).click()
    await page.getByRole('link', { name: 'style.css' }).waitFor()
    await page.getByRole('link', { name: 'deep/' }).click()
    await page.getByRole('link', { name: 'data.bin' }).waitFor()
    expect(page.url()).toContain(`#/folders/${expected}/css/deep`)
    await page.locator('.crumbs').getByRole('link', { name: 'site' }).click()
    await page.getByRole('link', { name: 'notes.txt' }).waitFor()
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('the Files page searches names on the server (GET /list?q=), any case', async () => {
    const { page, w } = await newPage()
    await open(page, `${daemon.url}/ui/#/files`)
    await page.fill('#q', 'NoTeS')
    await page.getByRole('button', { name: 'Search' }).click()
    // the full list is there before the answer: wait for the one match
    await expect.poll(async () => await page.locator('tbody tr').count()).toBe(1)
    await page.getByRole('link', { name: 'notes.txt' }).waitFor()
    expect(w.requests.some(r => r.includes('/list?q=notes&limit=50'))).toBe(true)
    await expect.poll(async () => await page.getByTestId('files-note').textContent()).toContain('searched over the whole store')
    await page.fill('#q', 'no such name')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText('No stored name contains that.').waitFor()
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('pins a file with a priority and unpins it', async () => {
    const hash = hashes.file!
    const { page, w } = await newPage()
    await open(page, `${daemon.url}/ui/#/files/${hash}`)
    await page.fill('#prio', '7')
    await page.getByRole('button', { name: 'Pin', exact: true }).click()
    await expect.poll(async () => await page.getByTestId('pin-state').textContent()).toBe('pinned, priority 7')
    expect((await (await fetch(`${daemon.url}/pins`)).json() as Record<string, number>)[hash]).toBe(7)
    await page.getByRole('button', { name: 'Unpin' }).click()
    await expect.poll(async () => await page.getByTestId('pin-state').textContent()).toBe('not pinned')
    expect((await (await fetch(`${daemon.url}/pins`)).json() as Record<string, number>)[hash]).toBeUndefined()
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('connects to another daemon through the Network page form; an unreachable address shows the API\'s message', async () => {
    other = await startDaemon(join(dir.path, 'node2'))
    {
      const info = await (await fetch(`${other.url}/network`)).json() as { peer_id: string, addresses: string[] }
      otherPeer = info.peer_id
      const { page, w } = await newPage()
      w.allow(502, /^\/network\/connect$/)
      await open(page, `${daemon.url}/ui/#/network`)
      // a closed port: the daemon answers PEER_UNREACHABLE, shown as it says
      const closed = info.addresses[0].replace(/\/tcp\/\d+\//, '/tcp/1/')
      await page.fill('#connect-addr', closed)
      await page.getByRole('button', { name: 'Connect', exact: true }).click()
      await expect.poll(async () => await page.getByRole('alert').textContent()).toMatch(/could not connect to .+ \(PEER_UNREACHABLE\)/)
      await page.fill('#connect-addr', info.addresses[0])
      await page.getByRole('button', { name: 'Connect', exact: true }).click()
      await expect.poll(async () => await page.getByTestId('connect-result').textContent()).toContain(`Connected to ${info.peer_id}`)
      await page.getByTestId('peers').getByText(info.peer_id).waitFor()
      const net = await (await fetch(`${daemon.url}/network`)).json() as { peer_list: string[] }
      expect(net.peer_list).toContain(info.peer_id)
      await page.waitForLoadState('networkidle')
      expect(w.problems).toEqual([])
      await page.close()
    }
  })

  it('the Pins page shows each pin\'s copies and holders: the connected daemon becomes a holder', async () => {
    const hash = hashes.file!
    expect((await fetch(`${daemon.url}/pin/${hash}?priority=4`, { method: 'POST' })).status).toBe(200)
    const { page, w } = await newPage()
    await open(page, `${daemon.url}/ui/#/pins`)
    const row = page.locator(`tr[data-hash="${hash}"]`)
    // the page reloads itself while replication is under way (the factor is 3; two daemons give 2 copies)
    await row.locator(`[data-testid="holders"] li[title="${otherPeer}"]`).waitFor({ timeout: 40_000 })
    expect(await row.getByTestId('copies').textContent()).toBe('2 / 3')
    const st = (await (await fetch(`${daemon.url}/pins/status`)).json() as Record<string, { replication: { holders: string[] } }>)[hash]
    expect(st.replication.holders).toEqual([otherPeer])
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('tokens: admin token on the token screen, create → the secret works with curl → revoke → 401', async () => {
    const { page, w } = await newPage()
    w.allow(401, /^\/tokens$/) // /tokens needs an admin token even with auth off: the token screen
    await open(page, `${daemon.url}/ui/#/tokens`)
    await page.getByText('The daemon needs a token').waitFor()
    await page.fill('#token', adminToken)
    await page.getByRole('button', { name: 'Use this token' }).click()
    await page.getByText('Scopes:').waitFor()
    expect(await page.locator('.tag').allTextContents()).toEqual(['admin'])
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.fill('#t-name', 'ci-token')
    await page.getByRole('button', { name: 'Create token' }).click()
    const secret = (await page.getByTestId('secret').textContent() ?? '').replace(/Cop(y|ied)$/, '').trim()
    expect(secret).toMatch(/^ohk_[0-9a-f]{16}_/)
    expect(await curl(`${daemon.url}/tokens/self`, secret)).toBe(200)
    const row = page.locator('tr', { hasText: 'ci-token' })
    await row.getByRole('button', { name: 'Revoke' }).click()
    await row.getByText('revoked').waitFor()
    expect(await curl(`${daemon.url}/tokens/self`, secret)).toBe(401)
    await row.getByRole('button', { name: 'Reactivate' }).click()
    await row.getByText('active').waitFor()
    expect(await curl(`${daemon.url}/tokens/self`, secret)).toBe(200)
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('every page: no console error, no failed request; screenshots light and dark at 1280 and 375 px', async () => {
    const pages: Array<[string, string]> = [
      ['dashboard', '#/'], ['files', '#/files'], ['file', `#/files/${hashes.file!}`], ['folder', `#/folders/${hashes.folder!}/css`],
      ['upload', '#/upload'], ['pins', '#/pins'], ['network', '#/network'], ['tokens', '#/tokens'], ['audit', '#/audit'], ['token', '#/connect']
    ]
    const { page, w } = await newPage()
    // the admin token for Tokens and Audit, as the token screen stores it
    await open(page, `${daemon.url}/ui/#/connect`)
    await page.evaluate((t) => { (globalThis as any).sessionStorage.setItem('openhash.token', t) }, adminToken)
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      for (const width of [1280, 375]) {
        await page.setViewportSize({ width, height: width === 1280 ? 900 : 800 })
        for (const [name, hash] of pages) {
          await open(page, `${daemon.url}/ui/${hash}`)
          await page.locator('h1').first().waitFor()
          await page.waitForLoadState('networkidle')
          await page.screenshot({ path: join(SHOTS, `${name}-${scheme}-${width}.png`), fullPage: true })
          expect(w.problems, `${name} ${scheme} ${width}`).toEqual([])
        }
      }
    }
    await page.close()
  })
})

describe('web UI with auth on', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let daemon: DaemonProcess
  let browser: Browser
  let adminToken: string
  beforeAll(async () => {
    dir = await tempDir('openhash-ui-auth-')
    daemon = await startDaemon(dir.path, { env: { OPENHASH_API_AUTH: 'on' } })
    adminToken = (await readFile(join(dir.path, 'admin.token'), 'utf8')).trim()
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await daemon?.stop()
    await dir?.cleanup()
  })

  it('the page loads without a token, asks for one, refuses a wrong one clearly with no request loop, then works', async () => {
    const page = await browser.context.newPage()
    const w = watch(page)
    w.allow(401)
    await open(page, `${daemon.url}/ui/`)
    await page.getByText('The daemon needs a token').waitFor()
    const api = (): string[] => w.requests.filter(r => !r.includes('/ui/'))
    const first = api().length
    expect(first).toBeLessThanOrEqual(4) // the dashboard's loads, each refused once
    await page.fill('#token', 'ohk_0123456789abcdef_not-a-real-secret')
    await page.getByRole('button', { name: 'Use this token' }).click()
    await page.getByText('This token was refused by the daemon').waitFor()
    await page.waitForLoadState('networkidle')
    expect(api().length).toBe(first + 1) // one check, no retry
    expect(await page.getByRole('alert').allTextContents()).toContainEqual(expect.stringMatching(/refused by the daemon: .+/))
    // the right one: scopes shown, then the pages work
    await page.fill('#token', adminToken)
    await page.getByRole('button', { name: 'Use this token' }).click()
    await page.getByText('Scopes:').waitFor()
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.getByRole('heading', { name: 'Storage' }).waitFor()
    await page.waitForLoadState('networkidle')
    for (const [hash, heading] of [['#/files', 'Files'], ['#/pins', 'Pins'], ['#/network', 'Network'], ['#/audit', 'Audit']]) {
      await open(page, `${daemon.url}/ui/${hash}`)
      await page.getByRole('heading', { name: heading, exact: true }).waitFor()
      await page.waitForLoadState('networkidle')
      await expect(page.getByText('The daemon needs a token').count()).resolves.toBe(0)
    }
    const bytes = Buffer.from('uploaded with a token\n')
    const file = join(dir.path, 'with-token.txt')
    await writeFile(file, bytes)
    await open(page, `${daemon.url}/ui/#/upload`)
    await page.setInputFiles('#pick-files', file)
    const link = page.locator('li.job a[data-hash]')
    await link.waitFor()
    expect(await link.getAttribute('data-hash')).toBe(sha256(bytes))
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })

  it('with auth on, downloads a file through a plain link carrying a download ticket (no Blob), and previews an image through one', async () => {
    const bytes = Buffer.from('downloaded through a ticket\n'.repeat(1000))
    const file = join(dir.path, 'ticketed.txt')
    await writeFile(file, bytes)
    // a 1x1 PNG
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64')
    const image = join(dir.path, 'dot.png')
    await writeFile(image, png)
    const page = await browser.context.newPage()
    const w = watch(page)
    await open(page, `${daemon.url}/ui/#/connect`)
    await page.evaluate((t) => { (globalThis as any).sessionStorage.setItem('openhash.token', t) }, adminToken)
    await open(page, `${daemon.url}/ui/#/upload`)
    await page.setInputFiles('#pick-files', [file, image])
    await page.locator('li.job[data-name="ticketed.txt"] a[data-hash]').waitFor()
    await page.locator('li.job[data-name="dot.png"] a[data-hash]').waitFor()
    // the ticket alone opens the file: no Authorization header on the download itself
    await open(page, `${daemon.url}/ui/#/files/${sha256(bytes)}`)
    const link = page.getByTestId('download')
    await link.waitFor()
    const href = await link.getAttribute('href') ?? ''
    expect(href).toMatch(new RegExp(`^/download/${sha256(bytes)}\\?ticket=t1\\.`))
    expect((await fetch(`${daemon.url}/download/${sha256(bytes)}`)).status).toBe(401)
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
    expect(download.url()).toBe(`${daemon.url}${href}`)
    const saved = await download.path()
    expect(sha256(await readFile(saved))).toBe(sha256(bytes))
    // a ticket is for its hash only
    expect((await fetch(`${daemon.url}/download/${sha256(png)}${href.slice(href.indexOf('?'))}`)).status).toBe(401)
    await open(page, `${daemon.url}/ui/#/files/${sha256(png)}`)
    const img = page.locator('img.preview')
    await img.waitFor()
    expect(await img.getAttribute('src')).toMatch(new RegExp(`^/view/${sha256(png)}\\?ticket=`))
    await expect.poll(async () => await img.evaluate((e) => (e as any).naturalWidth as number)).toBe(1)
    await page.waitForLoadState('networkidle')
    expect(w.problems).toEqual([])
    await page.close()
  })
})
