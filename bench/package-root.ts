/**
 * The folder of weft's own package.json, found by walking up from this file: the same answer
 * whether the bench runs compiled (dist/bench/…), from source under vitest (bench/…), or from an
 * installed copy (node_modules/weft/dist/bench/…).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'weft') return dir;
      } catch {}
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`weft's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const PACKAGE_ROOT: string = find();
