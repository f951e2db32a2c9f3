// After a first SIGINT/SIGTERM has started a graceful stop, a second one means "stop now" (the user pressed
// Ctrl-C again). But the same stop is often delivered twice within moments: GNU `timeout` signals the
// process and then its whole process group, and a supervisor may signal both the process and its group.
// A signal within GRACE_MS of the first is taken as that same stop, not as a second one.

/** How soon after the first signal a second one is still the same stop. */
export const SECOND_SIGNAL_GRACE_MS = 1000;

/** Calls `now` on a SIGINT or SIGTERM that comes later than graceMs after this call; ignores earlier ones. */
export function onSecondSignal(
  now: (signal: NodeJS.Signals) => void,
  graceMs = SECOND_SIGNAL_GRACE_MS,
): void {
  const armedAt = performance.now();
  const listener = (signal: NodeJS.Signals) => {
    if (performance.now() - armedAt < graceMs) return;
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
    now(signal);
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
}
