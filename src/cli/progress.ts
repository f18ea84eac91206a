/**
 * A progress bar on stderr, drawn only when stderr is a terminal. A folder
 * add also shows its files (done / in all).
 */
import type { ProgressEvent } from '../interface.js'
import { humanBytes } from './format.js'

export interface ProgressBar {
  onProgress?: (evt: ProgressEvent) => void
  done(): void
}

const WIDTH = 30

/** One line of the bar for `evt`, `secs` after the start. */
export function progressLine (label: string, evt: ProgressEvent, secs: number): string {
  const bytes = evt.bytes ?? 0
  const rate = `${humanBytes(bytes / Math.max(0.001, secs))}/s`
  const files = evt.files_total !== undefined && evt.files_total > 1
    ? ` ${(evt.files ?? 0).toLocaleString('en-US')}/${evt.files_total.toLocaleString('en-US')} files`
    : ''
  const total = evt.total
  if (total === undefined || total <= 0) return `${label} ${humanBytes(bytes)}${files} ${rate}`
  const frac = Math.min(1, bytes / total)
  const fill = Math.round(frac * WIDTH)
  return `${label} [${'█'.repeat(fill)}${'░'.repeat(WIDTH - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${humanBytes(bytes)} / ${humanBytes(total)}${files} ${rate}`
}

export function progressBar (label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (stream.isTTY !== true) return { done () {} }
  const started = Date.now()
  let last = 0
  let drawn = false
  return {
    onProgress (evt) {
      const now = Date.now()
      if (evt.bytes === undefined || now - last < 100) return
      last = now
      stream.write(`\r\x1b[2K${progressLine(label, evt, (now - started) / 1000)}`)
      drawn = true
    },
    done () {
      if (drawn) stream.write('\r\x1b[2K')
    }
  }
}
