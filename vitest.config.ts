import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Stress tests move millions of frames between real threads; on a shared 2-core machine they
    // need room, but each still has a bound so a hang fails instead of stalling CI.
    testTimeout: 120_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
