// Buffers for the large frames the writer has to build by copying: a client's masked frame (RFC 6455 §5.3),
// and a server's copy of a payload its caller may change after send() (WHATWG send() sends the bytes as they
// were at the call). A fresh large buffer per frame costs an allocation, page faults on first touch (a 1 MiB
// one, 256 of them), cache misses and garbage collection; a buffer given back once the socket's write has
// called back is reused hot instead. Only the OutputBatcher leases, and only for sockets whose write callback
// means the bytes have left the buffer (see OutputBatcher.pooling).

/** Frames up to this size are built in the batcher's shared slab instead. */
export const POOLED_FRAME_MIN = 16 * 1024 + 1;
/** Larger frames are allocated as before: rare, and not worth keeping. */
export const POOLED_FRAME_MAX = 4 * 1024 * 1024 + 64;
/** Free bytes the pool keeps at most, all classes together (what it may cost the process while idle). */
const MAX_FREE_BYTES = 8 * 1024 * 1024;

// Size classes: a power of two plus room for a frame header, so that a 64 KiB or 1 MiB payload with its
// header (and the writer's alignment padding) takes the class of its payload, not the next one.
const HEADER_ROOM = 64;

const free = new Map<number, ArrayBuffer[]>();
let freeBytes = 0;

function classCapacity(size: number): number {
  let capacity = 32 * 1024;
  while (capacity + HEADER_ROOM < size) capacity *= 2;
  return capacity + HEADER_ROOM;
}

/** A buffer of exactly `size` bytes (POOLED_FRAME_MIN..POOLED_FRAME_MAX), reused when one is free. */
export function leaseFrameBuffer(size: number): Buffer {
  const capacity = classCapacity(size);
  const backing = free.get(capacity)?.pop();
  if (backing !== undefined) {
    freeBytes -= capacity;
    return Buffer.from(backing, 0, size);
  }
  return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, size);
}

/** Gives back a buffer from leaseFrameBuffer(); nothing may read or write it afterwards. */
export function releaseFrameBuffer(buffer: Buffer): void {
  const backing = buffer.buffer as ArrayBuffer;
  const capacity = backing.byteLength;
  if (freeBytes + capacity > MAX_FREE_BYTES) return;
  let list = free.get(capacity);
  if (list === undefined) free.set(capacity, (list = []));
  list.push(backing);
  freeBytes += capacity;
}

/** Free bytes held by the pool (tests). */
export function pooledFreeBytes(): number {
  return freeBytes;
}
