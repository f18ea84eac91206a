import type { Command } from 'commander'
import { withNode } from '../context.js'
import { sizeLine } from '../format.js'

export function register (program: Command): void {
  program.command('stats')
    .description('storage statistics (counts, stored vs logical bytes, dedup)')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const s = await node.stats()
        print.result(s)
        const st = s.storage
        print.line('📊 Storage Statistics:')
        print.line(`   Content items: ${st.content_count} (${st.file_count} files, ${st.directory_count} directories)`)
        print.line(`   Chunks: ${st.chunk_count} (chunk size ${st.chunk_size} bytes, backend ${st.backend})`)
        print.line(`   Stored bytes: ${sizeLine(st.stored_bytes)}`)
        print.line(`   Logical bytes: ${sizeLine(st.logical_bytes)}`)
        print.line(`   Dedup ratio: ${st.dedup_ratio}`)
        if (st.disk_bytes !== undefined) print.line(`   On disk: ${sizeLine(st.disk_bytes)}`)
        // older daemons do not report the quota
        if (st.used_bytes !== undefined) {
          print.line(st.max_bytes > 0
            ? `   Used: ${sizeLine(st.used_bytes)} of ${sizeLine(st.max_bytes)} (${(st.used_bytes / st.max_bytes * 100).toFixed(1)}%, storage.max_bytes)`
            : `   Used: ${sizeLine(st.used_bytes)} (no quota: storage.max_bytes is 0)`)
          if (st.max_bytes > 0) print.line(`   Eviction: past ${Math.round(st.gc_high_water * 100)}% down to ${Math.round(st.gc_low_water * 100)}%; evicted ${st.evicted_objects} objects (${sizeLine(st.evicted_bytes)}) since start`)
        }
        const r = s.replication
        print.line(`   Pinned items: ${r.pinned_content}`)
        print.line('🔁 Replication:')
        print.line(`   Factor: ${r.replication_factor} (copies kept of each pin, this node's included)`)
        if (r.replicated !== undefined) {
          print.line(`   Pins replicated: ${r.replicated}, pending: ${r.pending_requests}, in progress: ${r.in_progress ?? 0}, failed: ${r.failed ?? 0}`)
          print.line(`   Held for peers: ${r.replicas_held ?? 0} item(s), ${sizeLine(r.replica_bytes ?? 0)}`)
        }
      })
    })
}
