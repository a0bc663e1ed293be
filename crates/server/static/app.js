// Progressive enhancement only: pages work without it. On pages marked data-live, server-sent
// events (scan finished, host changed) refresh the page's main content in place.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource || !window.fetch) { return; }
  var pending = null;
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
  var events = new EventSource("/api/v1/events");
  ["scan.completed", "host.changed", "scan.started", "scan.queued"].forEach(function (kind) {
    events.addEventListener(kind, function () { if (!pending) { pending = setTimeout(refresh, 300); } });
  });
})();
