// Keeps the dashboard current without reloading it: polls status.json (which
// reads only our database) and swaps in the cards it sends, rendered by the
// same templates as the page. When the history grew, the calendar and the
// chart are fetched again. Focus stays where it was, and a changed headline
// is announced once.
(function () {
  "use strict";
  var now = document.getElementById("now");
  if (!now || !window.fetch) {
    return;
  }
  var statusUrl = now.getAttribute("data-status-url");
  var historyUrl = now.getAttribute("data-history-url");
  var historyVersion = now.getAttribute("data-history-version") || "";
  var delay = Number(now.getAttribute("data-poll-seconds")) || 30;
  var news = document.getElementById("live-news");
  // The HTML each card was last given, so an unchanged card is left alone.
  var seen = {};

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  // Replace a card's content when it changed, keeping focus on the control
  // of the same id when there still is one.
  function swap(id, html) {
    var card = document.getElementById(id);
    if (!card || html === undefined || seen[id] === html) {
      return false;
    }
    var focused = document.activeElement;
    var focusedId = focused && card.contains(focused) ? focused.id : "";
    card.innerHTML = html;
    seen[id] = html;
    if (window.movesTimes) { window.movesTimes.refresh(card); }
    if (focusedId) {
      var again = document.getElementById(focusedId);
      if (again && !again.disabled) { again.focus(); }
    }
    return true;
  }

  function refreshHistory() {
    var day = document.getElementById("day-input");
    var url = historyUrl + (day && day.value ? "?day=" + encodeURIComponent(day.value) : "");
    return getJson(url).then(function (data) {
      if (!data) { return; }
      if (data.has_day && !document.getElementById("day")) {
        // The first days arrived: the map needs the full page once.
        window.location.reload();
        return;
      }
      swap("history", data.calendar);
      var chart = document.getElementById("chart");
      if (chart && data.chart) {
        swap("chart", data.chart);
        chart.hidden = false;
      }
      document.dispatchEvent(new CustomEvent("history:replaced"));
      historyVersion = data.history_version;
    });
  }

  function poll() {
    if (document.hidden) {
      window.setTimeout(poll, delay * 1000);
      return;
    }
    getJson(statusUrl)
      .then(function (data) {
        if (!data) { return; }
        var before = document.getElementById("now-heading");
        var headline = before ? before.textContent : "";
        swap("now", data.cards.now);
        swap("connections", data.cards.connections);
        if (data.cards.file) { swap("file", data.cards.file); }
        if (news && data.headline !== headline) { news.textContent = data.headline; }
        delay = data.poll_seconds || delay;
        if (data.history_version !== historyVersion) { return refreshHistory(); }
      })
      .catch(function () { delay = Math.min(delay * 2, 60); })
      .then(function () { window.setTimeout(poll, delay * 1000); });
  }

  window.setTimeout(poll, delay * 1000);
})();
