// Shared by the run and compare pages: fetch chart JSON and draw it with plotly.js.
export const PLOT_CONFIG = { responsive: true, displaylogo: false };

export async function fetchCharts(url, signal) {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `The server answered ${response.status}.`);
  return body;
}

export function draw(element, figure) {
  return window.Plotly.react(element, figure.data, figure.layout, PLOT_CONFIG);
}

export function chartElement(container, id, metric) {
  let element = document.getElementById(id);
  if (!element) {
    element = document.createElement("div");
    element.id = id;
    element.className = "chart";
    container.appendChild(element);
  }
  element.dataset.metric = metric;
  return element;
}
