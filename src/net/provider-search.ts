/**
 * The providers of one fetch, as the DHT search and the neighbour probe
 * find them: the first one makes the search ready, later ones join the
 * transfer while it runs, and a provider that misbehaves is dropped.
 */
import type { ExchangeSession, ObjectMessage } from './exchange.js'

export interface Provider {
  peer: string
  session: ExchangeSession
  alive: boolean
  /** OBJECT answers already received from this provider, by hash. */
  metas: Map<string, ObjectMessage>
}

/** Providers of one fetch: the first one makes it ready; later ones join while it runs. */
export class ProviderSearch {
  readonly list: Provider[] = []
  /** Peers that answered but were refused (malformed or oversized metadata), with why. */
  readonly rejected: string[] = []
  closed = false
  finished = false
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private readonly joinListeners: Array<(p: Provider) => void> = []
  private readonly closeListeners: Array<() => void> = []
  private readonly finishListeners: Array<() => void> = []
  private waiters: Array<() => void> = []

  constructor () { this.ready = new Promise(resolve => { this.resolveReady = resolve }) }

  add (p: Provider): void {
    this.list.push(p)
    this.resolveReady()
    for (const l of [...this.joinListeners]) l(p)
    for (const w of this.waiters.splice(0)) w()
  }

  /** The search ended (with or without providers). */
  finish (): void {
    this.finished = true
    this.resolveReady()
    for (const l of this.finishListeners.splice(0)) l()
    for (const w of this.waiters.splice(0)) w()
  }

  onFinish (listener: () => void): () => void {
    this.finishListeners.push(listener)
    return () => { const i = this.finishListeners.indexOf(listener); if (i >= 0) this.finishListeners.splice(i, 1) }
  }

  /** Resolves when another provider joins, or the search ends. */
  async next (): Promise<void> { await new Promise<void>(resolve => this.waiters.push(resolve)) }

  onJoin (listener: (p: Provider) => void): () => void {
    this.joinListeners.push(listener)
    return () => { const i = this.joinListeners.indexOf(listener); if (i >= 0) this.joinListeners.splice(i, 1) }
  }

  onClose (listener: () => void): void { this.closeListeners.push(listener) }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.resolveReady()
    for (const l of this.closeListeners.splice(0)) l()
    for (const w of this.waiters.splice(0)) w()
  }
}

/** Wakes every waiter at each change (a condition variable for the transfer's tasks). */
export class Notifier {
  private waiters: Array<() => void> = []
  notify (): void { for (const w of this.waiters.splice(0)) w() }
  async wait (): Promise<void> { await new Promise<void>(resolve => this.waiters.push(resolve)) }
}

/** The providers still usable. */
export function alive (providers: Provider[]): Provider[] { return providers.filter(p => p.alive && !p.session.closed) }
