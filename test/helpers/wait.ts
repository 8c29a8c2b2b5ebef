/** Polls `check` until it holds; throws after `timeoutMs` (a condition, never a fixed sleep). */
export async function waitFor(check: () => boolean | Promise<boolean>, { timeoutMs = 60_000, everyMs = 200 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
