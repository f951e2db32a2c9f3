// The echo part's chart (docs/bench-echo.svg): throughput relative to raw TCP, grouped by payload size.
import { MANY_CONNS } from "./echo.js";
import { med, pick, TARGET_CONNS, TARGETS } from "./echo-summary.js";
import { options, records, unavailable } from "./harness.js";
import { CONTENDERS, type ContenderName, formatRate, formatSize } from "./lib.js";

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderSvg(): string {
  const cs = options.only.filter((c) => !unavailable.has(c));
  const groups: { label: string; target?: number; values: Map<ContenderName, number> }[] = [];
  for (const size of options.sizes) {
    const values = new Map(cs.map((c) => [c, med(pick("echo", c, size), (r) => r.msgsPerS)] as const));
    groups.push({ label: formatSize(size), target: TARGETS[String(size)], values });
  }
  groups.push({
    label: `${MANY_CONNS.toLocaleString("en-US")} conns, 32 B`,
    target: TARGET_CONNS,
    values: new Map(cs.map((c) => [c, med(pick("conns", c), (r) => r.msgsPerS)] as const)),
  });
  const colors: Record<ContenderName, string> = {
    raw: "#8c8c8c",
    ws: "#4e79a7",
    sockjet: "#f28e2b",
    "sockjet-ab": "#f7c38f",
    serve: "#59a14f",
  };
  const W = 820;
  const H = 400;
  const left = 60;
  const right = 20;
  const top = 76;
  const bottom = 60;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const ratios = groups.flatMap((g) => {
    const base = g.values.get("raw") ?? Number.NaN;
    return [...g.values.values()].map((v) => v / base).filter((r) => Number.isFinite(r));
  });
  const yMax = Math.max(1.25, Math.ceil((Math.max(0, ...ratios) * 1.1) / 0.25) * 0.25);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="24" font-size="15" font-weight="600">Echo throughput relative to raw TCP in Node (higher is better)</text>`,
  );
  out.push(
    `<text x="${left}" y="42" fill="#555">messages/s ÷ raw TCP echo, median of ${options.runs} run(s); labels: messages/s; dashes: sockjet targets</text>`,
  );
  const contended = records.filter((r) => r.contended).length;
  if (contended > 0) {
    const total = records.filter((r) => r.result).length;
    out.push(
      `<text x="${left}" y="60" fill="#c0392b">⚠ ${contended} of ${total} runs were contended by other work on the machine: see BENCHMARKS.md</text>`,
    );
  }
  for (let v = 0; v <= yMax + 1e-9; v += 0.25) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="${v === 0 ? "#333" : "#e3e3e3"}"/>`,
    );
    out.push(`<text x="${left - 8}" y="${yy}" dy="4" text-anchor="end" fill="#555">${v.toFixed(2)}×</text>`);
  }
  const labels: string[] = []; // drawn last, over the target dashes
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(44, (groupW * 0.8) / Math.max(1, cs.length));
  groups.forEach((g, gi) => {
    const base = g.values.get("raw") ?? Number.NaN;
    const gx = left + gi * groupW + (groupW - barW * cs.length) / 2;
    cs.forEach((c, ci) => {
      const value = g.values.get(c) ?? Number.NaN;
      const ratio = value / base;
      const x = gx + ci * barW;
      if (!Number.isFinite(ratio)) return;
      const yy = y(ratio);
      out.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${colors[c]}"><title>${escapeXml(`${c} ${g.label}: ${formatRate(value)} msg/s, ${ratio.toFixed(2)}× raw`)}</title></rect>`,
      );
      labels.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(yy - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">${formatRate(value)}</text>`,
      );
    });
    if (g.target !== undefined && cs.includes("sockjet")) {
      const ci = cs.indexOf("sockjet");
      const x = gx + ci * barW;
      const yy = y(g.target).toFixed(1);
      out.push(
        `<line x1="${(x - 2).toFixed(1)}" x2="${(x + barW + 2).toFixed(1)}" y1="${yy}" y2="${yy}" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 3"/>`,
      );
    }
    out.push(
      `<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(g.label)}</text>`,
    );
  });
  out.push(...labels);
  let lx = left;
  const ly = H - 16;
  for (const c of options.only) {
    const label = unavailable.has(c) ? `${CONTENDERS[c].label} (not measured)` : CONTENDERS[c].label;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[c]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escapeXml(label)}</text>`);
    lx += 30 + label.length * 6.5;
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
