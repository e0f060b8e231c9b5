#!/usr/bin/env node
// Entry point of the `canyan-rating` command: TypeScript sources are loaded through tsx,
// so there is no separate build step between a checkout and a running system.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
