import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { byteSize, flag, formatFlags, integer, parseArgs, UsageError } from "../../src/cli/args.js";
import { specs as serveSpecs } from "../../src/cli/serve-flags.js";

const specs = {
  port: flag.value("port", { short: "p", valueName: "PORT", defaultValue: 8080, parse: integer(0, 65535) }),
  protocol: flag.list("subprotocol", { valueName: "NAME" }),
  deflate: flag.boolean("no compression", { defaultValue: true }),
  quiet: flag.boolean("quiet", { short: "q" }),
  size: flag.value("size", { short: "s", valueName: "SIZE", defaultValue: 64, parse: byteSize }),
};

describe("args: the CLI's flag parser", () => {
  test("defaults when no flag is given", () => {
    const { flags, positionals, help } = parseArgs([], specs);
    assert.deepEqual(flags, { port: 8080, protocol: [], deflate: true, quiet: false, size: 64 });
    assert.deepEqual(positionals, []);
    assert.equal(help, false);
  });

  test("--name value, --name=value, -n value, -nvalue, and positionals in between", () => {
    const { flags, positionals } = parseArgs(["a", "--port", "1", "-q", "b", "-s16k", "--port=2"], specs);
    assert.equal(flags.port, 2);
    assert.equal(flags.quiet, true);
    assert.equal(flags.size, 16 * 1024);
    assert.deepEqual(positionals, ["a", "b"]);
    assert.equal(parseArgs(["-p", "3"], specs).flags.port, 3);
    assert.equal(parseArgs(["-p=4"], specs).flags.port, 4);
  });

  test("a repeatable flag collects every occurrence in order", () => {
    assert.deepEqual(parseArgs(["--protocol", "b", "--protocol=a"], specs).flags.protocol, ["b", "a"]);
  });

  test("--no-x turns a boolean off", () => {
    assert.equal(parseArgs(["--no-deflate"], specs).flags.deflate, false);
    assert.equal(parseArgs(["--no-deflate", "--deflate"], specs).flags.deflate, true);
  });

  test("-- ends the flags", () => {
    assert.deepEqual(parseArgs(["--", "--port", "-q"], specs).positionals, ["--port", "-q"]);
  });

  test("--help and -h are reported, not errors", () => {
    assert.equal(parseArgs(["--help"], specs).help, true);
    assert.equal(parseArgs(["x", "-h"], specs).help, true);
  });

  for (const [argv, message] of [
    [["--bogus"], /unknown flag --bogus/],
    [["-x"], /unknown flag -x/],
    [["--port"], /--port needs a value \(PORT\)/],
    [["--port", "http"], /invalid value for --port: "http" \(expected a whole number from 0 to 65535\)/],
    [["--port", "70000"], /invalid value for --port/],
    [["-p", "-1"], /invalid value for -p/],
    [["--quiet=yes"], /--quiet takes no value/],
    [["--no-port"], /unknown flag --no-port/],
    [["--no-quiet=1"], /--no-quiet takes no value/],
    [["-s", "12q"], /invalid value for -s: "12q" \(expected a size in bytes/],
  ] as const) {
    test(`${argv.join(" ")} is a usage error`, () => {
      assert.throws(
        () => parseArgs(argv, specs),
        (error) => error instanceof UsageError && message.test(error.message),
      );
    });
  }

  test("serve --redis: an invalid value is not repeated in the error (it may hold a password; attacker review)", () => {
    for (const value of [
      "redis://:s3cretPW@127.0.0.1:99999",
      "rediss//app:s3cretPW@host",
      "redis://app:s3cretPW@h:6379,redis//h2",
    ]) {
      assert.throws(
        () => parseArgs(["--redis", value], serveSpecs),
        (error) =>
          error instanceof UsageError &&
          /invalid value for --redis \(expected a/.test(error.message) &&
          !error.message.includes("s3cretPW"),
      );
    }
  });

  test("byteSize reads k, m and g as powers of 1024", () => {
    assert.equal(byteSize("0"), 0);
    assert.equal(byteSize("512"), 512);
    assert.equal(byteSize("16k"), 16384);
    assert.equal(byteSize("1.5K"), 1536);
    assert.equal(byteSize("1m"), 1048576);
    assert.equal(byteSize("1MiB"), 1048576);
    assert.equal(byteSize("2g"), 2 * 1024 ** 3);
    assert.throws(() => byteSize("k"));
    assert.throws(() => byteSize("-1"));
  });

  test("the help lists every flag, its short form, --no- form and value name", () => {
    const help = formatFlags(specs);
    assert.match(help, /^ {2}-p, --port PORT +port$/m);
    assert.match(help, /^ {6}--protocol NAME +subprotocol \(repeatable\)$/m);
    assert.match(help, /^ {6}--no-deflate +no compression$/m);
    assert.match(help, /^ {2}-q, --quiet +quiet$/m);
    assert.match(help, /^ {2}-h, --help +show this help$/m);
  });
});
