// The calendar of the whole history as one keyboard stop: Tab reaches the
// chosen day, the arrow keys move by day (left, right) and by month (up,
// down), Page Up and Page Down by year, Home and End to the month's ends;
// Enter or a click shows the day on the map without leaving the page.
(function () {
  "use strict";
  var history = document.getElementById("history");
  if (!history) {
    return;
  }

  function links() {
    return Array.prototype.slice.call(history.querySelectorAll("table.year a"));
  }

  function dayOf(link) {
    var match = /day=(\d{4}-\d{2}-\d{2})/.exec(link.getAttribute("href") || "");
    return match ? match[1] : "";
  }

  function makeCurrent(target) {
    links().forEach(function (link) {
      link.tabIndex = link === target ? 0 : -1;
    });
  }

  function setUp() {
    var all = links();
    if (!all.length) { return; }
    makeCurrent(history.querySelector('a[aria-current="date"]') || all[all.length - 1]);
  }

  function rows() {
    return Array.prototype.slice.call(history.querySelectorAll("table.year tbody tr"));
  }

  // The link in the same column, ``step`` months away (skipping months without one).
  function byMonth(link, step) {
    var cell = link.parentElement;
    var column = cell.cellIndex;
    var all = rows();
    for (var index = all.indexOf(cell.parentElement) + step; index >= 0 && index < all.length; index += step) {
      var candidate = all[index].cells[column];
      var found = candidate && candidate.querySelector("a");
      if (found) { return found; }
    }
    return null;
  }

  function byYear(link, step) {
    var found = link;
    for (var month = 0; month < 12; month += 1) {
      found = byMonth(found, step) || found;
    }
    return found === link ? null : found;
  }

  history.addEventListener("keydown", function (event) {
    var link = event.target.closest && event.target.closest("table.year a");
    if (!link) { return; }
    var all = links();
    var index = all.indexOf(link);
    var row = Array.prototype.slice.call(link.closest("tr").querySelectorAll("a"));
    var target = null;
    switch (event.key) {
      case "ArrowRight": target = all[index + 1]; break;
      case "ArrowLeft": target = all[index - 1]; break;
      case "ArrowDown": target = byMonth(link, 1); break;
      case "ArrowUp": target = byMonth(link, -1); break;
      case "PageDown": target = byYear(link, 1); break;
      case "PageUp": target = byYear(link, -1); break;
      case "Home": target = row[0]; break;
      case "End": target = row[row.length - 1]; break;
      case " ": link.click(); event.preventDefault(); return;
      default: return;
    }
    event.preventDefault();
    if (target) {
      makeCurrent(target);
      target.focus();
    }
  });

  history.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("table.year a");
    if (!link || !document.getElementById("day")) { return; }
    event.preventDefault();
    makeCurrent(link);
    document.dispatchEvent(new CustomEvent("day:choose", { detail: { day: dayOf(link), from: "calendar" } }));
  });

  // Whatever chose the day, the calendar and the chart mark it.
  document.addEventListener("day:shown", function (event) {
    var day = event.detail.day;
    var chosen = null;
    links().forEach(function (link) {
      if (dayOf(link) === day) {
        link.setAttribute("aria-current", "date");
        chosen = link;
      } else {
        link.removeAttribute("aria-current");
      }
    });
    if (chosen && !history.contains(document.activeElement)) { makeCurrent(chosen); }
    document.querySelectorAll("#chart rect.bar").forEach(function (bar) {
      bar.classList.toggle("bar-selected", bar.getAttribute("data-day") === day);
    });
  });

  document.addEventListener("history:replaced", setUp);
  setUp();
})();
