/**
 * The API reference's own examples, unmodified, against a real daemon on
 * its documented address (localhost:8080): the curl workflow, the Python
 * example (requests) and the Node.js example (axios + form-data). The
 * example programs are copied verbatim into test/fixtures/spec-examples.
 */
import { execFile } from 'node:child_process'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { ROOT, sha256sum } from '../helpers/cli.js'
import { prng, tempDir } from '../helpers/tmp.js'

const execFileP = promisify(execFile)
const FIXTURES = join(ROOT, 'test', 'fixtures', 'spec-examples')
const BASE = 'http://localhost:8080'

let daemon: DaemonProcess
let data: { path: string, cleanup: () => Promise<void> }
let work: { path: string, cleanup: () => Promise<void> }

beforeAll(async () => {
  data = await tempDir('openhash-spec-')
  work = await tempDir('openhash-spec-work-')
  // the examples hard-code localhost:8080, the daemon's default address
  daemon = await startDaemon(data.path, { args: ['--api-port', '8080'] })
  expect(daemon.url).toBe('http://127.0.0.1:8080')
  await writeFile(join(work.path, 'example.txt'), prng(11)(300_000))
  await writeFile(join(work.path, 'document.pdf'), '%PDF-1.4\n% test document\n')
  await writeFile(join(work.path, 'myfile.txt'), 'my file\n')
})

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0)
  await data?.cleanup()
  await work?.cleanup()
})

async function curl (args: string[]): Promise<string> {
  const { stdout } = await execFileP('curl', ['-sS', '--fail-with-body', ...args], { cwd: work.path, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

describe('the reference examples work unmodified', () => {
  it('curl: upload, info, download, pin (Complete Upload and Download Workflow)', async () => {
    const up = JSON.parse(await curl(['-X', 'POST', '-F', 'file=@example.txt', `${BASE}/upload/file`]))
    const expected = await sha256sum(join(work.path, 'example.txt'))
    expect(up).toMatchObject({ hash: expected, size: 300_000, filename: 'example.txt', message: 'File uploaded successfully' })
    const info = JSON.parse(await curl(['-X', 'GET', `${BASE}/info/${up.hash}`]))
    expect(info).toMatchObject({ hash: expected, filename: 'example.txt', size: 300_000, is_directory: false })
    await curl(['-X', 'GET', `${BASE}/download/${up.hash}`, '-o', 'downloaded_example.txt'])
    expect(await sha256sum(join(work.path, 'downloaded_example.txt'))).toBe(expected)
    const pin = JSON.parse(await curl(['-X', 'POST', `${BASE}/pin/${up.hash}?priority=10`]))
    expect(pin).toEqual({ hash: expected, priority: 10, state: 'pinned', message: 'Content pinned successfully' })
  })

  it('curl: the endpoint sections\' examples', async () => {
    const up = JSON.parse(await curl(['-X', 'POST', '-F', 'file=@document.pdf', `${BASE}/upload/file`]))
    expect(up.filename).toBe('document.pdf')
    const view = await curl(['-X', 'GET', `${BASE}/view/${up.hash}`])
    expect(view).toBe('%PDF-1.4\n% test document\n')
    const pinned = JSON.parse(await curl(['-X', 'POST', `${BASE}/pin/${up.hash}?priority=5`]))
    expect(pinned.priority).toBe(5)
    const unpinned = JSON.parse(await curl(['-X', 'DELETE', `${BASE}/unpin/${up.hash}`]))
    expect(unpinned).toMatchObject({ hash: up.hash, message: 'Content unpinned successfully' })
    const my = JSON.parse(await curl(['-X', 'POST', '-F', 'file=@myfile.txt', `${BASE}/upload/file`]))
    expect(my.hash).toBe(await sha256sum(join(work.path, 'myfile.txt')))
    const list = JSON.parse(await curl([`${BASE}/list`]))
    expect(list.map((i: any) => i.hash)).toContain(my.hash)
    const network = JSON.parse(await curl([`${BASE}/network`]))
    expect(network.connected_peers).toBe(0)
    expect(JSON.parse(await curl([`${BASE}/health`])).status).toBe('healthy')
  })

  it('Python example (requests)', async () => {
    await copyFile(join(FIXTURES, 'example.py'), join(work.path, 'example.py'))
    const { stdout } = await execFileP('python3', ['example.py'], { cwd: work.path })
    expect(stdout).toMatch(/^Uploaded: \{/m)
    expect(stdout).toMatch(/"ref_count": 1/)
    expect(stdout).toMatch(/^Pinned: .*'priority': 5/m)
    expect(stdout).toMatch(/^Downloaded successfully$/m)
    expect(stdout).not.toMatch(/^Error/m)
    expect(await sha256sum(join(work.path, 'downloaded_example.txt'))).toBe(await sha256sum(join(work.path, 'example.txt')))
  })

  it('Node.js example (axios + form-data)', async () => {
    await copyFile(join(FIXTURES, 'example.cjs'), join(work.path, 'example.cjs'))
    const { stdout, stderr } = await execFileP(process.execPath, ['example.cjs'], { cwd: work.path, env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } })
    expect(stderr).toBe('')
    expect(stdout).toMatch(/Uploaded:/)
    expect(stdout).toMatch(/Downloaded successfully/)
    const a = await readFile(join(work.path, 'downloaded.txt'))
    expect(a.equals(await readFile(join(work.path, 'example.txt')))).toBe(true)
  })
})
