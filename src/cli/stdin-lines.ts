import type { Readable } from "node:stream";

// `connect --binary` reading a pipe or a file: each line's bytes as they came. readline decodes its input as
// UTF-8, so a byte that is not UTF-8 (0xff) was sent as U+FFFD's three bytes (a newcomer's review).

const LF = 0x0a;
const CR = 0x0d;

/**
 * Calls `onLine` with each line of `input`, without its LF, nor the CR of a CRLF (as readline ends text mode's
 * lines; a lone CR is a byte of the line here, since binary data may hold one), then the last line if it has
 * no LF, then `onEnd`. Returns a function that stops reading.
 */
export function readByteLines(
  input: Readable,
  onLine: (line: Buffer) => void,
  onEnd: () => void,
): () => void {
  let partial: Buffer[] = [];
  const line = (last: Buffer, beforeLf: boolean) => {
    const bytes = partial.length === 0 ? last : Buffer.concat([...partial, last]);
    partial = [];
    const crlf = beforeLf && bytes.length > 0 && bytes[bytes.length - 1] === CR;
    onLine(crlf ? bytes.subarray(0, -1) : bytes);
  };
  const onData = (chunk: Buffer) => {
    let start = 0;
    for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, start)) {
      line(chunk.subarray(start, lf), true);
      start = lf + 1;
    }
    if (start < chunk.length) partial.push(chunk.subarray(start));
  };
  const finish = () => {
    stop();
    if (partial.length > 0) line(Buffer.alloc(0), false);
    onEnd();
  };
  const stop = () => {
    input.off("data", onData);
    input.off("end", finish);
  };
  input.on("data", onData);
  input.on("end", finish);
  return stop;
}
