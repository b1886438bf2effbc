// The run page: a chart per metric key, from the compare view's JSON endpoint.
import { chartElement, draw, fetchCharts } from "./charts.js";

const container = document.getElementById("run-charts");
if (container) {
  fetchCharts(container.dataset.url)
    .then(async (body) => {
      container.querySelector(".loading")?.remove();
      for (const [index, chart] of body.charts.entries()) {
        await draw(chartElement(container, `run-chart-${index}`, chart.metric), chart.figure);
      }
      container.dataset.ready = "true";
    })
    .catch((error) => {
      container.textContent = `Charts could not be loaded: ${error.message}`;
    });
}
