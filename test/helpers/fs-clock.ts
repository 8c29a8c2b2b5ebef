import { lstatSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Waits until the file system's clock (the mtime it gives a file it writes) has moved past the last
 * change of `files` (their mtime and ctime). File times come from the kernel's coarse clock, a tick of
 * a few ms: caches refuse to trust a stamp from the current tick (the racy rule), so a test that wants
 * a record taken waits for the next tick. A condition, polled each millisecond, not a fixed sleep.
 */
export async function fsClockPast(...files: string[]): Promise<void> {
  let latest = 0n;
  for (const file of files) {
    const st = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    for (const ns of st ? [st.mtimeNs, st.ctimeNs] : []) if (ns > latest) latest = ns;
  }
  const probe = join(dirname(files[0]!), `.fs-clock-${process.pid}`);
  try {
    for (;;) {
      writeFileSync(probe, 'x');
      if (lstatSync(probe, { bigint: true }).mtimeNs > latest) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    rmSync(probe, { force: true });
  }
}
