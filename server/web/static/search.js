// Search page helpers (no inline script: the console's CSP may forbid it).
document.addEventListener("DOMContentLoaded", () => {
  // "Select all on this page" for the results table.
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll("#bulk-form input[name=id]")) box.checked = all.checked;
    });
  }
  // Quick picks fill the range and submit the form, keeping criteria typed but not yet searched.
  const form = document.getElementById("search-form");
  for (const link of document.querySelectorAll("a.quick-pick")) {
    link.addEventListener("click", (event) => {
      if (!form) return;
      event.preventDefault();
      form.elements["from"].value = link.dataset.from;
      form.elements["to"].value = link.dataset.to;
      form.requestSubmit();
    });
  }
  // Sort order and page size apply as soon as they are chosen (the Apply button is for no-script).
  const options = document.getElementById("view-options");
  if (options) {
    for (const select of options.querySelectorAll("select")) select.addEventListener("change", () => options.requestSubmit());
  }
});
