// Draws one day's places and trips with Leaflet. The view fits the data, not
// the tiles, so the track still shows on a blank background when tiles fail.
(function () {
  "use strict";
  var element = document.getElementById("day-map");
  var source = document.getElementById("day-map-data");
  if (!element || !source || typeof L === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var map = L.map(element, { scrollWheelZoom: false, keyboard: true });
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: data.attribution }).addTo(map);
  }
  var bounds = L.latLngBounds([]);
  data.tracks.forEach(function (points) {
    var line = L.polyline(points, {
      className: "day-track", color: "#b4451f", weight: 4, opacity: 0.85
    }).addTo(map);
    bounds.extend(line.getBounds());
  });
  data.places.forEach(function (place) {
    var marker = L.circleMarker([place.lat, place.lon], {
      className: "day-place", radius: 7, color: "#1d4f91", weight: 2, fillColor: "#ffffff", fillOpacity: 1
    }).addTo(map);
    // Place names come from the member's data: set them as text, never as HTML.
    var label = document.createElement("span");
    label.textContent = place.name;
    marker.bindTooltip(label);
    bounds.extend([place.lat, place.lon]);
  });
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  } else {
    map.setView([0, 0], 1);
  }
})();
