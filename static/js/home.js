// The root tracking URI (MLflow's native workspaces) prints run and experiment links as
// `<portal>/#/experiments/<id>/runs/<id>`: open the portal's pages for them.
const runMatch = window.location.hash.match(/^#\/experiments\/([^/]+)\/runs\/([0-9a-fA-F]{32})/);
const experimentMatch = window.location.hash.match(/^#\/experiments\/([1-9][0-9]*)\/?$/);
if (runMatch) {
  document.getElementById("run-link").hidden = false;
  window.location.replace(`/runs/${encodeURIComponent(runMatch[2])}/`);
} else if (experimentMatch) {
  window.location.replace(`/experiments/${encodeURIComponent(experimentMatch[1])}/`);
}
