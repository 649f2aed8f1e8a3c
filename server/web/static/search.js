// "Select all on this page" for the results table (no inline script: the console's CSP forbids it).
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll("#bulk-form input[name=id]")) box.checked = all.checked;
  });
});
