// The last bytes a peer's compressed messages inflated to, as the LZ77 sliding window of its compressor sees
// them (RFC 7692 §7.2.2: with context takeover, a message may refer back into what earlier messages sent). zlib
// keeps that window inside the decompressor, where Node gives no access to it; a message that ends its DEFLATE
// stream (BFINAL, §7.2.3.4) ends that decompressor, and the next one needs the window as its dictionary. So a
// connection whose peer takes over context keeps its own copy: a ring of the window's size (at most 32 KiB),
// made at the first compressed message, each message's output copied in (at most one window of it).

export class SlidingWindow {
  private ring: Buffer | null = null;
  /** Where the next byte goes. */
  private end = 0;
  /** Bytes held, up to the window's size. */
  private held = 0;

  constructor(private readonly size: number) {}

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    // allocUnsafeSlow: a small window (8 bits: 256 bytes) must not pin one of Buffer's shared 8 KiB pool slabs.
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(this.size));
    const source = bytes.length > this.size ? bytes.subarray(bytes.length - this.size) : bytes;
    const first = Math.min(source.length, this.size - this.end);
    source.copy(ring, this.end, 0, first);
    source.copy(ring, 0, first);
    this.end = (this.end + source.length) % this.size;
    this.held = Math.min(this.size, this.held + source.length);
  }

  /** The bytes held, oldest first, in a Buffer of their own. */
  contents(): Buffer {
    if (this.ring === null) return Buffer.alloc(0);
    // Until it first fills, the ring holds [0, end).
    if (this.held < this.size) return Buffer.from(this.ring.subarray(0, this.end));
    return Buffer.concat([this.ring.subarray(this.end), this.ring.subarray(0, this.end)], this.size);
  }
}
