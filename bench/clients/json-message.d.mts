/** Message number `i` of the deflate benchmarks as ~1 KiB of JSON bytes. */
export function jsonMessage(i: number): Buffer;
