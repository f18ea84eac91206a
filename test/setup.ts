// libp2p needs Promise.withResolvers, which Node 20 lacks: load it before any test module.
import '../src/polyfill.js'

// Daemons started by tests (and their children) join the peer network on loopback only, on a free port.
process.env.OPENHASH_NETWORK_HOST = '127.0.0.1'
process.env.OPENHASH_NETWORK_PORT = '0'
