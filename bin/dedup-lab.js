#!/usr/bin/env node
// Runs the TypeScript sources through tsx so `npx dedup-lab` works right after `npm ci`
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
