// The console's frame (every page; no inline script, the CSP forbids it): the menu button that
// opens and closes the navigation under 900 px, and the column labels that let tables reflow into
// cards on phones (the CSS shows each cell's data-label in front of it).
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("menu-button");
  const nav = document.getElementById("sidenav");
  if (button && nav) {
    const setOpen = (open) => {
      document.body.classList.toggle("nav-open", open);
      button.setAttribute("aria-expanded", String(open));
    };
    button.addEventListener("click", () => {
      const open = !document.body.classList.contains("nav-open");
      setOpen(open);
      if (open) nav.querySelector("a")?.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
        setOpen(false);
        button.focus();
      }
    });
  }
  for (const table of document.querySelectorAll("table.grid")) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.replace(/\s+/g, " ").trim());
    if (!heads.length) continue;
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (!cell.hasAttribute("data-label") && heads[i]) cell.dataset.label = heads[i];
      });
    }
  }
});
