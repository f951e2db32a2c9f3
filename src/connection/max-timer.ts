/**
 * The longest delay Node's timers take: a signed 32-bit number of ms. A longer one fires after 1 ms (with a
 * TimeoutOverflowWarning), so options past it are refused or capped where they are read.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
