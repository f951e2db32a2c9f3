// Options named as in `ws` (the package most code moves from) that sockjet spells differently or does not
// have: left alone, they would be ignored without a word (a `maxPayload` or a perMessageDeflate `threshold`
// would silently keep sockjet's default). Other unknown keys are left alone: options are added over time.

/**
 * Throws a TypeError naming what to use instead when `options` sets one of the keys of `names` (ws's name →
 * the hint); `path` is how the message names the object ("options", "perMessageDeflate").
 */
export function rejectWsNames(options: object, names: Readonly<Record<string, string>>, path: string): void {
  for (const name of Object.keys(options)) {
    const hint = Object.hasOwn(names, name) ? names[name] : undefined;
    if (hint !== undefined && (options as Record<string, unknown>)[name] !== undefined) {
      throw new TypeError(`${path}.${name} is ws's name: ${hint}`);
    }
  }
}
