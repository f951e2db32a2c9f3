// A small command-line flag parser: `--name value`, `--name=value`, `-n value`, `-nvalue`, repeatable flags,
// `--no-name` for booleans, `--` to end the flags. Every mistake is a UsageError: the CLI prints its message
// and where the help is, and exits with status 2, never with a stack trace.

/** A mistake on the command line: exit status 2, its message and `see sockjet <cmd> --help`. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** One flag: how to read its value (if it takes one), its default and its help line. */
export interface FlagSpec<T> {
  readonly kind: "boolean" | "value" | "list";
  readonly short?: string;
  /** The value's placeholder in the help text, e.g. PORT. */
  readonly valueName?: string;
  readonly help: string;
  readonly defaultValue: T;
  /** Shown as `--no-name` in the help (a boolean that is on by default). */
  readonly negatable?: boolean;
  /** Converts the raw text; throws a UsageError (or any Error, whose message is used) when it is invalid. */
  readonly parse?: (raw: string) => unknown;
  /** Hidden from the help text. */
  readonly hidden?: boolean;
  /** The value may hold a password (a URL's user:pass@): an error about it does not repeat it. */
  readonly secret?: boolean;
}

interface FlagOptions {
  short?: string;
  valueName?: string;
  hidden?: boolean;
  secret?: boolean;
}

export const flag = {
  /** On/off; `--no-name` turns it off. */
  boolean(help: string, options: FlagOptions & { defaultValue?: boolean } = {}): FlagSpec<boolean> {
    const defaultValue = options.defaultValue ?? false;
    return { kind: "boolean", help, ...options, defaultValue, negatable: defaultValue };
  },
  /** One value; the last occurrence wins. */
  value<T = string>(
    help: string,
    options: FlagOptions & { defaultValue: T; parse?: (raw: string) => T },
  ): FlagSpec<T> {
    return { kind: "value", valueName: "VALUE", help, ...options };
  },
  /** Repeatable: every occurrence is collected, in order. */
  list<T = string>(help: string, options: FlagOptions & { parse?: (raw: string) => T } = {}): FlagSpec<T[]> {
    return { kind: "list", valueName: "VALUE", help, ...options, defaultValue: [] };
  },
};

export type FlagSpecs = Record<string, FlagSpec<unknown>>;
export type FlagValues<S extends FlagSpecs> = { [K in keyof S]: S[K]["defaultValue"] };

export interface ParsedArgs<S extends FlagSpecs> {
  flags: FlagValues<S>;
  positionals: string[];
  help: boolean;
}

/** Parses argv (without the node binary, script and command) against `specs`. */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S): ParsedArgs<S> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    values[name] = spec.kind === "list" ? [] : spec.defaultValue;
  }
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  const positionals: string[] = [];
  let help = false;

  const convert = (spec: FlagSpec<unknown>, raw: string, display: string): unknown => {
    if (spec.parse === undefined) return raw;
    try {
      return spec.parse(raw);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      if (spec.secret)
        throw new UsageError(
          `invalid value for ${display} (${detail}; not repeated here: it may hold a password)`,
        );
      throw new UsageError(`invalid value for ${display}: ${JSON.stringify(raw)} (${detail})`);
    }
  };
  const assign = (name: string, spec: FlagSpec<unknown>, raw: string, display: string) => {
    const value = convert(spec, raw, display);
    if (spec.kind === "list") (values[name] as unknown[]).push(value);
    else values[name] = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
      if (spec === undefined && key.startsWith("no-")) {
        const positive = key.slice(3);
        const target = Object.hasOwn(specs, positive) ? specs[positive] : undefined;
        if (target?.kind === "boolean") {
          if (inline !== undefined) throw new UsageError(`--${key} takes no value`);
          values[positive] = false;
          continue;
        }
      }
      if (spec === undefined) throw new UsageError(`unknown flag --${key}`);
      if (spec.kind === "boolean") {
        if (inline !== undefined) throw new UsageError(`--${key} takes no value`);
        values[key] = true;
        continue;
      }
      let raw = inline;
      if (raw === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`--${key} needs a value (${spec.valueName})`);
        raw = argv[++i];
      }
      assign(key, spec, raw, `--${key}`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
      const letter = arg[1];
      const name = byShort.get(letter);
      if (name === undefined) throw new UsageError(`unknown flag -${letter}`);
      const spec = specs[name];
      if (spec.kind === "boolean") {
        if (arg.length > 2) throw new UsageError(`-${letter} takes no value`);
        values[name] = true;
        continue;
      }
      let raw: string;
      if (arg.length > 2) raw = arg[2] === "=" ? arg.slice(3) : arg.slice(2);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`-${letter} needs a value (${spec.valueName})`);
        raw = argv[++i];
      }
      assign(name, spec, raw, `-${letter}`);
      continue;
    }
    positionals.push(arg);
  }
  return { flags: values as FlagValues<S>, positionals, help };
}

/** The flags part of a command's help text, one line per flag, aligned. */
export function formatFlags(specs: FlagSpecs): string {
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.hidden) continue;
    const long = spec.negatable ? `--no-${name}` : `--${name}`;
    const left =
      (spec.short ? `-${spec.short}, ` : "    ") +
      long +
      (spec.kind === "boolean" ? "" : ` ${spec.valueName}`);
    let help = spec.help;
    if (spec.kind === "list") help += " (repeatable)";
    rows.push([left, help]);
  }
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, help]) => `  ${left.padEnd(width)}${help}`).join("\n");
}

// Value parsers shared by the commands. Each throws an Error whose message says what was expected.

/** A whole number in [min, max]. */
export function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number from ${min} to ${max}`);
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`expected a whole number from ${min} to ${max}`);
    return value;
  };
}

/** The longest delay setTimeout takes (2^31-1 ms, 24.8 days): a longer one fires at once, with a warning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A non-negative number, fractions allowed. */
export function nonNegative(raw: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0) throw new Error("expected a number ≥ 0");
  return value;
}

/** A size in bytes, with an optional k/m/g suffix (powers of 1024): 512, 16k, 1m. */
export function byteSize(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(raw.trim());
  if (match === null) throw new Error("expected a size in bytes, like 512, 16k or 1m");
  const scale = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    match[2].toLowerCase() as "" | "k" | "m" | "g"
  ];
  const value = Math.round(Number(match[1]) * scale);
  if (!Number.isSafeInteger(value)) throw new Error("size too large");
  return value;
}
