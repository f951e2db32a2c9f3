import type { IncomingMessage } from "node:http";
import { PubSubError } from "./adapter.js";
import { messageOf } from "./resume-record-saves.js";

/**
 * Who a resume connection belongs to: `identify`'s answer for its request (the server's resume.identify;
 * "" without one, or for undefined/null). Null when it throws or answers no string: reported, and the
 * connection is not to be served (docs/resume.md).
 */
export function identityOf(
  identify: ((request: IncomingMessage) => string) | null,
  request: IncomingMessage,
  report: (error: Error) => void,
): string | null {
  if (identify === null) return "";
  let identity: unknown;
  try {
    identity = identify(request);
  } catch (error) {
    report(
      new PubSubError(
        "SJ_ERR_RESUME_IDENTIFY",
        `resume.identify threw: ${messageOf(error)}`,
        undefined,
        error,
      ),
    );
    return null;
  }
  if (identity === undefined || identity === null) return "";
  if (typeof identity === "string") return identity;
  report(
    new PubSubError(
      "SJ_ERR_RESUME_IDENTIFY",
      `resume.identify must return a string, not ${typeof identity}`,
      undefined,
      undefined,
    ),
  );
  return null;
}
