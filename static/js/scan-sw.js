/* Service worker of the scan page, served as /scan/sw.js with scope /scan.
 *
 * The server writes YH_CACHE (a name that changes with the assets) and YH_ASSETS (the
 * versioned URLs of the page's CSS, scripts and QR decoder) above this line. The page itself
 * is fetched from the network first and kept, so a reload without signal still opens it;
 * assets come from the cache. Scans are never sent through here: the page queues them.
 */
/* global YH_CACHE, YH_ASSETS */
"use strict";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(YH_CACHE)
      .then(function (cache) { return cache.addAll(YH_ASSETS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.indexOf("yh-scan-") === 0 && key !== YH_CACHE;
        }).map(function (key) { return caches.delete(key); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

async function pageNetworkFirst(request) {
  var cache = await caches.open(YH_CACHE);
  try {
    var response = await fetch(request);
    if (response.ok && !response.redirected) {
      await cache.put(request.url, response.clone());
    }
    return response;
  } catch (error) {
    var kept = await cache.match(request.url, { ignoreVary: true }) ||
      await cache.match("/scan", { ignoreSearch: true, ignoreVary: true });
    return kept || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}

async function assetCacheFirst(request) {
  var cache = await caches.open(YH_CACHE);
  var kept = await cache.match(request, { ignoreVary: true });
  if (kept) { return kept; }
  var response = await fetch(request);
  if (response.ok) { await cache.put(request, response.clone()); }
  return response;
}

/* The page asks to keep itself on first load: that navigation happened before this worker
   was in control, so the fetch handler never saw it. */
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep-page" || typeof data.url !== "string") { return; }
  var url = new URL(data.url, self.location.origin);
  if (url.origin !== self.location.origin || url.pathname !== "/scan") { return; }
  event.waitUntil(
    Promise.all([caches.open(YH_CACHE), fetch(url.href, { credentials: "same-origin" })])
      .then(function (both) {
        var response = both[1];
        if (response.ok && !response.redirected) { return both[0].put(url.href, response); }
        return undefined;
      })
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
