// The worker and CLI tests run dist/: the global setup (build-dist.ts) rebuilds it when a source
// is newer, so no test here runs stale compiled code.
import { describe, expect, it } from 'vitest';

import { stale } from './build-dist.js';

describe('the compiled package', () => {
  it('is not older than any of its TypeScript sources', () => {
    expect(stale()).toBeUndefined();
  });
});
