/* Service worker of the scan page, served as /scan/sw.js with scope /scan.
 *
 * The server writes YH_CACHE (a name that changes with the assets) and YH_ASSETS (the
 * versioned URLs of the page's CSS, scripts and QR decoder) above this line. The page itself
 * is fetched from the network first and kept once per program and session choice, so a
 * reload without signal opens that program's page, never another one's; a program this phone
 * never opened online gets the offline page (/scan/offline), which lists the programs it can
 * open. Assets come from the cache. Scans are never sent through here: the page queues them.
 */
/* global YH_CACHE, YH_ASSETS */
"use strict";

// Bump the suffix when what is kept changes shape, so every older cache is dropped.
var CACHE = YH_CACHE + "-pages2";
var OFFLINE_PAGE = "/scan/offline";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(YH_ASSETS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.indexOf("yh-scan-") === 0 && key !== CACHE;
        }).map(function (key) { return caches.delete(key); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

/* One key per program and session choice: /scan?program=<slug>&session=<choice>. Other query
   parameters (lang) do not make another page. scan.js builds the same keys. */
function pageKey(href) {
  var url = new URL(href, self.location.origin);
  if (url.origin !== self.location.origin || url.pathname !== "/scan") { return null; }
  return self.location.origin + "/scan?program=" +
    encodeURIComponent(url.searchParams.get("program") || "") +
    "&session=" + encodeURIComponent(url.searchParams.get("session") || "");
}

/* The kept page of exactly that program. No session in the address means "the one open now",
   which the "automatic" page does too; nothing else stands in for it. */
async function keptPage(cache, href) {
  var key = pageKey(href);
  var kept = await cache.match(key, { ignoreVary: true });
  var url = new URL(key);
  if (!kept && url.searchParams.get("program") && !url.searchParams.get("session")) {
    kept = await cache.match(key + "auto", { ignoreVary: true });
  }
  return kept;
}

async function offlineAnswer(cache) {
  var page = await cache.match(OFFLINE_PAGE, { ignoreVary: true, ignoreSearch: true });
  return page || new Response(
    "Offline: this page was not opened on this phone while online. / " +
    "Luring: halaman ini belum pernah dibuka di ponsel ini saat daring.",
    { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

async function pageNetworkFirst(request) {
  var cache = await caches.open(CACHE);
  try {
    var response = await fetch(request);
    if (response.ok && !response.redirected) {
      await cache.put(pageKey(request.url), response.clone());
    }
    return response;
  } catch (error) {
    return await keptPage(cache, request.url) || offlineAnswer(cache);
  }
}

async function assetCacheFirst(request) {
  var cache = await caches.open(CACHE);
  var kept = await cache.match(request, { ignoreVary: true });
  if (kept) { return kept; }
  var response = await fetch(request);
  if (response.ok) { await cache.put(request, response.clone()); }
  return response;
}

/* The page asks to keep itself: on first load that navigation happened before this worker was
   in control, so the fetch handler never saw it; and a page opened as plain /scan is also kept
   under its program's own key. The offline page is fetched again each time, so it is in the
   language the scanner uses now. */
async function keepPage(hrefs, fetchAgain) {
  var cache = await caches.open(CACHE);
  var keys = hrefs.map(pageKey).filter(Boolean);
  if (keys.length) {
    var response = fetchAgain ? null : await cache.match(keys[0], { ignoreVary: true });
    if (!response) {
      var fresh = await fetch(keys[0], { credentials: "same-origin" });
      response = fresh.ok && !fresh.redirected ? fresh : null;
    }
    if (response) {
      var copies = keys.map(function () { return response.clone(); });
      await Promise.all(keys.map(function (key, i) { return cache.put(key, copies[i]); }));
    }
  }
  var offline = await fetch(OFFLINE_PAGE, { credentials: "same-origin" });
  if (offline.ok && !offline.redirected) { await cache.put(OFFLINE_PAGE, offline); }
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep-page" || !Array.isArray(data.urls)) { return; }
  var hrefs = data.urls.filter(function (href) { return typeof href === "string"; }).slice(0, 4);
  event.waitUntil(
    keepPage(hrefs, data.fetch !== false)
      .catch(function () { /* offline already: the next online visit keeps it */ })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname === "/scan") {
    event.respondWith(pageNetworkFirst(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(assetCacheFirst(request));
  }
});
