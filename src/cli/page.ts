import { createHash } from "node:crypto";
import { PAGE_BODY } from "./page-markup.js";
import { PAGE_SCRIPT } from "./page-script.js";
import { PAGE_STYLE } from "./page-style.js";

// The demo page `sockjet serve` answers `GET /` with: one self-contained HTML document (no dependencies,
// nothing fetched) whose script uses only the browser's WebSocket API, the very API sockjet implements in
// Node. Received text is only ever put in the page with textContent, never parsed as HTML.
// Its stylesheet, markup and script are in page-style.ts, page-markup.ts and page-script.ts.

/** The demo page as served; `host` is shown in the footer's example command. */
export function renderPage(host: string): string {
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    "<title>sockjet demo</title>\n" +
    `<style>${PAGE_STYLE}</style>\n</head>\n<body>${PAGE_BODY.replace("HOST", () => escapeHtml(host))}<script>${PAGE_SCRIPT}</script>\n</body>\n</html>\n`
  );
}

/** A Content-Security-Policy that allows exactly this page's inline script and style, and WebSockets to itself. */
export function pageSecurityPolicy(): string {
  const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  return [
    "default-src 'none'",
    // 'self': the chat's resume client, /sockjet-resume.js, imported by the inline script.
    `script-src ${hash(PAGE_SCRIPT)} 'self'`,
    `style-src ${hash(PAGE_STYLE)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    // Not framed by any page (CSP Level 3 §6.4.2); X-Frame-Options: DENY says the same to older browsers.
    "frame-ancestors 'none'",
  ].join("; ");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
