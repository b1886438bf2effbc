// The compare view: every control change updates the page's query string (so the address
// can be shared) and redraws from the JSON endpoint with that same query string.
import { chartElement, draw, fetchCharts } from "./charts.js";

const form = document.getElementById("compare-controls");
const status = document.getElementById("chart-status");
const metricCharts = document.getElementById("metric-charts");
const parallel = document.getElementById("parallel-chart");
const scatter = document.getElementById("scatter-chart");
const smoothing = document.getElementById("smoothing");
let controller = null;

const queryString = () => {
  const params = new URLSearchParams();
  const data = new FormData(form);
  const metrics = [...form.querySelectorAll(".metric-choice:checked")].map((box) => box.value);
  data.set("metrics", metrics.join(","));
  for (const [key, value] of data.entries()) {
    if (value !== "" && !(key === "smooth" && Number(value) === 0)) params.set(key, value);
  }
  return params.toString();
};

// plotly.js takes about half a second for a chart of 500 runs in Chromium: thirty of them
// drawn at once held the page for 15 s. Past LAZY_FROM traces, a chart is drawn when it comes
// within a window's height of the window, and the page is ready once those in reach are.
const LAZY_FROM = 1000;
let observer = null;
let generation = 0;

const drawAll = async (figures) => {
  if (observer) observer.disconnect();
  const current = ++generation;
  // A draw queued by an earlier render is dropped, not drawn over this one's.
  const drawOne = async (element, figure) => {
    if (current !== generation) return;
    await draw(element, figure);
    element.dataset.drawn = "true";
  };
  const traces = figures.reduce((total, [, figure]) => total + figure.data.length, 0);
  if (traces < LAZY_FROM) {
    for (const [element, figure] of figures) await drawOne(element, figure);
    return;
  }
  const waiting = new Map(figures);
  let drawing = Promise.resolve();
  observer = new IntersectionObserver((entries, self) => {
    for (const entry of entries) {
      if (!entry.isIntersecting || !waiting.has(entry.target)) continue;
      const figure = waiting.get(entry.target);
      waiting.delete(entry.target);
      self.unobserve(entry.target);
      entry.target.dataset.drawn = "pending";
      drawing = drawing.then(() => drawOne(entry.target, figure));
    }
  }, { rootMargin: "100% 0px" });
  for (const [element] of figures) {
    element.dataset.drawn = "false";
    window.Plotly.purge(element);
    observer.observe(element);
  }
  // An observer reports on every element at the next frame: then draw those in reach.
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  await drawing;
};

const render = async () => {
  if (controller) controller.abort();
  controller = new AbortController();
  const query = queryString();
  window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
  status.textContent = "Loading charts…";
  document.body.dataset.chartsReady = "false";
  try {
    const body = await fetchCharts(`${form.dataset.dataUrl}?${query}`, controller.signal);
    const wanted = new Set();
    const figures = [];
    for (const [index, chart] of body.charts.entries()) {
      const id = `chart-${index}`;
      wanted.add(id);
      figures.push([chartElement(metricCharts, id, chart.metric), chart.figure]);
    }
    for (const element of [...metricCharts.children]) {
      if (!wanted.has(element.id)) { window.Plotly.purge(element); element.remove(); }
    }
    for (const [element, figure] of [[parallel, body.parallel], [scatter, body.scatter]]) {
      if (figure) figures.push([element, figure]); else { window.Plotly.purge(element); element.replaceChildren(); }
    }
    await drawAll(figures);
    const sampled = body.charts.reduce((total, chart) => total + chart.sampled, 0);
    status.textContent = sampled
      ? `${sampled} trace(s) downsampled on the server: each bucket's min and max are kept, so spikes stay visible.`
      : "";
    document.body.dataset.chartsReady = "true";
  } catch (error) {
    if (error.name === "AbortError") return;
    status.textContent = `Charts could not be drawn: ${error.message}`;
    document.body.dataset.chartsReady = "error";
  }
};

form.addEventListener("change", render);
form.addEventListener("submit", (event) => { event.preventDefault(); render(); });
smoothing.addEventListener("input", () => {
  document.getElementById("smoothing-value").textContent = smoothing.value;
});
render();
