/** Small shared pieces: formatting, the copy button, the error and empty-state boxes, the hash router. */
import { useEffect, useState } from 'preact/hooks'
import type { ComponentChildren } from 'preact'
import { ApiError } from './api.js'

export function bytes (n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export function when (iso: string | undefined): string {
  if (iso === undefined) return '–'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString()
}

export const short = (h: string): string => h.length > 16 ? `${h.slice(0, 8)}…${h.slice(-6)}` : h

export function messageOf (err: unknown): string {
  if (err instanceof ApiError) return err.code.startsWith('HTTP_') || err.code === 'NETWORK' || err.code === 'CANCELLED' ? err.message : `${err.message} (${err.code})`
  if (err instanceof Error) return err.message
  return String(err)
}

async function copyText (text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
  } catch {
    const area = document.createElement('textarea')
    area.value = text
    document.body.append(area)
    area.select()
    document.execCommand('copy')
    area.remove()
  }
}

export function Copy ({ text, label }: { text: string, label?: string }) {
  const [done, setDone] = useState(false)
  return (
    <button
      type='button' class='small' aria-label={`Copy ${label ?? text}`}
      onClick={() => { void copyText(text).then(() => { setDone(true); setTimeout(() => setDone(false), 1500) }) }}
    >{done ? 'Copied' : 'Copy'}
    </button>
  )
}

export function ErrorBox ({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null
  return <p class='error' role='alert'>{messageOf(error)}</p>
}

export function Empty ({ children }: { children: ComponentChildren }) {
  return <div class='empty'>{children}</div>
}

/** The part of the URL after `#`, split on `/` (`#/files/abc` → ['files', 'abc']). */
export function useRoute (): string[] {
  const read = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter(s => s !== '').map(decodeURIComponent)
  const [route, setRoute] = useState(read)
  useEffect(() => {
    const on = (): void => setRoute(read())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

/** Loads `fn()` when `deps` change; `reload()` runs it again. */
export function useLoad<T> (fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data?: T, error?: unknown, loading: boolean, reload: () => void } {
  const [state, setState] = useState<{ data?: T, error?: unknown, loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    // a page left while loading lets its small JSON requests finish and drops their answers
    // (aborting them would show as failed requests and buys nothing)
    let gone = false
    setState(s => ({ ...s, loading: true }))
    fn(new AbortController().signal).then(data => { if (!gone) setState({ data, loading: false }) },
      error => { if (!gone) setState(s => ({ data: s.data, error, loading: false })) })
    return () => { gone = true }
  }, [...deps, tick])
  return { ...state, reload: () => setTick(t => t + 1) }
}
