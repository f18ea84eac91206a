// Lint: neostandard (the standard style, TypeScript-aware) over src, bin, test, bench; `npm run lint`, part of `npm test`.
import neostandard from 'neostandard'

export default [
  // spec-examples are third-party client code, kept as the spec gives it
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'ui/dist/**', 'test/fixtures/**'] }),
  {
    rules: {
      // `void promise` marks a deliberate fire-and-forget (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      // the wire and JSON formats are snake_case (the REST spec's field names): destructuring and properties keep them
      camelcase: ['error', { properties: 'never', ignoreDestructuring: true, ignoreImports: true }],
      // loops that wait on flags set by callbacks or other tasks (async code) are flagged wrongly
      'no-unmodified-loop-condition': 'off',
      // `for (const x of iterable) return x` takes the first item of an iterator without draining it
      'no-unreachable-loop': 'off'
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed names are deliberately unused (a key split off, an argument a callback must take)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }]
    }
  }
]
