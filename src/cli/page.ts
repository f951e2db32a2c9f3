import { createHash } from "node:crypto";
import { CHAT_CLOSE } from "./chat-room-options.js";

// The demo page `sockjet serve` answers `GET /` with: one self-contained HTML document (no dependencies,
// nothing fetched) whose script uses only the browser's WebSocket API, the very API sockjet implements in
// Node. Received text is only ever put in the page with textContent, never parsed as HTML.

const STYLE = `
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #6b7280; --line: #e3e6eb;
  --accent: #2563eb; --in: #0f766e; --out: #7c3aed; --bad: #b91c1c; --ok: #15803d; --warn: #b45309;
  color-scheme: light;
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--ink); }
header { padding: 20px 28px 8px; }
header h1 { margin: 0; font-size: 22px; letter-spacing: -0.01em; }
header h1 span { color: var(--accent); }
header p { margin: 4px 0 0; color: var(--muted); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 20px; padding: 16px 28px 28px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px;
  display: flex; flex-direction: column; gap: 12px; min-height: 520px; box-shadow: 0 1px 2px rgb(0 0 0 / 4%); }
.panel h2 { margin: 0; font-size: 17px; display: flex; align-items: center; gap: 10px; }
.status { font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px; background: #eef0f3;
  color: var(--muted); }
.status[data-state="open"] { background: #dcfce7; color: var(--ok); }
.status[data-state="connecting"] { background: #fef3c7; color: var(--warn); }
.status[data-state="closed"] { background: #fee2e2; color: var(--bad); }
.count { margin-left: auto; font-size: 13px; font-weight: 500; color: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
dt { color: var(--muted); }
/* One line per row whatever it shows ("—" or a long extension list): no layout shift when a row resets. */
dd { margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
form, .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
input[type="text"] { flex: 1; min-width: 160px; padding: 7px 10px; border: 1px solid var(--line);
  border-radius: 8px; font: inherit; }
input[type="text"]:focus { outline: 2px solid rgb(37 99 235 / 25%); border-color: var(--accent); }
button { padding: 7px 14px; border: 1px solid var(--accent); border-radius: 8px; background: var(--accent);
  color: #fff; font: inherit; font-weight: 500; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button:disabled { opacity: 0.45; cursor: default; }
label, select { font-size: 13px; color: var(--muted); }
select { padding: 4px 6px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.log { list-style: none; margin: 0; padding: 8px 10px; flex: 1; min-height: 220px; max-height: 460px;
  overflow-y: auto; border: 1px solid var(--line); border-radius: 8px; background: #fbfbfc;
  font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.log li { display: flex; gap: 8px; padding: 1px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.log time { color: var(--muted); flex: none; }
.log .dir { flex: none; width: 1em; text-align: center; font-weight: 700; }
.log .in .dir, .log .in .who { color: var(--in); }
.log .out .dir, .log .out .who { color: var(--out); }
.log .mine { background: #f5f3ff; }
.log .size { color: var(--muted); }
.log .info, .log .notice { color: var(--muted); font-style: italic; }
.log .error { color: var(--bad); }
.who { font-weight: 700; }
.actions { margin-left: auto; display: flex; gap: 6px; }
button.small { padding: 3px 10px; font-size: 13px; }
footer { padding: 0 28px 24px; color: var(--muted); font-size: 13px; }
`;

/**
 * The options the page's chat gives its ResumableWebSocket (docs/resume.md). It stops on the chat's refusals
 * as on 1000 and 1008: 4008 is the room's policy refusal (chat-room.ts, as 1008), which a retry meets again.
 */
export const CHAT_CLIENT_OPTIONS = {
  protocols: ["chat"],
  stopCloseCodes: [...new Set([1000, 1008, CHAT_CLOSE.tooManyFromAddress, CHAT_CLOSE.tooMuchBeforeWelcome])],
};

