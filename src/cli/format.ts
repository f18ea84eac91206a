/**
 * Human output helpers, in the style of the API reference's CLI examples.
 */
import type { ContentInfo } from '../interface.js'

export function humanBytes (n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = -1
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return u < 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

export function sizeLine (n: number): string {
  return n >= 1024 * 1024 ? `${n} bytes (${humanBytes(n)})` : `${n} bytes`
}

export function icon (isDirectory: boolean): string {
  return isDirectory ? '📁' : '📄'
}

export function listItem (info: ContentInfo): string {
  return [
    `${icon(info.is_directory)} ${info.hash}`,
    `   Name: ${info.filename}`,
    `   Size: ${sizeLine(info.size)}`,
    `   Type: ${info.mime_type}`
  ].join('\n')
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-sh|x-yaml|yaml|toml|x-www-form-urlencoded)|image\/svg\+xml)/

export function isTextual (mime: string): boolean {
  return TEXTUAL.test(mime)
}
