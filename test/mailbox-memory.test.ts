/**
 * Queues that shrink (issue 14): an actor's mailbox gives memory back as it is consumed, so an
 * async actor whose mailbox never empties holds what waits in it, not every message it ever got.
 * The run is a child process (test/fixtures/mailbox-heap.ts) started with --expose-gc, so the heap
 * is read after a real garbage collection on the actor's own thread; a pacer keeps the mailbox
 * from emptying by construction. Before the fix the mailbox array kept a slot per message handled
 * since it last emptied: about 9.7 MB more after 1M messages; now about 0.2 MB.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixtureUrl } from './helpers.js';

describe('an actor mailbox that never empties', () => {
  it('handles 1M messages with the heap of its thread flat (growth < 4 MB) and the mailbox never deeper than its window', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', fixtureUrl('mailbox-heap').pathname, '1000000', '100000'], { timeout: 300_000 });
    const { growth, peak } = JSON.parse(stdout.trim()) as { growth: number; peak: number };
    expect(peak).toBeGreaterThan(0); // it did wait in the mailbox
    expect(peak).toBeLessThanOrEqual(1024 + 256 + 2);
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  }, 320_000);
});
