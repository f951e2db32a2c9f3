import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The browser's copy of the resume client (src/resume/client.ts, built to dist/resume/client.js): one ES
// module with no import, so a server can serve the file as it is (`sockjet serve` mounts it at
// /sockjet-resume.js, with Content-Type text/javascript).

/** The path of the built resume client module (dist/resume/client.js). Throws if the package is not built. */
export function resumeClientModulePath(): string {
  const candidates = [
    // Built: dist/server/ → dist/resume/client.js.
    new URL("../resume/client.js", import.meta.url),
    // Run from the sources (tsx): src/server/ → dist/resume/client.js of the same checkout.
    new URL("../../dist/resume/client.js", import.meta.url),
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new Error("The resume client module is not built: run `npm run build` (dist/resume/client.js)");
}

/**
 * The bytes of the built resume client module, to serve as text/javascript: without its source-map comment,
 * whose file is not served with it (a browser's devtools would ask for it and get a 404).
 */
export function resumeClientModule(): Buffer {
  const text = readFileSync(resumeClientModulePath(), "utf8");
  return Buffer.from(text.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, "\n"));
}
