#!/usr/bin/env node
// recon.js detect [OPTIONS] [FILE|-]...: see `recon.js --help` and
// docs/hosts/node.md.

import { main } from '../lib/cli.js';

process.stdout.on('error', (e) => {
  // A closed pipe (`recon.js detect x | head`): stop quietly, as failed.
  if (e.code === 'EPIPE') process.exit(1);
  throw e;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`recon: error: ${e?.stack ?? e}\n`);
  process.exitCode = 1;
}
