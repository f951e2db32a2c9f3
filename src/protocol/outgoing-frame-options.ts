import type { FrameOptions } from "./frame-writer.js";
import { type MaskKeyPool, sharedMaskKeyPool } from "./mask.js";
import type { ProtocolOptions } from "./protocol-options.js";

// The options of the frames a Protocol sends, which depend only on its role and masking-key source:
// made once and shared, not per connection.

// Frame options depend only on the masking-key source: shared, not allocated per connection.
const SERVER_FRAMES = {
  plain: { fin: true, rsv1: false, maskKeys: null } as FrameOptions,
  borrowed: { fin: true, rsv1: false, maskKeys: null, borrowed: true } as FrameOptions,
};
const CLIENT_FRAMES = {
  plain: { fin: true, rsv1: false, maskKeys: sharedMaskKeyPool } as FrameOptions,
  borrowed: { fin: true, rsv1: false, maskKeys: sharedMaskKeyPool, borrowed: true } as FrameOptions,
};

type FramePair = typeof SERVER_FRAMES;
/** The frame options of clients with their own masking-key source (tests), made once per source. */
const customFrames = new WeakMap<MaskKeyPool, FramePair>();

export function framesFor(options: ProtocolOptions): FramePair {
  // §5.3: a client masks every frame it sends; a server never does.
  if (options.role !== "client") return SERVER_FRAMES;
  const maskKeys = options.maskKeys;
  if (maskKeys === undefined || maskKeys === sharedMaskKeyPool) return CLIENT_FRAMES;
  let frames = customFrames.get(maskKeys);
  if (frames === undefined) {
    frames = {
      plain: { fin: true, rsv1: false, maskKeys },
      borrowed: { fin: true, rsv1: false, maskKeys, borrowed: true },
    };
    customFrames.set(maskKeys, frames);
  }
  return frames;
}
