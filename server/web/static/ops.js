// Ops dashboard: draws the charts from the JSON the page carries (#ops-data) with the vendored
// Chart.js (static/vendor/chart.umd.min.js). No network requests: the figures are in the page.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("ops-data").textContent);
  const palette = ["#2f6fb3", "#e08a1e", "#3a9a5b", "#c0392b", "#8e5ab5", "#7f8c8d", "#16a0a0", "#b5a642"];
  const common = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } };

  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) { canvas.parentElement.style.height = "290px"; new Chart(canvas, config); }
  }
  function perSource(series) {
    return Object.keys(series).map((source, n) => ({ label: source, data: series[source], backgroundColor: palette[n], stack: "s" }));
  }
  function bars(id, buckets, label, horizontal) {
    chart(id, { type: "bar", data: { labels: Object.keys(buckets), datasets: [{ label: label, data: Object.values(buckets), backgroundColor: palette[0] }] },
      options: { ...common, indexAxis: horizontal ? "y" : "x", plugins: { legend: { display: false } } } });
  }
  const stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };
  const days = data.days.map((d) => d.slice(5));
  chart("chart-messages", { type: "bar", data: { labels: days, datasets: perSource(data.messages_per_day) }, options: { ...common, scales: stacked } });
  const mb = {};
  for (const source of Object.keys(data.bytes_per_day)) { mb[source] = data.bytes_per_day[source].map((b) => b / 1048576); }
  chart("chart-bytes", { type: "bar", data: { labels: days, datasets: perSource(mb) },
    options: { ...common, scales: { ...stacked, y: { stacked: true, beginAtZero: true, title: { display: true, text: "MiB" } } } } });
  const outcomes = Object.keys(Object.values(data.outcomes)[0] || {});
  chart("chart-outcomes", { type: "bar", data: { labels: outcomes,
    datasets: Object.keys(data.outcomes).map((source, n) => ({ label: source, data: outcomes.map((o) => data.outcomes[source][o]), backgroundColor: palette[n] })) },
    options: { ...common, scales: { y: { beginAtZero: true } } } });
  bars("chart-departments", data.top_departments, "messages", true);
  bars("chart-mailboxes", data.top_mailboxes, "messages", true);
  bars("chart-flags", data.flags, "messages", false);
  bars("chart-exports", data.export_tasks, "tasks", false);
  document.body.dataset.chartsReady = String(Object.keys(Chart.instances).length);
})();
