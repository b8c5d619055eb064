// Vitest global setup: the worker thread of generate()/extend() and the CLI tests run the compiled
// package (dist/), so a dist older than its sources would test old code. Rebuilds it (npm run
// build:ts) when any TypeScript source under lib/ or bench/ is newer than its compiled file.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.c?ts$/.test(e.name) && !/\.d\.c?ts$/.test(e.name) ? [path] : [];
  });
}

export function stale(): string | undefined {
  for (const src of [...sources(join(root, 'lib')), ...sources(join(root, 'bench'))]) {
    const out = join(root, 'dist', relative(root, src).replace(/\.ts$/, '.js').replace(/\.cts$/, '.cjs'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) return relative(root, src);
  }
  return undefined;
}

export default function setup(): void {
  const changed = stale();
  if (changed === undefined) return;
  console.log(`dist/ is older than ${changed}: npm run build:ts`);
  execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit' });
}
