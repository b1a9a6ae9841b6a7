// While a backfill runs, poll the small status endpoint (it reads only our
// database) and move the progress bar; reload once the status changes.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !window.fetch) {
    return;
  }
  var url = section.getAttribute("data-status-url");
  var status = section.getAttribute("data-status");
  var nextBatch = section.getAttribute("data-next-batch") || "";
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var batchChanged = data.next_batch_at && Date.parse(data.next_batch_at) !== Date.parse(nextBatch);
        if (data.status !== status || batchChanged) {
          window.location.reload();
          return;
        }
        var bar = document.getElementById("backfill-progress");
        if (bar && data.weeks_total) {
          bar.max = data.weeks_total;
          bar.value = data.weeks_done;
          bar.textContent = data.percent + "%";
          document.getElementById("progress-text").textContent =
            data.weeks_done + " of " + data.weeks_total + " weeks (" + data.percent + "%)";
        } else if (!bar && data.weeks_total) {
          window.location.reload();
          return;
        }
        if (data.working) { window.setTimeout(poll, 5000); }
      })
      .catch(function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, 5000);
})();
