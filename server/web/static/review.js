// Reviewing results at speed on the search page: a focus row moved with j / k or the arrow keys,
// Enter opens it, x ticks its box, Escape closes the preview. On wide screens (>= 1200 px) a
// message opens in the preview pane beside the list (the list, its scroll position and the
// selection stay; moving the focus row then shows the next message); on narrow screens it opens
// as a full page. Ctrl/Cmd/Shift-click still opens a new tab or window.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("results");
  if (!table) return;
  const rows = [...table.querySelectorAll("tbody tr")];
  const review = document.getElementById("review");
  const pane = document.getElementById("preview-pane");
  const frame = document.getElementById("preview-frame");
  const full = document.getElementById("pane-full");
  const wide = window.matchMedia("(min-width: 1200px)");
  let current = -1;

  const paneOpen = () => !pane.hidden && wide.matches;

  function openInPane(row) {
    const url = new URL(row.dataset.href, location.href);
    url.searchParams.set("pane", "1");
    if (frame.dataset.id !== row.dataset.id) {
      frame.dataset.id = row.dataset.id;
      frame.src = url.toString();
    }
    full.href = row.dataset.href;
    pane.hidden = false;
    review.classList.add("with-pane");
    for (const r of rows) r.classList.toggle("opened", r === row);
  }

  function closePane() {
    pane.hidden = true;
    review.classList.remove("with-pane");
    frame.removeAttribute("src");
    delete frame.dataset.id;
    for (const r of rows) r.classList.remove("opened");
    rows[current]?.scrollIntoView({ block: "nearest" });
  }

  function focusRow(index, scroll = true) {
    if (index < 0 || index >= rows.length) return;
    if (rows[current]) {
      rows[current].classList.remove("focused");
      rows[current].removeAttribute("aria-current");
    }
    current = index;
    const row = rows[current];
    row.classList.add("focused");
    row.setAttribute("aria-current", "true");
    if (scroll) row.scrollIntoView({ block: "nearest" });
    if (paneOpen()) openInPane(row);
  }

  function open(row) {
    if (wide.matches) openInPane(row);
    else location.href = row.dataset.href;
  }

  table.addEventListener("click", (event) => {
    const row = event.target.closest("tbody tr");
    if (!row || event.target.closest("input, label, .sel")) return; // ticking a box
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    const onLink = event.target.closest("a");
    if (!wide.matches) {
      if (!onLink) location.href = row.dataset.href; // a phone's card opens wherever it is tapped
      return;
    }
    event.preventDefault();
    focusRow(rows.indexOf(row), false);
    openInPane(row);
  });

  function onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target.closest?.("input:not([type=checkbox]), textarea, select, [contenteditable]")) return;
    if (event.key === "Enter" && target.closest?.("a, button, summary")) return; // their own action
    switch (event.key) {
      case "j":
      case "ArrowDown":
        focusRow(current < 0 ? 0 : current + 1);
        break;
      case "k":
      case "ArrowUp":
        focusRow(current < 0 ? 0 : current - 1);
        break;
      case "Enter":
        if (current < 0) return;
        open(rows[current]);
        break;
      case "x":
        if (current < 0) return;
        rows[current].querySelector("input[type=checkbox]").click(); // selection.js counts it
        break;
      case "Escape":
        if (pane.hidden) return;
        closePane();
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  document.addEventListener("keydown", onKey);
  // Keys pressed while the preview has the focus step through the list too.
  frame.addEventListener("load", () => frame.contentDocument?.addEventListener("keydown", onKey));
  document.getElementById("pane-close").addEventListener("click", closePane);
  document.getElementById("pane-prev").addEventListener("click", () => focusRow(current - 1));
  document.getElementById("pane-next").addEventListener("click", () => focusRow(current + 1));
});
