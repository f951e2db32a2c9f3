import { ProtocolError } from "../protocol/errors.js";
import { quoted } from "./terminal.js";

// How `sockjet serve` logs a closed connection: the code and reason of a closing handshake, or, when we
// failed the connection, the code and reason we sent (the close event itself says 1006, as WHATWG requires).

/** `1000 "bye"`, `1009 message too big (limit 1 MiB)`, `1006 (not clean): connection closed without …`. */
export function closeSummary(
  event: { code: number; reason: string; wasClean: boolean },
  error: unknown,
): string {
  if (error instanceof ProtocolError) {
    const why = error.message.replace(
      /: limit (\d+) bytes/,
      (_, n: string) => ` (limit ${sizeText(Number(n))})`,
    );
    return `${error.closeCode} ${why}`;
  }
  const reason = event.reason === "" ? "" : ` ${quoted(event.reason)}`;
  if (event.wasClean) return `${event.code}${reason}`;
  const cause = error instanceof Error ? `: ${error.message}` : "";
  return `${event.code}${reason} (not clean)${cause}`;
}

/** 1048576 → "1 MiB", 65536 → "64 KiB", else bytes. */
function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
