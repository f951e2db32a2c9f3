// The JavaScript blocks of README.md, and a way to run one in this process: its `import` lines become
// lookups in a table of modules (so a test can hand it classes that record what the snippet makes), and
// `console` and `process` are parameters the test provides. Nothing else of the code is changed; the test
// rewrites only the ports (a fixed 8080 may be taken on a shared machine).

import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export interface Snippet {
  /** The heading the block is under. */
  heading: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

export const README = resolve(import.meta.dirname, "../../README.md");

export function javascriptBlocks(markdown = readFileSync(README, "utf8")): Snippet[] {
  const blocks: Snippet[] = [];
  let heading = "";
  let open: Snippet | null = null;
  let inOtherBlock = false;
  markdown.split("\n").forEach((text, index) => {
    const fence = text.startsWith("```");
    if (open !== null) {
      if (fence) {
        blocks.push(open);
        open = null;
      } else open.code += `${text}\n`;
    } else if (inOtherBlock) inOtherBlock = !fence;
    else if (/^```(js|javascript|mjs)\s*$/.test(text)) open = { heading, line: index + 1, code: "" };
    else if (fence) inOtherBlock = true;
    else if (/^#{1,6} /.test(text)) heading = text.replace(/^#+ /, "");
  });
  return blocks;
}

const IMPORT = /^import\s+(\{[^}]*\})\s+from\s+"([^"]+)";?\s*$/gm;

/** The block as the body of an async function: `import { a } from "m"` → `const { a } = await __import("m")`. */
export function asFunctionBody(code: string): string {
  return code.replace(IMPORT, (_line, names: string, specifier: string) => {
    return `const ${names} = await __import(${JSON.stringify(specifier)});`;
  });
}

type AsyncFunctionConstructor = new (...args: string[]) => (...args: unknown[]) => Promise<unknown>;
const AsyncFunction = (async () => {}).constructor as AsyncFunctionConstructor;

/**
 * Runs a block: `modules` answers its imports (anything else is imported for real), `console` and `process`
 * replace the globals of those names.
 */
export async function runSnippet(
  code: string,
  modules: Record<string, unknown>,
  console: Pick<Console, "log" | "error">,
  env: Record<string, string> = {},
): Promise<void> {
  const importFor = (specifier: string) => modules[specifier] ?? import(specifier);
  const fakeProcess = { env };
  await new AsyncFunction("__import", "console", "process", asFunctionBody(code))(
    importFor,
    console,
    fakeProcess,
  );
}
