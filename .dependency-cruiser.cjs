// Architecture rules, checked by `npm run arch` (and in CI). See README § Layout.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycle anywhere, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'client-only-through-shared',
      severity: 'error',
      comment: 'towerctl talks to towerd over the protocol; of daemon/ it may import daemon/shared/ only.',
      from: { path: '^client/' },
      to: { path: '^daemon/', pathNot: '^daemon/shared/' },
    },
    {
      name: 'shared-stands-alone',
      severity: 'error',
      comment: 'daemon/shared/ is what client and daemon both need that is no schema: no zod, nothing else of the daemon.',
      from: { path: '^daemon/shared/' },
      to: { path: ['^daemon/(?!shared/)', '^protocol/', 'node_modules/zod'] },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'protocol/ is the single definition of the API: it imports neither the daemon nor the client.',
      from: { path: '^protocol/' },
      to: { path: '^(daemon|client)/' },
    },
    {
      name: 'rpc-types-in-rpc',
      severity: 'error',
      comment: 'Only daemon/core/rpc/ knows JSON-RPC errors; features throw TowerError (daemon/core/errors.ts).',
      from: { path: '^daemon/', pathNot: '^daemon/core/rpc/' },
      to: { path: 'node_modules/json-rpc-2.0' },
    },
    {
      name: 'features-do-not-import-each-other',
      severity: 'error',
      comment: 'A feature uses another only through a port declared in daemon/core/ports.ts, handed over in daemon/features.ts.',
      from: { path: '^daemon/features/([^/]+)/' },
      to: { path: '^daemon/features/', pathNot: '^daemon/features/$1/' },
    },
    {
      name: 'core-does-not-know-features',
      severity: 'error',
      comment: 'Only the feature list (daemon/features.ts) names the features.',
      from: { path: '^daemon/', pathNot: ['^daemon/features/', '^daemon/features\\.ts$'] },
      to: { path: '^daemon/features/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.cjs', '.mjs'] },
  },
};
