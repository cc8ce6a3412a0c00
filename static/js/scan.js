/* Youth Hub scan page: camera decoding, feedback, and scanning on when the network drops.
 *
 * Without this file the page still works: the form posts the code and the server answers.
 * With it: the camera reads QR codes (the decoder is loaded only when the camera starts),
 * a beep or vibration follows each answer, and offline scans are verified on the phone with
 * the program's Ed25519 public keys, queued in IndexedDB and sent when the network returns.
 */
(function () {
  "use strict";

  var PAGES_KEY = "yh-offline-pages";  // the program pages this phone kept for offline use
  var MAX_PAGES = 40;
  var RECENT_KEEP = 50;                // offline scans kept for the "last scans" list

  /* The scan page's address as the service worker keys it: one per program and session choice. */
  function pageKey(slug, session) {
    return "/scan?program=" + encodeURIComponent(slug || "") + "&session=" + encodeURIComponent(session || "");
  }

  function readPages() {
    try { return JSON.parse(localStorage.getItem(PAGES_KEY) || "{}") || {}; } catch (e) { return {}; }
  }

  /* The offline page (served by the service worker for a program never opened online): list the
     program pages this phone did keep, checked against the cache itself. */
  async function listOfflinePrograms(list) {
    var pages = readPages();
    var entries = Object.keys(pages).map(function (k) { return pages[k]; }).filter(function (p) {
      return p && typeof p.url === "string" && p.url.indexOf("/scan?program=") === 0;
    });
    entries.sort(function (a, b) { return String(b.at).localeCompare(String(a.at)); });
    var shown = 0;
    for (var i = 0; i < entries.length; i++) {
      var kept = null;
      try { kept = window.caches ? await caches.match(entries[i].url, { ignoreVary: true }) : null; } catch (e) { kept = null; }
      if (!kept) { continue; }
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = entries[i].url;
      link.dataset.program = entries[i].program || "";
      link.textContent = entries[i].title || entries[i].program;
      item.appendChild(link);
      if (entries[i].session) {
        var session = document.createElement("span");
        session.className = "hint";
        session.textContent = " · " + entries[i].session;
        item.appendChild(session);
      }
      list.appendChild(item);
      shown++;
    }
    var none = document.getElementById("offline-programs-none");
    if (none) { none.hidden = shown > 0; }
  }

  var offlineList = document.getElementById("offline-programs");
  if (document.getElementById("scan-offline") && offlineList) {
    var retry = document.getElementById("offline-retry");
    if (retry) { retry.href = location.href; }
    listOfflinePrograms(offlineList);
    return;
  }

  var app = document.getElementById("scan-app");
  if (!app) { return; }
  var strings = (document.getElementById("scan-strings") || app).dataset;
  var programSlug = app.dataset.program;
  var csrf = app.dataset.csrf;
  var BUNDLE_KEY = "yh-bundle:" + programSlug;
  var DEVICE_KEY = "yh-device-id";
  var SYNC_EVERY_MS = 15000;
  var BUNDLE_EVERY_MS = 60000;
  var BATCH_SIZE = 200;

  var bundle = readBundle();
  var localSeen = {};      // "ticket:session" admitted online since the bundle was fetched
  var keyCache = {};       // kid -> CryptoKey
  var inFlight = false;    // a scan request is on its way
  var syncing = false;
  var lastPayload = "";

  // ------------------------------------------------------------------ small helpers

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function deviceId() {
    var id = null;
    try { id = localStorage.getItem(DEVICE_KEY); } catch (e) { /* private mode */ }
    if (!id) {
      id = "d-" + randomHex(12);
      try { localStorage.setItem(DEVICE_KEY, id); } catch (e) { /* kept for this page only */ }
    }
    return id;
  }

  function fillDeviceIds() {
    var id = deviceId();
    document.querySelectorAll("input.device-id").forEach(function (input) { input.value = id; });
  }

  /* Only this program's own data: a bundle kept for another program never verifies here. */
  function bundleFits(data) {
    return Boolean(data && data.program && data.program.slug === programSlug &&
                   String(data.program.id) === String(app.dataset.programId));
  }

  function readBundle() {
    var data = null;
    try { data = JSON.parse(localStorage.getItem(BUNDLE_KEY) || "null"); } catch (e) { data = null; }
    return bundleFits(data) ? data : null;
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  // ------------------------------------------------------------------ feedback

  var audio = null;
  function feedback(tone) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      var notes = tone === "green" ? [[880, 0.12]] : tone === "amber" ? [[520, 0.18], [520, 0.18]] : [[220, 0.4]];
      var at = audio.currentTime;
      notes.forEach(function (note) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = tone === "red" ? "square" : "sine";
        osc.frequency.value = note[0];
        gain.gain.value = 0.12;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(at);
        osc.stop(at + note[1]);
        at += note[1] + 0.08;
      });
    } catch (e) { /* no sound: the colour still says it */ }
    if (navigator.vibrate) {
      navigator.vibrate(tone === "green" ? 80 : tone === "amber" ? [80, 60, 80] : [250, 100, 250]);
    }
  }

  // ------------------------------------------------------------------ the ticket text

  function b64urlToBytes(text) {
    if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) { throw new Error("b64"); }
    var padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice(0, (4 - text.length % 4) % 4);
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function bytesToB64url(bytes) {
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function readVarint(bytes, pos) {
    var value = 0;
    var scale = 1;
    while (pos < bytes.length && scale <= Math.pow(2, 49)) {
      var b = bytes[pos++];
      value += (b & 0x7f) * scale;
      if (!(b & 0x80)) { return [value, pos]; }
      scale *= 128;
    }
    throw new Error("truncated");
  }

  /* `YH1.<p>.<s>` exactly as youth_hub/tickets/signing.py builds it: p = 4-byte key id, then
     ticket id and program id as LEB128 varints; s = Ed25519 over the ASCII of `YH1.<p>`. */
  function parseTicket(text) {
    text = (text || "").trim();
    if (text.length > 200) { return null; }
    var parts = text.split(".");
    if (parts.length !== 3 || parts[0] !== "YH1") { return null; }
    try {
      var payload = b64urlToBytes(parts[1]);
      var signature = b64urlToBytes(parts[2]);
      if (bytesToB64url(payload) !== parts[1] || bytesToB64url(signature) !== parts[2]) { return null; }
      if (payload.length < 6 || signature.length !== 64) { return null; }
      var kid = Array.prototype.map.call(payload.slice(0, 4), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      var ticket = readVarint(payload, 4);
      var program = readVarint(payload, ticket[1]);
      if (program[1] !== payload.length) { return null; }
      return { kid: kid, ticketId: ticket[0], programId: program[0], signature: signature,
               signed: new TextEncoder().encode(parts[0] + "." + parts[1]) };
    } catch (e) {
      return null;
    }
  }

  async function publicKey(kid) {
    if (keyCache[kid]) { return keyCache[kid]; }
    var entry = (bundle.public_keys || []).filter(function (k) { return k.kid === kid; })[0];
    if (!entry) { return null; }
    keyCache[kid] = await crypto.subtle.importKey("raw", b64urlToBytes(entry.public_key),
                                                  { name: "Ed25519" }, false, ["verify"]);
    return keyCache[kid];
  }

  async function verifyOffline(text) {
    var ticket = parseTicket(text);
    if (!ticket) { return null; }
    try {
      var key = await publicKey(ticket.kid);
      if (!key) { return null; }
      var ok = await crypto.subtle.verify({ name: "Ed25519" }, key, ticket.signature, ticket.signed);
      return ok ? ticket : null;
    } catch (e) {
      return null;
    }
  }

  // ------------------------------------------------------------------ the offline queue

  /* Two stores: "queue", the scans to send (with the QR text); "recent", what this phone
     answered offline and, once sent, what the server answered (ticket id and first name only). */
  var dbOpening = null;
  function openDb() {
    dbOpening = dbOpening || new Promise(function (resolve, reject) {
      var request = indexedDB.open("youth-hub-scan", 2);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("queue")) { db.createObjectStore("queue", { keyPath: "nonce" }); }
        if (!db.objectStoreNames.contains("recent")) { db.createObjectStore("recent", { keyPath: "id" }); }
      };
      request.onsuccess = function () {
        var db = request.result;
        // A newer page in another tab upgrades the database: let it, and reopen next time.
        db.onversionchange = function () { db.close(); dbOpening = null; };
        resolve(db);
      };
      request.onerror = function () { dbOpening = null; reject(request.error); };
    });
    return dbOpening;
  }

  async function queueAll() {
    var db = await openDb();
    return new Promise(function (resolve, reject) {
      var request = db.transaction("queue", "readonly").objectStore("queue").getAll();
      request.onsuccess = function () { resolve(request.result || []); };
      request.onerror = function () { reject(request.error); };
    });
  }

  async function queueChange(add, removeNonces) {
    var db = await openDb();
    return new Promise(function (resolve, reject) {
      var tx = db.transaction("queue", "readwrite");
      var store = tx.objectStore("queue");
      (add || []).forEach(function (item) { store.put(item); });
      (removeNonces || []).forEach(function (nonce) { store.delete(nonce); });
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
    });
  }

  async function recentAll() {
    var db = await openDb();
    return new Promise(function (resolve, reject) {
      var request = db.transaction("recent", "readonly").objectStore("recent").getAll();
      request.onsuccess = function () { resolve(request.result || []); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function newestFirst(a, b) { return String(b.at).localeCompare(String(a.at)); }

  /* Adds or updates offline scans in the list store, keeping only the newest RECENT_KEEP. */
  async function recentChange(entries, updates) {
    var db = await openDb();
    return new Promise(function (resolve, reject) {
      var tx = db.transaction("recent", "readwrite");
      var store = tx.objectStore("recent");
      (entries || []).forEach(function (entry) { store.put(entry); });
      var all = store.getAll();
      all.onsuccess = function () {
        var rows = all.result || [];
        rows.forEach(function (row) {
          if (updates && updates[row.id]) { store.put(Object.assign(row, updates[row.id])); }
        });
        rows.sort(newestFirst);
        rows.slice(RECENT_KEEP).forEach(function (row) { store.delete(row.id); });
      };
      tx.oncomplete = function () { resolve(); };
      tx.onerror = function () { reject(tx.error); };
    });
  }

  async function showQueueCount() {
    try {
      var items = await queueAll();
      setText("queue-count", String(items.length));
      return items;
    } catch (e) {
      return [];
    }
  }

  // ------------------------------------------------------------------ bundle and sessions

  async function refreshBundle() {
    if (!navigator.onLine) { return; }
    try {
      var response = await fetch(app.dataset.bundleUrl, { credentials: "same-origin",
                                                         headers: { Accept: "application/json" } });
      if (!response.ok) { return; }
      var fresh = await response.json();
      if (!bundleFits(fresh)) { return; }
      bundle = fresh;
      localSeen = {};
      keyCache = {};
      try { localStorage.setItem(BUNDLE_KEY, JSON.stringify(bundle)); } catch (e) { /* full */ }
    } catch (e) { /* offline: keep the last one */ }
  }

  function openSessionAt(at) {
    var open = (bundle.sessions || []).filter(function (s) {
      return new Date(s.opens_at) <= at && at <= new Date(s.ends_at);
    });
    open.sort(function (a, b) { return new Date(a.ends_at) - new Date(b.ends_at); });
    return open.length ? open[0].id : null;
  }

  async function seenKeys() {
    var seen = {};
    (bundle.checked_in || []).forEach(function (c) { seen[c.ticket_id + ":" + c.session_id] = true; });
    Object.keys(localSeen).forEach(function (k) { seen[k] = true; });
    (await queueAll()).forEach(function (item) {
      if (item.program === programSlug) { seen[item.ticket_id + ":" + item.session_id] = true; }
    });
    return seen;
  }

  /* The same rules as the server's, on the phone; the server has the last word when synced. */
  async function decideOffline(text) {
    var at = new Date();
    if (!bundle) { return { result: "nobundle" }; }
    var ticket = await verifyOffline(text);
    if (!ticket) { return { result: "invalid" }; }
    if (ticket.programId !== bundle.program.id) { return { result: "wrong_program", ticket: ticket }; }
    if ((bundle.cancelled || []).indexOf(ticket.ticketId) >= 0) { return { result: "cancelled", ticket: ticket }; }
    if ((bundle.waitlisted || []).indexOf(ticket.ticketId) >= 0) { return { result: "waitlisted", ticket: ticket }; }
    var sessionId = app.dataset.session ? Number(app.dataset.session) : openSessionAt(at);
    if (!sessionId) { return { result: "outside_window", ticket: ticket }; }
    var seen = await seenKeys();
    if (seen[ticket.ticketId + ":" + sessionId]) { return { result: "already_checked_in", ticket: ticket }; }
    var nonce = "q-" + randomHex(16);
    await queueChange([{
      nonce: nonce,
      payload: text.trim(),
      program: programSlug,
      session_id: sessionId,
      scanned_at: at.toISOString(),
      device_id: deviceId(),
      ticket_id: ticket.ticketId
    }]);
    return { result: "ok", ticket: ticket, nonce: nonce, sessionId: sessionId, at: at };
  }

  var TONES = { ok: "green", already_checked_in: "amber", waitlisted: "amber", outside_window: "amber" };

  function showLocalResult(outcome) {
    var panel = document.getElementById("scan-result");
    if (!panel) { return; }
    var result = outcome.result;
    var tone = result === "nobundle" ? "amber" : (TONES[result] || "red");
    panel.className = "result-panel flash tone-" + tone;
    panel.setAttribute("role", "alert");
    panel.dataset.result = result;
    panel.dataset.tone = tone;
    panel.dataset.offline = "1";
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    var title = document.createElement("p");
    title.className = "result-title";
    title.textContent = result === "nobundle" ? strings.offlineMark : strings[result];
    panel.appendChild(title);
    if (outcome.ticket) {
      var name = document.createElement("p");
      name.className = "result-name";
      name.textContent = strings.ticket + " #" + outcome.ticket.ticketId;
      panel.appendChild(name);
    }
    var reason = document.createElement("p");
    reason.className = "result-reason";
    reason.textContent = result === "nobundle" ? strings.nobundle : strings[result + "Reason"] + " (" + strings.offlineMark + ")";
    panel.appendChild(reason);
    feedback(tone);
  }

  /* Every offline answer goes into the "last scans" list and stays there across reloads: a
     scanner must be able to tell later whom the phone let in and whom it turned away. */
  async function rememberScan(outcome) {
    var at = outcome.at || new Date();
    try {
      await recentChange([{
        id: outcome.nonce || "r-" + randomHex(16),
        program: programSlug,
        at: at.toISOString(),
        ticket_id: outcome.ticket ? outcome.ticket.ticketId : null,
        local: outcome.result,
        state: outcome.result === "ok" ? "queued" : "refused",
        server: null,
        first_name: ""
      }]);
    } catch (e) { /* no IndexedDB: the result panel has said it */ }
    await renderRecent();
  }

  function toneOf(result) {
    return result === "nobundle" ? "amber" : (TONES[result] || "red");
  }

  function clock(date) {
    var sep = document.documentElement.lang === "en" ? ":" : ".";
    return ("0" + date.getHours()).slice(-2) + sep + ("0" + date.getMinutes()).slice(-2);
  }

  function recentItem(entry) {
    var result = entry.state === "sent" ? entry.server : entry.local;
    var item = document.createElement("li");
    item.className = "local tone-" + toneOf(result);
    item.dataset.state = entry.state;
    item.dataset.result = result;
    item.dataset.localResult = entry.local;
    if (entry.local === "ok" && entry.id) { item.dataset.nonce = entry.id; }  // sent or to be sent
    var at = new Date(entry.at);
    var time = document.createElement("time");
    time.dateTime = at.toISOString();
    time.textContent = clock(at);
    var name = document.createElement("span");
    name.className = "recent-name";
    name.textContent = entry.first_name || (entry.ticket_id ? strings.ticket + " #" + entry.ticket_id : "—");
    var label = document.createElement("span");
    label.className = "recent-result";
    label.textContent = result === "nobundle" ? strings.nobundleTitle : (strings[result] || result);
    var mark = document.createElement("span");
    mark.className = "state state-" + entry.state;
    mark.textContent = entry.state === "sent" ? strings.stateSent :
      entry.state === "queued" ? strings.stateQueued : strings.stateRefused;
    item.append(time, " ", name, " ", label, " ", mark);
    return item;
  }

  /* A server row that is one of this phone's offline scans: the server's row stays (its answer
     is the last word, and it may offer undo), marked as sent from this phone. */
  function markSentRow(li) {
    li.dataset.state = "sent";
    if (li.querySelector(".state")) { return; }
    var mark = document.createElement("span");
    mark.className = "state state-sent";
    mark.textContent = strings.stateSent;
    var result = li.querySelector(".recent-result");
    if (result) { result.after(" ", mark); } else { li.append(" ", mark); }
  }

  /* The server's list (rendered with the page) and this phone's offline scans, newest first.
     An offline scan the server's rows already show (same nonce) is listed once, as its row. */
  async function renderRecent() {
    var list = document.getElementById("recent-list");
    if (!list) { return; }
    var entries = [];
    try {
      entries = (await recentAll()).filter(function (e) { return e.program === programSlug; });
    } catch (e) { return; }
    list = document.getElementById("recent-list");  // an htmx swap may have replaced it meanwhile
    if (!list) { return; }
    list.querySelectorAll("li.local").forEach(function (li) { li.remove(); });
    var serverRows = {};
    list.querySelectorAll("li[data-nonce]").forEach(function (li) { serverRows[li.dataset.nonce] = li; });
    entries = entries.filter(function (entry) {
      var row = entry.local === "ok" && Object.prototype.hasOwnProperty.call(serverRows, entry.id) ? serverRows[entry.id] : null;
      if (row) { markSentRow(row); }
      return !row;
    });
    if (!entries.length) { return; }
    var empty = document.getElementById("recent-empty");
    if (empty) { empty.remove(); }
    entries.sort(newestFirst);
    // Merge two lists that are each newest first; the server's rows keep their order.
    var rows = Array.prototype.filter.call(list.children, function (li) { return li.id !== "recent-empty"; });
    var merged = [];
    var i = 0;
    var j = 0;
    while (i < rows.length || j < entries.length) {
      var rowTime = i < rows.length ? timeOf(rows[i]) : -Infinity;
      if (j < entries.length && (i >= rows.length || new Date(entries[j].at).getTime() > rowTime)) {
        merged.push(recentItem(entries[j++]));
      } else {
        merged.push(rows[i++]);
      }
    }
    merged.forEach(function (node) { list.appendChild(node); });
  }

  function timeOf(li) {
    var time = li.querySelector("time");
    var at = time ? new Date(time.dateTime).getTime() : NaN;
    return isNaN(at) ? -Infinity : at;
  }

  async function scanOffline(form) {
    var input = form.querySelector("[name=payload]");
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    var outcome = await decideOffline(text);
    showLocalResult(outcome);
    await rememberScan(outcome);
    await showQueueCount();
    if (!cameraRunning) { input.focus(); }
  }

  // ------------------------------------------------------------------ sending the queue

  async function sync() {
    if (syncing || !navigator.onLine) { return; }
    var items = await showQueueCount();
    if (!items.length) { return; }
    syncing = true;
    var problems = [];
    try {
      var byProgram = {};
      items.forEach(function (item) { (byProgram[item.program] = byProgram[item.program] || []).push(item); });
      for (var slug in byProgram) {
        var pending = byProgram[slug];
        for (var i = 0; i < pending.length; i += BATCH_SIZE) {
          var chunk = pending.slice(i, i + BATCH_SIZE);
          var response = await fetch("/scan/" + encodeURIComponent(slug) + "/batch", {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
            body: JSON.stringify({ scans: chunk.map(function (item) {
              return { payload: item.payload, program: item.program, session_id: item.session_id,
                       scanned_at: item.scanned_at, device_id: item.device_id, nonce: item.nonce };
            }) })
          });
          if (response.status === 401 || response.status === 403) {
            setText("sync-status", strings.signin);
            return;
          }
          if (!response.ok) { throw new Error("status " + response.status); }
          var body = await response.json();
          var answered = {};
          (body.results || []).forEach(function (answer, index) {
            if (!chunk[index]) { return; }
            answered[chunk[index].nonce] = {
              state: "sent",
              server: String(answer.result || ""),
              first_name: typeof answer.first_name === "string" ? answer.first_name.slice(0, 60) : ""
            };
            if (answer.result !== "ok" && answer.result !== "already_checked_in") {
              problems.push(strings.ticket + " #" + chunk[index].ticket_id + ": " + (strings[answer.result] || answer.result));
            }
          });
          try { await recentChange([], answered); } catch (e) { /* the list only */ }
          // Answered: the server has them (a re-send would only get the same answers back).
          await queueChange([], chunk.map(function (item) { return item.nonce; }));
        }
      }
      setText("sync-status", problems.length ? strings.problems + ": " + problems.join("; ") : strings.sent);
      await refreshBundle();
    } catch (e) {
      setText("sync-status", strings.sendFailed);
    } finally {
      syncing = false;
      await showQueueCount();
      await renderRecent();
    }
  }

  function showNetwork() {
    var box = document.getElementById("offline-box");
    var state = document.getElementById("net-state");
    if (!box || !state) { return; }
    box.hidden = false;
    box.classList.toggle("online", navigator.onLine);
    state.textContent = navigator.onLine ? state.dataset.online : state.dataset.offline;
  }

  // ------------------------------------------------------------------ htmx: online scans

  function ticketKeyFromAnswer(payload, panel) {
    var ticket = parseTicket(payload);
    if (ticket && panel.dataset.sessionId) { localSeen[ticket.ticketId + ":" + panel.dataset.sessionId] = true; }
  }

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "scan-form") { return; }
    lastPayload = form.querySelector("[name=payload]").value;
    if (!navigator.onLine) {
      event.preventDefault();  // no network: decide on the phone and queue
      scanOffline(form);
      return;
    }
    inFlight = true;
  });

  document.body.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt;
    inFlight = false;
    if (form && form.id === "scan-form") {
      form.querySelector("[name=payload]").value = lastPayload;
      scanOffline(form);  // the request never reached the server: same as offline
    }
  });

  document.body.addEventListener("htmx:afterRequest", function () { inFlight = false; });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    fillDeviceIds();
    var target = event.detail.target;
    var config = event.detail.requestConfig;
    if (!target || target.id !== "scan-live") { return; }
    renderRecent();
    var panel = document.getElementById("scan-result");
    if (panel && panel.dataset.tone && config && config.verb === "post") {
      panel.classList.add("flash");
      feedback(panel.dataset.tone);
      if (panel.dataset.result === "ok" || panel.dataset.result === "already_checked_in") {
        ticketKeyFromAnswer(lastPayload, panel);
      }
    }
    if (cameraRunning) {
      var input = document.getElementById("scan-payload");
      if (input && document.activeElement === input) { input.blur(); }  // keep the keyboard away
    }
  });

  // ------------------------------------------------------------------ the camera

  var video = document.getElementById("camera-video");
  var stream = null;
  var detector = null;
  var cameraRunning = false;
  var lastCode = "";
  var lastCodeSeenAt = 0;

  function cameraStatus(text) { setText("camera-status", text); }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  async function makeDetector() {
    if ("BarcodeDetector" in window) {
      try {
        var formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.indexOf("qr_code") >= 0) { return new window.BarcodeDetector({ formats: ["qr_code"] }); }
      } catch (e) { /* fall back to the vendored decoder */ }
    }
    if (!window.BarcodeDetectionAPI) { await loadScript(app.dataset.decoder); }
    var api = window.BarcodeDetectionAPI;
    // The WebAssembly comes from our own /static/vendor, never from a CDN.
    await api.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) { return path.endsWith(".wasm") ? app.dataset.wasm : prefix + path; }
      },
      fireImmediately: true
    });
    return new api.BarcodeDetector({ formats: ["qr_code"] });
  }

  function submitCode(text) {
    var form = document.getElementById("scan-form");
    if (!form) { return; }
    form.querySelector("[name=payload]").value = text;
    if (form.requestSubmit) { form.requestSubmit(); } else { window.htmx.trigger(form, "submit"); }
  }

  async function scanFrame() {
    if (!cameraRunning) { return; }
    if (video.readyState >= 2 && !inFlight && detector) {
      try {
        var codes = await detector.detect(video);
        var now = Date.now();
        if (codes.length) {
          var text = codes[0].rawValue;
          // One QR held in front of the camera is one scan: it counts again only after it
          // has been out of sight for two seconds.
          if (text !== lastCode || now - lastCodeSeenAt > 2000) { submitCode(text); }
          lastCode = text;
          lastCodeSeenAt = now;
        }
      } catch (e) { /* a frame the decoder could not read */ }
    }
    setTimeout(scanFrame, 150);
  }

  async function startCamera() {
    cameraStatus(strings.cameraStarting);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraStatus(strings.cameraUnsupported);
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    } catch (e) {
      cameraStatus(strings.cameraDenied);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    try { await video.play(); } catch (e) { /* autoplay rules: the stream still feeds frames */ }
    try {
      detector = detector || await makeDetector();
    } catch (e) {
      cameraStatus(strings.cameraUnsupported);
      stopCamera();
      return;
    }
    cameraRunning = true;
    document.getElementById("camera-start").hidden = true;
    document.getElementById("camera-stop").hidden = false;
    cameraStatus(strings.cameraOn);
    scanFrame();
  }

  function stopCamera() {
    cameraRunning = false;
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    video.hidden = true;
    document.getElementById("camera-start").hidden = false;
    document.getElementById("camera-stop").hidden = true;
  }

  /* What the offline page lists: this program's page, with its title and session choice. */
  function rememberPage(url) {
    var pages = readPages();
    var session = document.getElementById("scan-session");
    var choice = new URL(url, location.origin).searchParams.get("session") || "";
    pages[url] = {
      url: url,
      program: programSlug,
      title: app.dataset.programTitle || programSlug,
      session: /^[0-9]+$/.test(choice) && session && session.selectedOptions[0] ? session.selectedOptions[0].textContent : "",
      at: new Date().toISOString()
    };
    var urls = Object.keys(pages).sort(function (a, b) { return String(pages[b].at).localeCompare(String(pages[a].at)); });
    urls.slice(MAX_PAGES).forEach(function (old) { delete pages[old]; });
    try { localStorage.setItem(PAGES_KEY, JSON.stringify(pages)); } catch (e) { /* full: the cache still has it */ }
  }

  // ------------------------------------------------------------------ start

  fillDeviceIds();
  var noJs = document.getElementById("camera-nojs");
  if (noJs) { noJs.hidden = true; }
  document.getElementById("camera-controls").hidden = false;
  document.getElementById("camera-start").addEventListener("click", startCamera);
  document.getElementById("camera-stop").addEventListener("click", stopCamera);
  document.getElementById("sync-now").addEventListener("click", sync);

  var setup = document.getElementById("scan-setup");
  if (setup) {
    var sessionSelect = setup.querySelector("select[name=session]");
    setup.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        // Another program: the session chosen here belongs to this one, so none is sent and
        // the address is that program's own (/scan?program=<slug>), as kept for offline use.
        if (select.name === "program" && sessionSelect) { sessionSelect.disabled = true; }
        setup.submit();
      });
    });
    window.addEventListener("pageshow", function () { if (sessionSelect) { sessionSelect.disabled = false; } });
  }

  window.addEventListener("online", function () { showNetwork(); refreshBundle().then(sync); });
  window.addEventListener("offline", showNetwork);
  showNetwork();
  showQueueCount();
  renderRecent();
  refreshBundle().then(sync);
  setInterval(sync, SYNC_EVERY_MS);
  setInterval(refreshBundle, BUNDLE_EVERY_MS);

  if ("serviceWorker" in navigator && app.dataset.sw) {
    var controlled = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.register(app.dataset.sw, { scope: "/scan" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (!navigator.onLine || !registration.active) { return; }
      var asked = location.pathname === "/scan" ? new URLSearchParams(location.search) : new URLSearchParams();
      var own = pageKey(programSlug, asked.get("session") || "");
      var urls = location.pathname === "/scan" ? [location.href, own] : [own];
      // Under control the worker kept this navigation already; else it fetches the page itself.
      registration.active.postMessage({ type: "keep-page", urls: urls, fetch: !controlled || location.pathname !== "/scan" });
      rememberPage(own);
    }).catch(function () {
      /* no offline page shell; scanning on this open page still works offline */
    });
  }
})();
