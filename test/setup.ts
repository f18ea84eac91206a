// libp2p needs Promise.withResolvers, which Node 20 lacks: load it before any test module.
import '../src/polyfill.js'
