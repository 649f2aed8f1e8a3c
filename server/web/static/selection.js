// "Export selected as zip" across pages: the ids ticked on any page of one search are kept in
// sessionStorage (per tab, per search), counted in "n selected", and all sent with the form.
// The button is disabled while nothing is selected.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const count = document.getElementById("selection-count");
  const button = document.getElementById("export-selected");
  const clear = document.getElementById("selection-clear");

  // The search, without the paging: the same selection on every page of it.
  const params = new URLSearchParams(location.search);
  for (const key of ["cursor", "page", "limit"]) params.delete(key);
  params.sort();
  const key = "mailarchive.selection?" + params.toString();

  const load = () => new Set(JSON.parse(sessionStorage.getItem(key) || "[]"));
  const save = (ids) => sessionStorage.setItem(key, JSON.stringify([...ids]));
  const boxes = () => form.querySelectorAll("input[name=id]");

  function show(ids) {
    count.textContent = count.dataset.label.replace("__N__", ids.size.toLocaleString());
    button.disabled = ids.size === 0;
    clear.hidden = ids.size === 0;
  }

  const ids = load();
  for (const box of boxes()) box.checked = ids.has(box.value);
  show(ids);

  // Bubbling: runs after the "select all on this page" handler has ticked the boxes.
  form.addEventListener("change", () => {
    const current = load();
    for (const box of boxes()) box.checked ? current.add(box.value) : current.delete(box.value);
    save(current);
    show(current);
  });

  clear.addEventListener("click", () => {
    save(new Set());
    for (const box of boxes()) box.checked = false;
    const all = document.getElementById("select-all");
    if (all) all.checked = false;
    show(new Set());
  });

  // Ids ticked on other pages travel as hidden fields.
  form.addEventListener("submit", () => {
    const onPage = new Set([...boxes()].map((box) => box.value));
    for (const id of load()) {
      if (onPage.has(id)) continue;
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "id";
      hidden.value = id;
      hidden.className = "carried-selection";
      form.appendChild(hidden);
    }
  });
  // Back from the download (bfcache): drop the carried fields so they are not sent twice.
  window.addEventListener("pageshow", () => form.querySelectorAll(".carried-selection").forEach((el) => el.remove()));
});
