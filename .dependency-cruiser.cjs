// The dependency rules of src/ (docs/architecture.md "Dependency rules"): dependencies point one way,
// cli/api -> node interface -> net, content -> store -> format. `npm run lint:deps`, part of `npm test`.
module.exports = {
  forbidden: [
    {
      name: 'format-is-a-leaf',
      comment: 'src/format holds pure codecs: it imports only src/errors.ts (and packages)',
      severity: 'error',
      from: { path: '^src/format/' },
      to: { path: '^src/', pathNot: ['^src/format/', '^src/errors\\.ts$'] }
    },
    {
      name: 'store-below-content',
      comment: 'the store knows nothing of content, the network, the API, the CLI, auth or the composition root',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: ['^src/(content|net|api|cli|client|auth)/', '^src/(node|daemon|index)\\.ts$'] }
    },
    {
      name: 'api-through-the-interface',
      comment: 'the HTTP API talks to the node through its interface, never to the store or the network',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: ['^src/(store|net)/'] }
    },
    {
      name: 'content-below-net',
      comment: 'importing and exporting know nothing of the network, the API or the CLI',
      severity: 'error',
      from: { path: '^src/content/' },
      to: { path: ['^src/(net|api|cli)/'] }
    },
    {
      name: 'net-below-api',
      comment: 'the peer network knows nothing of the HTTP API or the CLI',
      severity: 'error',
      from: { path: '^src/net/' },
      to: { path: ['^src/(api|cli)/'] }
    },
    {
      name: 'client-is-http-only',
      comment: 'the typed HTTP client knows the node interface, not the store, the network, the API server or the CLI (content/ only for planning a local folder upload)',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: ['^src/(store|net|api|cli)/', '^src/(node|daemon)\\.ts$'] }
    },
    {
      name: 'no-circular',
      comment: 'no import cycles between modules at run time (a cycle of type-only imports is harmless and not counted)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] }
  }
}
