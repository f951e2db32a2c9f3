// The demo page's body markup: the echo and chat panels whose element ids page-script.ts looks up (page.ts
// puts the server's host in place of HOST). Apart from the script and the stylesheet: HTML in a template
// literal, read and changed on its own.

export const PAGE_BODY = `
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
