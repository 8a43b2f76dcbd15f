// A small SVG bar chart (no library): one bar per day, with a text table for screen
// readers and a <title> per bar.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** points: [{label, value}] → an <svg> figure titled `title`. */
export function barChart(title, points, format = (v) => String(v)) {
  const width = 600;
  const height = 160;
  const pad = 24;
  const top = Math.max(0, ...points.map((p) => p.value));
  const max = top > 0 ? top : 1; // the tallest bar fills the chart, whatever the unit
  const step = (width - pad) / Math.max(1, points.length);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + pad}`, role: "img", class: "chart" });
  const name = svg("title", {});
  name.textContent = title;
  root.append(name);
  points.forEach((p, i) => {
    const barHeight = (p.value / max) * (height - 8);
    const bar = svg("rect", {
      x: pad + i * step + 2,
      y: height - barHeight,
      width: Math.max(2, step - 4),
      height: barHeight,
      class: "bar",
    });
    const tip = svg("title", {});
    tip.textContent = `${p.label}: ${format(p.value)}`;
    bar.append(tip);
    root.append(bar);
  });
  const axis = svg("line", { x1: pad, y1: height, x2: width, y2: height, class: "axis" });
  root.append(axis);
  const maxLabel = svg("text", { x: 0, y: 12, class: "tick" });
  maxLabel.textContent = format(top);
  root.append(maxLabel);
  if (points.length) {
    for (const [i, anchor] of [[0, "start"], [points.length - 1, "end"]]) {
      const label = svg("text", { x: anchor === "start" ? pad : width, y: height + 16, class: "tick", "text-anchor": anchor });
      label.textContent = points[i].label;
      root.append(label);
    }
  }
  return root;
}
