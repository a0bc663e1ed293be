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

// Security keys and passkeys (WebAuthn): buttons marked data-webauthn register a key on the
// profile page ("register"), finish a waiting sign-in ("sign-in-second-factor") or sign in
// without a password by the user name typed ("sign-in"). The server's options and the
// authenticator's answers travel as JSON with binary fields in base64url.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !window.fetch) { return; }
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), a = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { a[i] = bin.charCodeAt(i); }
    return a.buffer;
  }
  function toText(b) {
    if (!b) { return null; }
    var a = new Uint8Array(b), s = "";
    for (var i = 0; i < a.length; i++) { s += String.fromCharCode(a[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body, csrf) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.error ? j.error.message : "the request failed"); }
        return j;
      });
    });
  }
  function fail(e) {
    var box = document.getElementById("webauthn-error");
    if (box) { box.textContent = e && e.message ? e.message : String(e); box.hidden = false; }
  }
  function register(button) {
    var name = document.getElementById("security-key-name");
    post("/api/v1/me/security-keys/begin", {}, button.dataset.csrf).then(function (c) {
      var o = c.options.publicKey;
      o.challenge = toBuf(o.challenge);
      o.user.id = toBuf(o.user.id);
      (o.excludeCredentials || []).forEach(function (x) { x.id = toBuf(x.id); });
      return navigator.credentials.create({ publicKey: o }).then(function (cred) {
        return post("/api/v1/me/security-keys", {
          challenge_id: c.challenge_id,
          name: name ? name.value : "Security key",
          credential: {
            id: cred.id, rawId: toText(cred.rawId), type: cred.type,
            extensions: cred.getClientExtensionResults(),
            response: {
              attestationObject: toText(cred.response.attestationObject),
              clientDataJSON: toText(cred.response.clientDataJSON)
            }
          }
        }, button.dataset.csrf);
      });
    }).then(function (added) {
      if (added.recovery_codes) {
        var box = document.getElementById("webauthn-error");
        box.className = "flash";
        box.textContent = "Key added. Save these recovery codes now; they are not shown again: " + added.recovery_codes.join("  ");
        box.hidden = false;
        box.id = "recovery-codes";
      } else {
        window.location.reload();
      }
    }).catch(fail);
  }
  function signIn(button) {
    var user = document.getElementById("username");
    var body = user ? { username: user.value } : {};
    post("/api/v1/auth/security-key/begin", body, button.dataset.csrf).then(function (c) {
      var o = c.options.publicKey;
      o.challenge = toBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (x) { x.id = toBuf(x.id); });
      return navigator.credentials.get({ publicKey: o }).then(function (cred) {
        return post("/api/v1/auth/security-key", {
          challenge_id: c.challenge_id,
          credential: {
            id: cred.id, rawId: toText(cred.rawId), type: cred.type,
            extensions: cred.getClientExtensionResults(),
            response: {
              authenticatorData: toText(cred.response.authenticatorData),
              clientDataJSON: toText(cred.response.clientDataJSON),
              signature: toText(cred.response.signature),
              userHandle: toText(cred.response.userHandle)
            }
          }
        }, button.dataset.csrf);
      });
    }).then(function () {
      window.location.href = button.dataset.next || "/";
    }).catch(fail);
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-webauthn]");
    if (!b) { return; }
    e.preventDefault();
    if (b.dataset.webauthn === "register") { register(b); } else { signIn(b); }
  });
})();
