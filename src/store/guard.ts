/**
 * Protections for work in progress (adds, directory imports): what gc and
 * eviction must not collect although nothing durable names it yet.
 */
import { bump } from './keys.js'

/** The repo's protections, all guards together (hash -> times taken), and the manifests of adds running. */
export class Protections {
  readonly chunks = new Map<string, number>()
  readonly objects = new Map<string, number>()
  readonly manifests = new Set<string>()
}

/**
 * Protections for work in progress: chunks written but not yet counted, and
 * objects created inside a directory import that the directory does not yet
 * reference. GC skips protected hashes.
 */
export class Guard {
  /** This guard's own protections, hash -> times taken (Protections counts all guards). */
  private readonly chunks = new Map<string, number>()
  private readonly objects: string[] = []
  constructor (private readonly all: Protections) {}

  protectChunk (h: string): void { bump(this.chunks, h); bump(this.all.chunks, h) }
  protectObject (h: string): void { this.objects.push(h); bump(this.all.objects, h) }
  get chunkHashes (): readonly string[] { return [...this.chunks.keys()] }
  get objectHashes (): readonly string[] { return this.objects }

  /** Drop protections taken earlier by this guard (each once: release() will not drop them again). */
  releaseChunks (hashes: readonly string[]): void {
    for (const h of hashes) {
      if (!this.chunks.has(h)) continue
      dropPending(this.chunks, h)
      dropPending(this.all.chunks, h)
    }
  }

  release (): void {
    for (const [h, n] of this.chunks) for (let i = 0; i < n; i++) dropPending(this.all.chunks, h)
    for (const h of this.objects) dropPending(this.all.objects, h)
    this.chunks.clear()
    this.objects.length = 0
  }
}

function dropPending (map: Map<string, number>, h: string): void {
  const n = (map.get(h) ?? 0) - 1
  if (n <= 0) map.delete(h)
  else map.set(h, n)
}