// The page's script: plain ES2020, the WebSocket API and the DOM, nothing else. No template literals here
// (this file is itself a template literal).
const SCRIPT = String.raw`
"use strict";
const $ = (id) => document.getElementById(id);
const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;

function clock() {
  const d = new Date();
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
}

// One log line: time, direction mark, then text parts. Every part goes in with textContent.
function logLine(list, kind, mark, parts) {
  const li = document.createElement("li");
  li.className = kind;
  const time = document.createElement("time");
  time.textContent = clock();
  const dir = document.createElement("span");
  dir.className = "dir";
  dir.textContent = mark;
  const body = document.createElement("span");
  body.className = "text";
  for (const part of parts) {
    const span = document.createElement("span");
    if (typeof part === "string") span.textContent = part;
    else { span.textContent = part.text; span.className = part.className; }
    body.append(span);
  }
  li.append(time, dir, body);
  list.append(li);
  list.scrollTop = list.scrollHeight;
  return body;
}

// A long message is shown cut, with its size: a 5 MiB echo must not flood the log.
const SHOWN_CHARACTERS = 300;
function sizeText(bytes) {
  if (bytes < 1024) return bytes + " bytes";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KiB";
  return (bytes / 1024 / 1024).toFixed(1) + " MiB";
}
function shortened(text) {
  if (text.length <= SHOWN_CHARACTERS) return [text];
  const bytes = new TextEncoder().encode(text).length;
  return [text.slice(0, SHOWN_CHARACTERS) + "…", { text: " (" + sizeText(bytes) + ")", className: "size" }];
}

// Shown (field) as it is, with the whole value as a tooltip when it is cut.
function setField(id, text) {
  $(id).textContent = text;
  $(id).title = text;
}

// After a connection failed: can the server be reached at all? The WebSocket API does not say why
// (on purpose), but a plain request to the page's own origin (allowed by connect-src 'self') can.
function explainFailure(list) {
  fetch(location.origin + "/", { method: "HEAD", cache: "no-store" }).then(
    (response) => logLine(list, "error", "!", ["the server answers HTTP (" + response.status + ") but the WebSocket connection failed"]),
    () => logLine(list, "error", "!", ["the server could not be reached (is it still running?)"]),
  );
}

function setStatus(element, state, text) {
  element.dataset.state = state;
  element.textContent = text;
}

function hex(bytes) {
  const shown = Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > 16 ? shown + " …" : shown;
}

function closeText(event) {
  return "code " + event.code + (event.reason ? ", reason \"" + event.reason + "\"" : "") +
    (event.wasClean ? ", clean" : ", not clean");
}

// Echo panel
const echo = {
  socket: null,
  log: $("echo-log"),
  status: $("echo-status"),
  connect() {
    if (this.socket && this.socket.readyState < WebSocket.CLOSING) this.socket.close(1000, "reconnecting");
    const socket = new WebSocket(base + "/");
    socket.binaryType = $("echo-binary-type").value;
    this.socket = socket;
    setStatus(this.status, "connecting", "connecting…");
    setField("echo-url", socket.url);
    setField("echo-protocol", "—");
    setField("echo-extensions", "—");
    let opened = false;
    $("echo-close").disabled = false;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      opened = true;
      setStatus(this.status, "open", "open");
      setField("echo-protocol", socket.protocol || "none");
      setField("echo-extensions", socket.extensions || "none");
      logLine(this.log, "info", "•", ["connected to " + socket.url]);
      $("echo-send").disabled = false;
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      const data = event.data;
      if (typeof data === "string") {
        logLine(this.log, "in", "←", shortened(data));
      } else if (data instanceof Blob) {
        const body = logLine(this.log, "in", "←", ["Blob, " + sizeText(data.size)]);
        data.arrayBuffer().then((buffer) => {
          const preview = document.createElement("span");
          preview.textContent = ": " + hex(new Uint8Array(buffer));
          body.append(preview);
        });
      } else {
        logLine(this.log, "in", "←", ["ArrayBuffer, " + sizeText(data.byteLength) + ": " + hex(new Uint8Array(data))]);
      }
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) logLine(this.log, "error", "!", ["error event"]);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      setStatus(this.status, "closed", "closed " + event.code);
      logLine(this.log, "info", "•", ["closed: " + closeText(event)]);
      $("echo-send").disabled = true;
      $("echo-close").disabled = true;
      if (!opened) explainFailure(this.log);
    });
  },
  send(text) {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if ($("echo-binary").checked) {
      const bytes = new TextEncoder().encode(text);
      socket.send(bytes);
      logLine(this.log, "out", "→", ["binary, " + sizeText(bytes.length) + ": " + hex(bytes)]);
    } else {
      socket.send(text);
      logLine(this.log, "out", "→", shortened(text));
    }
  },
};

$("echo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("echo-input");
  if (input.value === "") return;
  echo.send(input.value);
  input.value = "";
});
$("echo-binary-type").addEventListener("change", (event) => {
  if (echo.socket) echo.socket.binaryType = event.target.value;
});
$("echo-reconnect").addEventListener("click", () => echo.connect());
$("echo-close").addEventListener("click", () => {
  if (echo.socket && echo.socket.readyState === WebSocket.OPEN) echo.socket.close(1000, "closed from the page");
});

// Chat panel: a resumable session (docs/resume.md) through the server's own /sockjet-resume.js, so that a
// dropped connection or a server restart loses no line: the helper reconnects, the server replays what was
// missed. On a resumed session the first message says which name we had, so that we keep it.
let ResumableWebSocket = null;
const resumeModule = import("/sockjet-resume.js").then((module) => { ResumableWebSocket = module.ResumableWebSocket; });

const chat = {
  socket: null,
  me: null,
  log: $("chat-log"),
  status: $("chat-status"),
  join(name) {
    if (this.socket) return;
    setStatus(this.status, "connecting", "joining…");
    // The name is the one joined with: locked until the session ends.
    $("chat-name").disabled = true;
    resumeModule.then(() => this.open(name), (error) => {
      setStatus(this.status, "closed", "no resume client");
      logLine(this.log, "error", "!", ["could not load /sockjet-resume.js: " + error.message]);
      $("chat-name").disabled = false;
    });
  },
  open(name) {
    const socket = new ResumableWebSocket(base + "/chat?name=" + encodeURIComponent(name), ${JSON.stringify(CHAT_CLIENT_OPTIONS)});
    this.socket = socket;
    const online = (on) => {
      $("chat-input").disabled = !on;
      $("chat-send").disabled = !on;
    };
    // The close that ended a session is shown until the next session; failed attempts meanwhile are not.
    let inSession = false;
    socket.addEventListener("session", (event) => {
      inSession = true;
      if (event.resumed && this.me) socket.send(JSON.stringify({ type: "rejoin", user: this.me }));
      setStatus(this.status, "open", event.resumed ? "resumed" : "joined");
      online(true);
      $("chat-join-button").textContent = "Leave";
      setField("chat-protocol", "sockjet.resume.1");
    });
    socket.addEventListener("resumed", (event) => {
      logLine(this.log, "info", "•", ["resumed: " + event.replayed + " missed message(s) replayed"]);
    });
    socket.addEventListener("reset", (event) => {
      logLine(this.log, "error", "!", ["the session could not be resumed (" + event.reason + "): lines may be missing"]);
    });
    socket.addEventListener("disconnect", (event) => {
      if (!inSession) return;
      inSession = false;
      setStatus(this.status, "connecting", "closed " + event.code + ", reconnecting…");
      logLine(this.log, "info", "•", ["disconnected (code " + event.code + "), reconnecting"]);
      online(false);
    });
    socket.addEventListener("message", (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch (_) { logLine(this.log, "error", "!", ["not JSON"]); return; }
      if (m.type === "welcome") {
        const back = this.me !== null;
        this.me = m.user;
        setField("chat-me", m.user);
        $("chat-users").textContent = m.users + " online";
        logLine(this.log, "notice", "•", ["you " + (back ? "are back" : "joined") + " as " + m.user + " (" + m.users + " online)"]);
      } else if ((m.type === "join" || m.type === "leave") && m.user === this.me) {
        // Our own join notice: the welcome said it already. Our own leave: a resume replays the notice of
        // our dropped connection, and "you are back" follows.
      } else if (m.type === "join" || m.type === "leave") {
        $("chat-users").textContent = m.users + " online";
        logLine(this.log, "notice", "•", [m.user + (m.type === "join" ? " joined" : " left") + " (" + m.users + " online)"]);
      } else if (m.type === "presence") {
        // Many joins and leaves at once, summed up by the server.
        $("chat-users").textContent = m.users + " online";
        logLine(this.log, "notice", "•", [m.joined + " joined, " + m.left + " left (" + m.users + " online)"]);
      } else if (m.type === "message") {
        // One's own lines look different (kind "out", tinted); text is shown cut when long.
        const mine = m.user === this.me;
        logLine(this.log, mine ? "out mine" : "in", "", [{ text: m.user, className: "who" }, ": "].concat(shortened(String(m.text))));
      } else if (m.type === "error") {
        logLine(this.log, "error", "!", [m.error]);
      }
    });
    // The end of the session: Leave, or the helper gave up.
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.me = null;
      setStatus(this.status, "closed", "closed " + event.code);
      logLine(this.log, "info", "•", ["left: code " + event.code]);
      online(false);
      $("chat-join-button").textContent = "Join";
      $("chat-users").textContent = "";
      $("chat-name").disabled = false;
    });
  },
};

$("chat-join").addEventListener("submit", (event) => {
  event.preventDefault();
  if (chat.socket) chat.socket.close(1000, "left");
  else chat.join($("chat-name").value.trim());
});
$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  if (input.value.trim() === "" || !chat.socket || !chat.socket.connected) return;
  chat.socket.send(JSON.stringify({ type: "message", text: input.value }));
  input.value = "";
});

echo.connect();
`;

