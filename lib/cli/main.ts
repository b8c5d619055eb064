#!/usr/bin/env node
// The ditcache command line.
import { calibrateCommand, CALIBRATE_HELP } from './calibrate-command.js';
import { UsageError, packageVersion } from './common.js';
import { extendCommand, EXTEND_HELP } from './extend-command.js';
import { forwardCommand, FORWARD_HELP } from './forward-command.js';
import { generateCommand, GENERATE_HELP } from './generate-command.js';
import { infoCommand, INFO_HELP } from './info-command.js';
import { installLibCommand, INSTALL_LIB_HELP } from './install-lib-command.js';

const HELP = `ditcache — video diffusion transformers on native kernels, with training-free caching

Commands:
  generate   text-to-video with the bundled (or a given) STDiT3, optionally cached
  extend     autoregressive video from first frames (Ca2-VDM), with bounded KV caches
  forward    one model call from named inputs (compare with a reference implementation)
  calibrate  fit a caching policy's thresholds (AdaCache, TeaCache, First-Block Cache, MagCache) to your prompts
  info       model configuration, parameter count, memory estimate, backends
  bench      time one op for any shape, timed inside native code
  install-lib  libditcache, ditcache.h, pkg-config and CMake files into a prefix, for C callers

Run \`ditcache <command> --help\` for its options; \`ditcache --version\` prints the version.

${GENERATE_HELP}

${EXTEND_HELP}

${FORWARD_HELP}

${CALIBRATE_HELP}

${INFO_HELP}

${INSTALL_LIB_HELP}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'generate':
      return generateCommand(rest);
    case 'extend':
      return extendCommand(rest);
    case 'forward':
      return forwardCommand(rest);
    case 'calibrate':
      return calibrateCommand(rest);
    case 'info':
      return infoCommand(rest);
    case 'install-lib':
      return installLibCommand(rest);
    case 'bench':
      return (await import('./bench.js')).runBenchCommand(rest);
    case '--version':
    case '-v':
      console.log(packageVersion());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; commands: generate, extend, forward, calibrate, info, bench, install-lib`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error;
    console.error(`ditcache: ${err.message}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
