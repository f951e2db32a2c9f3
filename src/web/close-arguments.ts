import { MAX_CLOSE_REASON_BYTES } from "../protocol/constants.js";
import { toClampedUnsignedShort, toUSVString } from "./webidl.js";

// The close(code, reason) method's argument conversion (WebIDL) and checks, steps 1 and 2: apart from the
// closing itself, which is the WebSocket's state.

/** §"The close(code, reason) method", steps 1–2: the converted code (null if absent) and reason. */
export function closeArguments(
  code: unknown,
  reason: unknown,
): { status: number | null; reasonText: string } {
  // WebIDL converts both arguments ([Clamp] unsigned short, USVString) before the method's steps run, so a
  // reason whose toString() throws throws even when the code is invalid.
  const status = code === undefined ? null : toClampedUnsignedShort(code);
  const reasonText = reason === undefined ? "" : toUSVString(reason);
  // 1. code present and neither 1000 nor 3000–4999 → InvalidAccessError.
  if (status !== null && status !== 1000 && (status < 3000 || status > 4999)) {
    throw new DOMException(
      `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${status} is neither.`,
      "InvalidAccessError",
    );
  }
  // 2. reason longer than 123 bytes of UTF-8 → SyntaxError.
  if (Buffer.byteLength(reasonText) > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(
      "Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.",
      "SyntaxError",
    );
  }
  return { status, reasonText };
}
