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
    for (const [index, chart] of body.charts.entries()) {
      const id = `chart-${index}`;
      wanted.add(id);
      await draw(chartElement(metricCharts, id, chart.metric), chart.figure);
    }
    for (const element of [...metricCharts.children]) {
      if (!wanted.has(element.id)) { window.Plotly.purge(element); element.remove(); }
    }
    for (const [element, figure] of [[parallel, body.parallel], [scatter, body.scatter]]) {
      if (figure) await draw(element, figure); else { window.Plotly.purge(element); element.replaceChildren(); }
    }
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
