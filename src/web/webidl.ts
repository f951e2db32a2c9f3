// The few WebIDL conversions (https://webidl.spec.whatwg.org/#es-type-mapping) the WebSocket API needs.

/** §3.2.10 DOMString: ToString (Symbols throw a TypeError). */
export function toDOMString(value: unknown): string {
  if (typeof value === "symbol") throw new TypeError("Cannot convert a Symbol value to a string");
  return `${value}`;
}

/** §3.2.11 USVString: a DOMString with lone surrogates replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  return toDOMString(value).toWellFormed();
}

/** §3.2.4 unsigned short with [Clamp]: NaN → 0, clamped to 0–65535, rounded half to even. */
export function toClampedUnsignedShort(value: unknown): number {
  if (typeof value === "symbol" || typeof value === "bigint") {
    throw new TypeError("Cannot convert the value to a number");
  }
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** §3.2.4 unsigned short (no extended attribute): ToNumber, then modulo 2^16. */
export function toUnsignedShort(value: unknown): number {
  if (typeof value === "symbol" || typeof value === "bigint") {
    throw new TypeError("Cannot convert the value to a number");
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n === 0) return 0;
  const int = Math.trunc(n);
  return ((int % 65536) + 65536) % 65536;
}

/** §3.2.1 boolean. */
export function toBoolean(value: unknown): boolean {
  return Boolean(value);
}

/** A dictionary argument: undefined/null → {}, other non-objects → TypeError (§3.2.17). */
export function toDictionary(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError(`${name} is not an object`);
  }
  return value as Record<string, unknown>;
}

/** §3.2.20 sequence<T>: the value must be an iterable object. */
export function toSequence<T>(value: unknown, convert: (item: unknown) => T, name: string): T[] {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    throw new TypeError(`${name} is not iterable`);
  }
  const iterator = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator !== "function") throw new TypeError(`${name} is not iterable`);
  const out: T[] = [];
  for (const item of value as Iterable<unknown>) out.push(convert(item));
  return out;
}

export function requireArguments(count: number, required: number, method: string): void {
  if (count < required) {
    throw new TypeError(
      `Failed to execute '${method}': ${required} argument${required > 1 ? "s" : ""} required, but only ${count} present.`,
    );
  }
}
