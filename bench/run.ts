/**
 * `npm run bench`: runs every bench module in this folder (generation.ts, loading-*.ts …) and prints
 * one table with each measurement next to the established tool measured in the same run.
 *
 *   npm run bench                   all modules
 *   npm run bench -- --only NAME    one module (file name without .ts), repeatable or comma-separated
 *
 * A module exports `async function bench(): Promise<BenchResult[]>`.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

export interface BenchResult {
  /** What was measured, e.g. `random_binary in memory`. */
  name: string;
  value: number;
  /** e.g. `MB/s`, `MiB`. Higher is better unless `lowerIsBetter`. */
  unit: string;
  /** The established tool's number for the same thing, measured in the same run. */
  reference?: { name: string; value: number };
  /** A fixed target from SPEC §10 (e.g. 200 MB/s), checked and printed. */
  target?: number;
  lowerIsBetter?: boolean;
  note?: string;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));

export async function benchModules(): Promise<string[]> {
  return (await readdir(HERE))
    .filter((name) => name.endsWith('.ts') && name !== 'run.ts' && !name.endsWith('.test.ts') && !name.startsWith('_'))
    .map((name) => name.slice(0, -3))
    .sort();
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}

export function formatResults(rows: { module: string; result: BenchResult }[]): string {
  const header = ['module', 'measurement', 'value', 'reference', 'ratio', 'target'];
  const table = rows.map(({ module, result }) => {
    const ratio = result.reference && result.reference.value > 0 ? result.value / result.reference.value : null;
    const target =
      result.target === undefined ? '' : `${format(result.target)} ${(result.lowerIsBetter ? result.value <= result.target : result.value >= result.target) ? 'met' : 'MISSED'}`;
    return [
      module,
      result.name + (result.note ? ` (${result.note})` : ''),
      `${format(result.value)} ${result.unit}`,
      result.reference ? `${result.reference.name}: ${format(result.reference.value)} ${result.unit}` : '',
      ratio === null ? '' : `${ratio.toFixed(2)}x`,
      target,
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...table.map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const available = await benchModules();
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only' && argv[i + 1]) only.push(...(argv[++i] as string).split(','));
    else if (argv[i]?.startsWith('--only=')) only.push(...(argv[i] as string).slice('--only='.length).split(','));
    else {
      process.stderr.write(`error: unknown argument ${JSON.stringify(argv[i])}; valid: --only NAME (${available.join(', ')})\n`);
      return 2;
    }
  }
  for (const name of only) {
    if (!available.includes(name)) {
      process.stderr.write(`error: unknown bench module ${JSON.stringify(name)}; valid: ${available.join(', ')}\n`);
      return 2;
    }
  }
  const chosen = only.length > 0 ? only : available;
  const rows: { module: string; result: BenchResult }[] = [];
  let failed = false;
  for (const name of chosen) {
    process.stderr.write(`bench ${name} …\n`);
    try {
      const module = (await import(pathToFileURL(join(HERE, `${name}.ts`)).href)) as { bench: () => Promise<BenchResult[]> };
      for (const result of await module.bench()) rows.push({ module: name, result });
    } catch (error) {
      failed = true;
      process.stderr.write(`error: bench ${name} failed: ${(error as Error).message}\n`);
    }
  }
  process.stdout.write(`${formatResults(rows)}\n`);
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
