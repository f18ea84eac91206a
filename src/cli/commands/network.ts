import type { Command } from 'commander'
import { withNode } from '../context.js'

export function register (program: Command): void {
  program.command('network')
    .description('peer network state: peer id, addresses, connected peers, DHT routing table (needs a running daemon)')
    .action(async (_opts, cmd: Command) => {
      await withNode(cmd, async ({ node, print }) => {
        const n = await node.network()
        print.result(n)
        if (n.peer_id === '') {
          print.line('🌐 Peer network: off (no daemon with the network holds this data directory; start one with `openhash daemon`)')
          return
        }
        print.line('🌐 Network Status:')
        print.line(`   Peer ID: ${n.peer_id}`)
        print.line(`   Addresses (${n.addresses.length}):`)
        for (const a of n.addresses) print.line(`     ${a}`)
        print.line(`   Connected peers: ${n.connected_peers}`)
        for (const p of n.peer_list) print.line(`     ${p}`)
        print.line(`   DHT: ${n.dht.enabled ? `enabled (${n.dht.mode ?? 'server'} mode)` : 'disabled'}, ${n.dht.peer_count} peer${n.dht.peer_count === 1 ? '' : 's'} in the routing table`)
        for (const b of n.dht.bucket_info) print.line(`     bucket ${b.prefix === '' ? '(root)' : b.prefix} depth ${b.depth}: ${b.peers} peer${b.peers === 1 ? '' : 's'}`)
      })
    })
}
