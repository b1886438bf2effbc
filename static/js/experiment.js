// The runs table: column choices go into the query string; checked runs go to the compare
// view; a parent's toggle hides or shows its child rows.
const filters = document.getElementById("run-filters");
const compareForm = document.getElementById("compare-form");
const compareButton = document.getElementById("compare-button");
const selectedCount = document.getElementById("selected-count");
const selectAll = document.getElementById("select-all");

const checked = () => [...document.querySelectorAll(".run-choice:checked")].map((box) => box.value);

const refresh = () => {
  const ids = checked();
  compareButton.disabled = ids.length === 0;
  selectedCount.textContent = `${ids.length} selected`;
  compareForm.querySelector("input[name=runs]").value = ids.join(",");
};

document.querySelectorAll(".run-choice").forEach((box) => box.addEventListener("change", refresh));
selectAll?.addEventListener("change", () => {
  document.querySelectorAll(".run-choice").forEach((box) => { box.checked = selectAll.checked; });
  refresh();
});
refresh();

document.querySelectorAll(".column-choice").forEach((box) => {
  box.addEventListener("change", () => {
    for (const kind of ["params", "metrics"]) {
      const keys = [...document.querySelectorAll(`.column-choice[data-kind=${kind}]:checked`)].map((b) => b.value);
      filters.querySelector(`input[name=${kind}]`).value = keys.join(",");
    }
    filters.requestSubmit();
  });
});

document.querySelectorAll(".toggle-children").forEach((button) => {
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    button.textContent = open ? "▸" : "▾";
    const hide = (parentId, hidden) => {
      document.querySelectorAll(`tr[data-parent-id="${parentId}"]`).forEach((row) => {
        row.hidden = hidden;
        hide(row.dataset.runId, hidden);
      });
    };
    hide(button.dataset.runId, open);
  });
});
