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

/** Decimal with thousands separators: 1,234,567. */
export function grouped(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}
