// The mlflow client prints `<tracking URI>/#/experiments/<id>/runs/<id>` when a run ends.
// Turn that fragment into the portal's run page.
const match = window.location.hash.match(/^#\/experiments\/([^/]+)\/runs\/([0-9a-zA-Z-]+)/);
if (match) {
  document.getElementById("run-link").hidden = false;
  window.location.replace(`/runs/${encodeURIComponent(match[2])}/`);
}
