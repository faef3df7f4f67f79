// Tasks any node serving this module may run: `system.serve(url, { as: 'hash' })`.
import { createHash } from 'node:crypto';

export function sha(text) {
  return { digest: createHash('sha256').update(text).digest('hex'), ranOn: process.env.NODE_NAME };
}
