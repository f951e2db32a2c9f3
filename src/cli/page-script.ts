import { CHAT_CLOSE } from "./chat-room-options.js";

// The demo page's script (page.ts puts it inline and hashes it for the Content-Security-Policy), and the
// options its chat gives ResumableWebSocket. Apart from the markup and the stylesheet: it is a program of its
// own, in plain browser JavaScript, inside a template literal.

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
export const PAGE_SCRIPT = String.raw`
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
