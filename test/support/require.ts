// When a test needs something from the system (redis-server, Chromium) that is missing, it skips with a
// clear reason, unless the environment says that thing is required (CI sets SOCKJET_REQUIRE_REDIS=1 and
// SOCKJET_REQUIRE_BROWSER=1): then the missing tool is a failure, so a broken CI image cannot turn the
// scale-out or browser tests into silent skips.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * `reason` when the tool is missing and `requireVar` is not "1" (pass it as node:test's `skip`), false when
 * the tool is there; throws when it is missing and required.
 */
export function skipUnlessAvailable(available: boolean, reason: string, requireVar: string): string | false {
  if (available) return false;
  if (process.env[requireVar] === "1")
    throw new Error(`${reason}; ${requireVar}=1 forbids skipping these tests`);
  return reason;
}

export const REDIS_BINARY = "redis-server";
export const CHROMIUM = "/usr/bin/chromium";

/** Why the tests that start a real redis-server cannot run here, or false when they can. */
export function redisSkip(): string | false {
  const probe = spawnSync(REDIS_BINARY, ["--version"], { encoding: "utf8" });
  return skipUnlessAvailable(
    probe.status === 0,
    `'${REDIS_BINARY}' is not installed, so the tests that need a real Redis cannot start one ` +
      "(Debian: apt-get install -y redis-server; .ci/run installs it)",
    "SOCKJET_REQUIRE_REDIS",
  );
}

/** Why the browser tests cannot run here, or false when they can. */
export function browserSkip(): string | false {
  return skipUnlessAvailable(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install it (apt-get install -y chromium) to run the browser tests; CI does`,
    "SOCKJET_REQUIRE_BROWSER",
  );
}

/**
 * A shell command that runs `command` in a fresh network namespace whose loopback has `addresses` (IPv6,
 * with their prefix). Needs root, unshare (util-linux) and ip (iproute2).
 */
export function inNetworkNamespace(addresses: string[], command: string): string[] {
  const setup = ["ip link set lo up", ...addresses.map((a) => `ip -6 addr add ${a} dev lo nodad`)];
  return ["unshare", "-n", "sh", "-c", `${setup.join(" && ")} && exec ${command}`];
}

/** Why the tests that need their own network namespace (IPv6 addresses of our choosing) cannot run here. */
export function networkNamespaceSkip(): string | false {
  const [command, ...args] = inNetworkNamespace([], "true");
  const probe = spawnSync(command, args, { timeout: 10_000 });
  return skipUnlessAvailable(
    probe.status === 0,
    "cannot run `unshare -n` with `ip` (needs root, util-linux and iproute2: apt-get install -y iproute2), so " +
      "the tests that bind IPv6 addresses of their own cannot run; .ci/run installs iproute2 and runs as root",
    "SOCKJET_REQUIRE_NETNS",
  );
}
