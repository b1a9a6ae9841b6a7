// One day of the history on a map, with its timeline. Choosing a day (the
// calendar, the date field, Previous and Next) fetches it as JSON and redraws
// in place, so the map stays in view. The view fits the day's places and
// trips rather than the tiles, and a scale bar, the place names and the
// start and end of each day's travel are drawn by us: when tiles cannot be
// loaded, the day still reads on a plain background.
(function () {
  "use strict";
  var card = document.getElementById("day");
  var element = document.getElementById("day-map");
  if (!card || !element || typeof L === "undefined") {
    return;
  }
  var urlPattern = card.getAttribute("data-day-url");
  var title = document.getElementById("day-title");
  var summary = document.getElementById("day-summary");
  var input = document.getElementById("day-input");
  var previous = document.getElementById("day-previous");
  var following = document.getElementById("day-next");
  var note = document.getElementById("map-note");
  var embedded = document.getElementById("day-map-data");
  var latest = 0;

  var map = L.map(element, { scrollWheelZoom: false, zoomSnap: 0.5 });
  L.control.scale({ imperial: false, maxWidth: 120 }).addTo(map);
  var drawn = L.layerGroup().addTo(map);
  var tilesLoaded = false;

  function tilesFailed(failed) {
    element.classList.toggle("tiles-failed", failed);
    note.hidden = !failed;
  }

  function addTiles(data) {
    if (!data.tileUrl) {
      tilesFailed(true);
      return;
    }
    var tiles = L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: data.attribution });
    tiles.on("tileload", function () { tilesLoaded = true; tilesFailed(false); });
    tiles.on("tileerror", function () { if (!tilesLoaded) { tilesFailed(true); } });
    tiles.addTo(map);
  }

  // A label from the member's own words, set as text and never as HTML.
  function label(text, kind) {
    var span = document.createElement("span");
    span.className = "map-label map-label-" + kind;
    span.textContent = text;
    return span;
  }

  function dot(point, kind, text, direction) {
    var colours = { place: "#1d4f91", start: "#1e7d32", end: "#a32020" };
    return L.circleMarker(point, {
      interactive: false,
      radius: kind === "place" ? 6 : 7,
      color: colours[kind],
      weight: 3,
      fillColor: kind === "place" ? "#ffffff" : colours[kind],
      fillOpacity: 1
    }).bindTooltip(label(text, kind), { permanent: true, direction: direction, className: "map-tooltip" });
  }

  function draw(data) {
    drawn.clearLayers();
    var bounds = L.latLngBounds([]);
    data.tracks.forEach(function (points) {
      var line = L.polyline(points, { interactive: false, color: "#b4451f", weight: 4, opacity: 0.85 });
      drawn.addLayer(line);
      bounds.extend(line.getBounds());
    });
    var marked = [];
    data.places.forEach(function (place) {
      // A place visited twice (home in the morning and at night) is marked once.
      var point = L.latLng(place.lat, place.lon);
      var seen = marked.some(function (other) { return other.name === place.name && other.point.distanceTo(point) < 50; });
      if (seen) { return; }
      // Alternate sides, so that the names of places close together overlap less.
      drawn.addLayer(dot(point, "place", place.name, marked.length % 2 ? "left" : "right"));
      marked.push({ name: place.name, point: point });
      bounds.extend(point);
    });
    // A round trip starts and ends at one spot: one mark says both.
    var roundTrip = data.start && data.end && map.distance(data.start, data.end) < 150;
    if (roundTrip) {
      drawn.addLayer(dot(data.start, "start", "Start and end", "top"));
    } else {
      if (data.start) { drawn.addLayer(dot(data.start, "start", "Start", "top")); }
      if (data.end) { drawn.addLayer(dot(data.end, "end", "End", "bottom")); }
    }
    element.setAttribute("aria-label", "Map of " + data.title + ": " + data.places.length + " places and " +
      data.tracks.length + " trips");
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [32, 32], maxZoom: 16 });
    } else {
      map.setView([20, 0], 1);
    }
  }

  function dayLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#history table.year a"));
  }

  function setNeighbour(link, day, name) {
    if (!link) { return; }
    link.hidden = !day;
    link.setAttribute("href", day ? "?day=" + day + "#day" : "");
    link.setAttribute("data-day", day || "");
    link.setAttribute("aria-label", name + (day ? ": " + day : ""));
  }

  function neighbours(day) {
    var days = dayLinks().map(function (link) { return /day=([\d-]+)/.exec(link.getAttribute("href"))[1]; });
    var index = days.indexOf(day);
    setNeighbour(previous, index > 0 ? days[index - 1] : "", "Previous day");
    setNeighbour(following, index >= 0 && index < days.length - 1 ? days[index + 1] : "", "Next day");
  }

  function keepInView() {
    var box = card.getBoundingClientRect();
    var mapBox = element.getBoundingClientRect();
    if (mapBox.top < 0 || mapBox.bottom > window.innerHeight) {
      var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      window.scrollBy({ top: box.top - 8, behavior: still ? "auto" : "smooth" });
    }
  }

  function shown(data) {
    title.textContent = data.title;
    input.value = data.date;
    neighbours(data.date);
    document.dispatchEvent(new CustomEvent("day:shown", { detail: { day: data.date } }));
  }

  function show(day, options) {
    var ticket = ++latest;
    summary.setAttribute("aria-busy", "true");
    summary.textContent = "Loading " + day + "…";
    if (options && options.scroll) { keepInView(); }
    fetch(urlPattern.replace("0000-00-00", day), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (ticket !== latest) { return; }
        summary.removeAttribute("aria-busy");
        if (!answer.ok) {
          summary.textContent = answer.data.error || "This day could not be shown.";
          return;
        }
        summary.innerHTML = answer.data.summary_html;
        draw(answer.data);
        shown(answer.data);
        window.history.replaceState(null, "", "?day=" + answer.data.date + "#day");
      })
      .catch(function () {
        if (ticket !== latest) { return; }
        summary.removeAttribute("aria-busy");
        summary.textContent = "This day could not be loaded; please try again.";
      });
  }

  document.addEventListener("day:choose", function (event) {
    show(event.detail.day, { scroll: true });
  });
  document.getElementById("day-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (input.value) { show(input.value, { scroll: false }); }
  });
  [previous, following].forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var day = link.getAttribute("data-day");
      if (day) { show(day, { scroll: false }); }
    });
  });
  document.addEventListener("history:replaced", function () { neighbours(input.value); });

  if (embedded) {
    var data = JSON.parse(embedded.textContent);
    addTiles(data);
    draw(data);
    shown(data);
  } else {
    addTiles({ tileUrl: card.getAttribute("data-tile-url"), attribution: card.getAttribute("data-attribution") });
    map.setView([20, 0], 1);
    neighbours(input.value);
    show(input.value, { scroll: false });
  }
})();
