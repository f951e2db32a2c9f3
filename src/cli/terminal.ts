import type { WriteStream } from "node:tty";

// Colours only for a terminal (and never with NO_COLOR, https://no-color.org); plain text for pipes.

export interface Paint {
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  magenta(text: string): string;
  bold(text: string): string;
}

const plain = (text: string) => text;

export function paintFor(stream: NodeJS.WriteStream | WriteStream): Paint {
  const on = stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  const sgr = (open: number, close: number) =>
    on ? (text: string) => `\x1b[${open}m${text}\x1b[${close}m` : plain;
  return {
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    magenta: sgr(35, 39),
    bold: sgr(1, 22),
  };
}

/** A thrown value as one line of text. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}

/** HH:MM:SS of now, for log lines. */
export function timestamp(date = new Date()): string {
  return date.toTimeString().slice(0, 8);
}

/** Decimal with thousands separators and `digits` decimals: 1,234,567 or 1,234.57. */
export function grouped(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * Controls a terminal would act on, shown as escapes instead: C0 but tab and (when `newlines` is true) line
 * feed, DEL, C1 (ECMA-48 §5: ESC and CSI/OSC sequences move the cursor, retitle the window, write the
 * clipboard), and the bidi formatting characters that reorder what follows (Unicode UAX #9 §2: LRM/RLM, ALM,
 * LRE…RLO, LRI…PDI; the "Trojan Source" trick).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls is the point
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control escaped: ESC as `\x1b`, U+202E as `\u202e`; a backslash stays as is. */
export function escapeControls(text: string, { newlines = false } = {}): string {
  return text.replace(CONTROLS, (c) => {
    if (newlines && c === "\n") return c;
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** `text` in double quotes, for a message: `\` and `"` escaped, controls escaped as escapeControls does. */
export function quoted(text: string): string {
  return `"${escapeControls(text.replaceAll("\\", "\\\\").replaceAll('"', '\\"'))}"`;
}
