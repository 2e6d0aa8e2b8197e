import { defineConfig } from 'vitest/config';

// `*.serial.test.ts` files measure throughput: they run only in their own pass
// (`npm run test:serial`, NETCHANNEL_SERIAL=1) with no other test file in parallel.
const serial = process.env.NETCHANNEL_SERIAL === '1';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', ...(serial ? [] : ['**/*.serial.test.ts'])],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