const BODY = `
<header>
  <h1><span>sockjet</span> demo</h1>
  <p>This page talks to <code>sockjet serve</code> with nothing but the browser's <code>WebSocket</code> API.</p>
</header>
<main>
  <section class="panel" id="echo">
    <h2>Echo <span class="status" id="echo-status">idle</span>
      <span class="actions">
        <button type="button" class="secondary small" id="echo-close" disabled>Close</button>
        <button type="button" class="secondary small" id="echo-reconnect">Reconnect</button>
      </span>
    </h2>
    <dl>
      <dt>URL</dt><dd id="echo-url">—</dd>
      <dt>protocol</dt><dd id="echo-protocol">—</dd>
      <dt>extensions</dt><dd id="echo-extensions">—</dd>
    </dl>
    <form id="echo-form">
      <input type="text" id="echo-input" placeholder="a message to echo" autocomplete="off">
      <button id="echo-send" disabled>Send</button>
    </form>
    <div class="row">
      <label><input type="checkbox" id="echo-binary"> send as binary</label>
      <label>receive binary as
        <select id="echo-binary-type"><option value="blob">Blob</option><option value="arraybuffer">ArrayBuffer</option></select>
      </label>
    </div>
    <ol class="log" id="echo-log" aria-live="polite"></ol>
  </section>
  <section class="panel" id="chat">
    <h2>Chat <span class="status" id="chat-status">not joined</span> <span class="count" id="chat-users"></span></h2>
    <dl>
      <dt>you</dt><dd id="chat-me">—</dd>
      <dt>protocol</dt><dd id="chat-protocol">—</dd>
      <dt>extensions</dt><dd id="chat-extensions">—</dd>
    </dl>
    <form id="chat-join">
      <input type="text" id="chat-name" placeholder="your name (optional)" maxlength="32" autocomplete="off">
      <button id="chat-join-button">Join</button>
    </form>
    <form id="chat-form">
      <input type="text" id="chat-input" placeholder="say something" maxlength="1000" autocomplete="off" disabled>
      <button id="chat-send" disabled>Send</button>
    </form>
    <ol class="log" id="chat-log" aria-live="polite"></ol>
  </section>
</main>
<footer>Echo on <code>/</code>, chat on <code>/chat</code> (JSON, subprotocol <code>chat</code>). Try <code>npx sockjet connect ws://HOST/chat</code> from a terminal.</footer>
`;

/** The demo page as served; `host` is shown in the footer's example command. */
export function renderPage(host: string): string {
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    "<title>sockjet demo</title>\n" +
    `<style>${STYLE}</style>\n</head>\n<body>${BODY.replace("HOST", () => escapeHtml(host))}<script>${SCRIPT}</script>\n</body>\n</html>\n`
  );
}

/** A Content-Security-Policy that allows exactly this page's inline script and style, and WebSockets to itself. */
export function pageSecurityPolicy(): string {
  const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  return [
    "default-src 'none'",
    // 'self': the chat's resume client, /sockjet-resume.js, imported by the inline script.
    `script-src ${hash(SCRIPT)} 'self'`,
    `style-src ${hash(STYLE)}`,
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
