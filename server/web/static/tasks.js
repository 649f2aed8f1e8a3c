// Task Center: live progress while a task is queued or running, and the status filter, by
// swapping in the server-rendered panel (/tasks/panel) so the page never renders tasks twice.
(() => {
  const POLL_MS = 2000;
  let timer = null;

  const panel = () => document.getElementById("task-center");

  async function refresh(url) {
    const target = new URL(url || panel().dataset.panelUrl, location.href);
    target.searchParams.set("back", location.pathname + location.search);
    const response = await fetch(target, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("#task-center");
    if (fresh && panel()) panel().replaceWith(fresh);
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (panel() && panel().dataset.active === "true") timer = setTimeout(() => refresh(), POLL_MS);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("#task-center .task-filter a");
    if (!link) return;
    event.preventDefault();
    const url = new URL(panel().dataset.panelUrl, location.href);
    if (link.dataset.status) url.searchParams.set("status", link.dataset.status);
    else url.searchParams.delete("status");
    refresh(url.toString());
  });

  document.addEventListener("DOMContentLoaded", schedule);
})();
