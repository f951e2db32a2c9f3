import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { Cli, killAll, ROOT, run } from "./helpers.js";

after(killAll);

const version = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")).version;

describe("sockjet: help, version and dispatch", { concurrency: 2 }, () => {
  test("--help lists the commands and exits 0", async () => {
    const result = await run(["--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: sockjet <command> \[options\]/);
    for (const command of ["serve", "connect", "bench"])
      assert.match(result.stdout, new RegExp(`^  ${command} `, "m"));
    assert.equal(result.stderr, "");
  });

  test("no arguments shows the help and how to start", async () => {
    const result = await run([]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /sockjet serve/);
  });

  test("--version prints package.json's version", async () => {
    const result = await run(["--version"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${version}\n`);
  });

  for (const command of ["serve", "connect", "bench"]) {
    test(`${command} --help shows the command's usage and exits 0`, async () => {
      const result = await run([command, "--help"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Usage: sockjet ${command} `));
      assert.match(result.stdout, /-h, --help/);
      if (command === "serve") assert.equal((await run(["help", command])).stdout, result.stdout);
    });
  }

  test("a short flag means one thing in every command", async () => {
    const meaning = new Map<string, string>();
    for (const command of ["serve", "connect", "bench"]) {
      const { stdout } = await run([command, "--help"]);
      for (const [, short, long] of stdout.matchAll(/^ {2}-(\w), --([\w-]+)/gm)) {
        const seen = meaning.get(short);
        assert.ok(seen === undefined || seen === long, `-${short} is --${seen} and --${long} (${command})`);
        meaning.set(short, long);
      }
    }
    assert.equal(meaning.get("p"), "port");
    assert.equal(meaning.get("w"), "wait");
  });

  test("SOCKJET_HEAP_HEADROOM takes a size as --max-payload does (128m); a wrong one stops no --help or --version (newcomer review)", async () => {
    const env = (value: string) => ({ SOCKJET_HEAP_HEADROOM: value });
    for (const args of [["--help"], ["--version"], ["connect", "--help"], ["help", "bench"]]) {
      const cli = new Cli(args, env("lots"));
      cli.end();
      const exit = await cli.exit();
      assert.equal(exit.code, 0, `${args.join(" ")}: ${cli.stderr}`);
      assert.equal(cli.stderr, "");
    }
    // A command that runs gets the size: a usage error of its own, not the variable's.
    for (const value of ["128m", "64MiB", "1g", "0"]) {
      const cli = new Cli(["connect"], env(value));
      cli.end();
      await cli.exit();
      assert.match(cli.stderr, /^sockjet connect: missing URL/, value);
    }
    const wrong = new Cli(["connect"], env("128q"));
    wrong.end();
    assert.equal((await wrong.exit()).code, 2);
    assert.match(
      wrong.stderr,
      /SOCKJET_HEAP_HEADROOM must be a size from 1m \(1 MiB\) to 16g.*like 128m.*got "128q"/,
    );
  });

  test("an unknown command exits 2 with one line and where the help is", async () => {
    const result = await run(["serv"]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, 'sockjet: unknown command "serv"\nsee sockjet --help\n');
  });

  test("an unknown top-level option exits 2", async () => {
    const result = await run(["--verbose"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^sockjet: unknown option --verbose/);
  });

  test("an unknown flag exits 2 with one line, where the help is, and no stack trace", async () => {
    const result = await run(["serve", "--prot", "x"]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "sockjet serve: unknown flag --prot\nsee sockjet serve --help\n");
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
