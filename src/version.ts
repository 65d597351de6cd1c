import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The tool's version, recorded in manifests and environment.json. */
export const TOOL_VERSION: string = packageJson.version;
