// Times in the reader's own zone. The server writes every time in UTC inside
// <time datetime> (what a page without scripts shows); this rewrites them in
// the browser's zone and keeps "in 3 minutes" and "5 minutes ago" current.
(function () {
  "use strict";

  var MINUTE = 60 * 1000;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function clock(moment) {
    var now = new Date();
    var options = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    if (!sameDay(moment, now)) {
      options.weekday = "short";
      options.day = "numeric";
      options.month = "short";
      if (moment.getFullYear() !== now.getFullYear()) {
        options.year = "numeric";
        delete options.weekday;
      }
    }
    return new Intl.DateTimeFormat(undefined, options).format(moment);
  }

  function span(milliseconds) {
    var units = [[365 * DAY, "year"], [30 * DAY, "month"], [7 * DAY, "week"], [DAY, "day"], [HOUR, "hour"], [MINUTE, "minute"]];
    if (milliseconds < MINUTE) {
      return "less than a minute";
    }
    for (var i = 0; i < units.length; i += 1) {
      var count = Math.floor(milliseconds / units[i][0]);
      if (count >= 1) {
        return count + " " + units[i][1] + (count === 1 ? "" : "s");
      }
    }
    return "less than a minute";
  }

  function refresh(root) {
    var scope = root || document;
    var now = Date.now();
    scope.querySelectorAll("time[data-clock]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        element.textContent = clock(moment);
        element.title = moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
      }
    });
    scope.querySelectorAll("[data-until]").forEach(function (element) {
      var moment = Date.parse(element.getAttribute("data-until"));
      if (!isNaN(moment)) {
        element.textContent = "in " + span(moment - now);
      }
    });
    scope.querySelectorAll("[data-ago]").forEach(function (element) {
      var moment = Date.parse(element.getAttribute("data-ago"));
      if (!isNaN(moment)) {
        element.textContent = span(now - moment) + " ago";
      }
    });
  }

  window.movesTimes = { refresh: refresh, clock: clock, span: span };
  refresh(document);
  window.setInterval(function () { refresh(document); }, 15000);
})();
