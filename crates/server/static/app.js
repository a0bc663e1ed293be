// Progressive enhancement only: pages work without it. On pages marked data-live, server-sent
// events (scan finished, host changed) refresh the page's main content in place.
//
// Browsers allow a handful of connections per site and keep earlier pages alive in the
// back/forward cache, so a stream left open by every visited page would soon block the next
// page's loading. The stream is therefore open only while this page is shown: closed when it
// is hidden or left, opened again (with one refresh for what was missed) when it comes back.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource || !window.fetch) { return; }
  var pending = null;
  var events = null;
  function refresh() {
    pending = null;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.querySelector("main");
        if (next) { main.innerHTML = next.innerHTML; main.setAttribute("data-refreshed", String(Date.now())); }
      });
  }
  function later() { if (!pending) { pending = setTimeout(refresh, 300); } }
  function open(missed) {
    if (events || document.hidden) { return; }
    events = new EventSource("/api/v1/events");
    ["scan.completed", "host.changed", "scan.started", "scan.queued", "remediation.updated", "remediation.rollback"].forEach(function (kind) {
      events.addEventListener(kind, later);
    });
    if (missed) { later(); }
  }
  function close() {
    if (events) { events.close(); events = null; }
  }
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", function (e) { open(e.persisted); });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { close(); } else { open(true); }
  });
  open(false);
})();

// Forms marked data-confirm (deletions) ask first; without this script they submit directly.
document.addEventListener("submit", function (e) {
  var ask = e.target.getAttribute && e.target.getAttribute("data-confirm");
  if (ask && !window.confirm(ask)) { e.preventDefault(); }
});
