// A C++ exception other than Napi::Error thrown inside a binding function (here std::bad_alloc,
// from an allocation the binding makes while unwrapping its arguments) reaches JavaScript as an
// Error: the addon is built with NODE_ADDON_API_CPP_EXCEPTIONS_ALL, without which node-addon-api
// lets it escape into V8 and std::terminate ends the process. The failure is injected by an
// operator new preloaded into a child process (fixtures/fail-new.cpp) that fails one request size
// made from the addon: motionScore's 53 strides are one vector of 53 int64s, 424 bytes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { addonCandidates, binding } from '../../lib/native/loader.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiler = process.env['CXX'] ?? 'c++';
// The preload needs the dynamic loader's interposition (Linux) and a C++ compiler (which building
// the addon from source needs as well).
const canPreload = process.platform === 'linux' && spawnSync(compiler, ['--version']).status === 0;

const CHILD = `
const b = require(process.env.ADDON);
const r = b.zeros(0, 0, [1, 4, 2]);
let outcome;
try {
  b.motionScore(r, 2, new Array(53).fill(1));
  outcome = { threw: false };
} catch (e) {
  outcome = { threw: true, isError: e instanceof Error, message: String(e.message) };
}
// The binding is still usable after the failure.
outcome.after = b.motionScore(r, 2, [1]).num.length;
console.log(JSON.stringify(outcome));
`;

describe.runIf(canPreload)('C++ exceptions in binding functions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ditcache-fail-new-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns std::bad_alloc into a JavaScript Error instead of ending the process', () => {
    binding();
    const addon = addonCandidates().find((p) => existsSync(p))!;
    const shim = join(dir, 'fail-new.so');
    const build = spawnSync(compiler, ['-O1', '-shared', '-fPIC', join(here, 'fixtures', 'fail-new.cpp'), '-o', shim, '-ldl'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    // Under the sanitized run ASan's runtime is preloaded too, and defines operator new itself: the
    // shim goes first so that its operator new is the one found (its malloc is ASan's).
    const preloaded = process.env['LD_PRELOAD'];
    const env = {
      ...process.env,
      ADDON: addon,
      LD_PRELOAD: preloaded ? `${shim} ${preloaded}` : shim,
      ...(preloaded ? { ASAN_OPTIONS: `${process.env['ASAN_OPTIONS'] ?? ''}:verify_asan_link_order=0` } : {}),
    };
    const run = (failingSize: string) =>
      spawnSync(process.execPath, ['-e', CHILD], { encoding: 'utf8', env: { ...env, FAIL_NEW_SIZE: failingSize } });
    const failed = run('424');
    expect(failed.signal, failed.stderr).toBeNull();
    expect(failed.status, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout)).toEqual({ threw: true, isError: true, message: 'std::bad_alloc', after: 1 });
    // Without the failure the same call succeeds: the Error above is the injected one.
    const control = run('0');
    expect(JSON.parse(control.stdout)).toEqual({ threw: false, after: 1 });
  });
});
