// The deletion job page: polls the job in the portal API and updates the page until it ends.
const section = document.getElementById("job");
const FINAL = new Set(["deleted", "failed"]);
const POLL_MS = 1000;

function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

function render(job) {
  const state = document.getElementById("job-state");
  state.textContent = job.state_display;
  state.dataset.state = job.state;
  state.className = `state state-${job.state}`;
  document.getElementById("job-percent").textContent = job.percent.toFixed(1);
  document.getElementById("job-progress").value = job.percent;
  document.getElementById("job-left").textContent =
    job.objects_left === null ? "counting…" : `${job.objects_left} objects left`;
  for (const cell of section.querySelectorAll("[data-field]")) {
    const value = job[cell.dataset.field];
    cell.textContent = value === null ? "…" : value;
  }
  document.getElementById("job-enqueue-error").textContent = job.enqueue_error;
  show("job-waiting", job.waiting_for_queue);
  document.getElementById("job-error").textContent = job.error;
  show("job-failed", job.state === "failed");
  document.getElementById("job-retry-error").textContent = job.error;
  show("job-retrying", job.state !== "failed" && job.error !== "");
  if (job.finished_at) {
    // The same UTC form the page is rendered with.
    document.getElementById("job-finished-at").textContent = job.finished_at.replace("T", " ").slice(0, 19);
    show("job-finished", true);
  }
}

async function poll() {
  try {
    const response = await fetch(section.dataset.url, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const job = await response.json();
      render(job);
      if (FINAL.has(job.state)) return;
    }
  } catch (error) {
    // The portal restarting or the network blinking: try again on the next tick.
  }
  setTimeout(poll, POLL_MS);
}

if (!FINAL.has(document.getElementById("job-state").dataset.state)) {
  setTimeout(poll, POLL_MS);
}
