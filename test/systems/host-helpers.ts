/**
 * What the PGlite and chdb host tests share (both hosts run on src/systems/shared/host-process.ts):
 * waiting for a host process to be gone, and the orphan case — a parent that holds a host is
 * killed, and the host must follow it out.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Exited, or a zombie its parent has not reaped yet. */
export const hostGone = (pid: number): boolean => !existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

export async function waitHostGone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!hostGone(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return hostGone(pid);
}

/**
 * A parent process acquires a host through `acquire` (an export of `module`, e.g. acquirePglite)
 * on `dataDir`, prints its pid and is killed with SIGKILL: the host must exit too.
 */
export async function assertHostFollowsParentOut(module: URL, acquire: string, dataDir: string, scratch: string): Promise<void> {
  const script = join(scratch, 'parent.mts');
  writeFileSync(
    script,
    `import { ${acquire} } from ${JSON.stringify(module.href)};
const handle = await ${acquire}(${JSON.stringify(dataDir)});
process.stdout.write(String(handle.db.pid) + '\\n');
setInterval(() => {}, 1000);
`,
  );
  const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const hostPid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
  });
  assert.ok(hostPid > 0 && existsSync(`/proc/${hostPid}`));
  parent.kill('SIGKILL');
  assert.ok(await waitHostGone(hostPid), `host ${hostPid} outlived its parent`);
}
