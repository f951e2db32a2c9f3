// The demo page's stylesheet (page.ts puts it inline and hashes it for the Content-Security-Policy). Apart from
// the markup and the script: CSS in a template literal, read and changed on its own.

export const PAGE_STYLE = `
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
