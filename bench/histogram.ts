/**
 * The latency-histogram picture: per-message latency samples of several series drawn as step lines
 * over log-spaced bins (log x axis), as a self-contained SVG with no dependency.
 */
export interface Series {
  label: string;
  /** Per-message latencies, µs. */
  samples: Float64Array | number[];
}

const COLORS = ["#1b6ac9", "#d1495b", "#2e8b57", "#e69f00", "#7b3294", "#555555"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Renders the series as an SVG document (fraction of messages per bin against latency). */
export function histogramSvg(title: string, series: Series[], bins = 60): string {
  const W = 900, H = 480, L = 70, R = 20, T = 40, B = 60;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const s of series) for (const v of s.samples) if (v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  lo = Math.max(0.01, Number.isFinite(lo) ? lo : 0.01);
  hi = Math.max(hi, lo * 10);
  const l0 = Math.log10(lo), l1 = Math.log10(hi * 1.0001);
  const binOf = (v: number): number => Math.min(bins - 1, Math.max(0, Math.floor(((Math.log10(Math.max(v, lo)) - l0) / (l1 - l0)) * bins)));
  const hists = series.map((s) => {
    const h = new Array<number>(bins).fill(0);
    for (const v of s.samples) h[binOf(v)]! += 1;
    return h.map((c) => c / Math.max(1, s.samples.length));
  });
  const ymax = hists.reduce((m, h) => h.reduce((a, f) => Math.max(a, f), m), 1e-9);
  const x = (i: number): number => L + (i / bins) * (W - L - R);
  const y = (f: number): number => H - B - (f / ymax) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (let d = Math.ceil(l0); d <= Math.floor(l1); d++) {
    const px = L + ((d - l0) / (l1 - l0)) * (W - L - R);
    out.push(`<line x1="${px}" y1="${H - B}" x2="${px}" y2="${H - B + 5}" stroke="black"/>`, `<text x="${px}" y="${H - B + 18}" text-anchor="middle">${10 ** d} µs</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const f = (ymax * k) / 4;
    out.push(`<text x="${L - 6}" y="${y(f) + 4}" text-anchor="end">${(f * 100).toFixed(1)}%</text>`);
  }
  out.push(`<text x="${W / 2}" y="${H - 15}" text-anchor="middle">latency per message (log scale)</text>`);
  hists.forEach((h, si) => {
    const c = COLORS[si % COLORS.length]!;
    const pts: string[] = [];
    h.forEach((f, i) => pts.push(`${x(i).toFixed(1)},${y(f).toFixed(1)}`, `${x(i + 1).toFixed(1)},${y(f).toFixed(1)}`));
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${pts.join(" ")}"/>`);
    out.push(`<rect x="${W - R - 220}" y="${T + 6 + si * 18}" width="12" height="12" fill="${c}"/>`, `<text x="${W - R - 202}" y="${T + 16 + si * 18}">${esc(series[si]!.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
