import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Unit tests import workspace packages from source, so they run without a build.
// End-to-end tests (test/) spawn the built edge451 binary: `pnpm test` builds first.
const sourceAliases = {
  '@edge451/policy': here('./packages/policy/src/index.ts'),
  '@edge451/geo': here('./packages/geo/src/index.ts'),
  '@edge451/cache': here('./packages/cache/src/index.ts'),
  '@edge451/edge': here('./packages/edge/src/index.ts'),
};

const packageProject = (name: string) => ({
  extends: true as const,
  test: {
    name,
    root: here(`./packages/${name}`),
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    projects: [
      packageProject('policy'),
      packageProject('geo'),
      packageProject('cache'),
      packageProject('edge'),
      {
        extends: true,
        test: { name: 'load-tests', root: here('./load-tests'), include: ['src/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          root: here('./test'),
          include: ['**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
