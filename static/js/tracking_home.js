// The mlflow client prints `<tracking URI>/#/experiments/<id>/runs/<id>` when a run ends, and
// `<tracking URI>/#/experiments/<id>` for the experiment. Turn those into portal pages.
const runMatch = window.location.hash.match(/^#\/experiments\/([^/]+)\/runs\/([0-9a-zA-Z-]+)/);
const experimentMatch = window.location.hash.match(/^#\/experiments\/([0-9]+)\/?$/);
if (runMatch) {
  document.getElementById("run-link").hidden = false;
  window.location.replace(`/runs/${encodeURIComponent(runMatch[2])}/`);
} else if (experimentMatch) {
  const workspaceUrl = document.getElementById("run-link").dataset.workspaceUrl;
  if (workspaceUrl) {
    window.location.replace(`${workspaceUrl}experiments/${encodeURIComponent(experimentMatch[1])}/`);
  }
}
