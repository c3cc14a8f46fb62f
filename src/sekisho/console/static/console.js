/* Sekisho console: charts (uPlot) and small enhancements. No inline script anywhere. */
(function () {
  "use strict";

  function fmtTime(t) {
    return new Date(t * 1000).toISOString().slice(11, 16);
  }

  function spikeBands(spikes) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.fillStyle = "rgba(220, 60, 60, 0.16)";
          spikes.forEach(function (s) {
            var x0 = u.valToPos(s.from, "x", true), x1 = u.valToPos(s.to, "x", true);
            ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
          });
          ctx.restore();
        }]
      }
    };
  }

  function drill(root, data, idx) {
    if (idx == null) { return; }
    var from = data.columns.ts[idx], to = from + data.bucket_s;
    var url = root.dataset.requests + "?from=" + from + "&to=" + to;
    window.htmx.ajax("GET", url, { target: "#drill-target", swap: "innerHTML" });
  }

  // A press and release is a click on a bucket (the drill-down), never a zoom selection:
  // with drag on, uPlot may take the release as a selection and swallow the click.
  var NO_DRAG = { drag: { x: false, y: false, setScale: false } };

  function clickPlugin(root, data) {
    return {
      hooks: {
        ready: [function (u) {
          // The bucket under the click itself: the cursor index follows mouse moves (on an
          // animation frame), so a click with no hover before it (touch, a fast click) saw none.
          // Captured on the chart's root, before uPlot's own handlers on the plot area
          // (which may stop a click's propagation), and read for the plot area only.
          u.root.addEventListener("click", function (e) {
            if (!u.over.contains(e.target)) { return; }
            drill(root, data, u.posToIdx(e.clientX - u.over.getBoundingClientRect().left));
          }, true);
        }]
      }
    };
  }

  function charts(root) {
    fetch(root.dataset.series, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("series " + r.status); } return r.json(); })
      .then(function (data) {
        var c = data.columns, width = Math.max(320, root.clientWidth - 8);
        var codes = new window.uPlot({
          width: width, height: 220, title: "Requests per bucket by status",
          plugins: [spikeBands(data.spikes), clickPlugin(root, data)],
          scales: { x: { time: true, range: [data.from, data.to] } },
          cursor: NO_DRAG,
          series: [
            { value: function (u, v) { return v == null ? "" : fmtTime(v); } },
            { label: "2xx", stroke: "#2f855a", width: 2 },
            { label: "4xx", stroke: "#b7791f", width: 1 },
            { label: "5xx", stroke: "#c53030", width: 2 },
            { label: "429", stroke: "#805ad5", width: 2 }
          ],
          axes: [{}, { label: "requests" }]
        }, [c.ts, c["2xx"], c["4xx"], c["5xx"], c["429"]], document.getElementById("chart-codes"));
        var latency = new window.uPlot({
          width: width, height: 200, title: "Latency percentiles (ms)",
          plugins: [spikeBands(data.spikes), clickPlugin(root, data)],
          scales: { x: { time: true, range: [data.from, data.to] } },
          cursor: NO_DRAG,
          series: [
            {},
            { label: "p50", stroke: "#2b6cb0", width: 2 },
            { label: "p95", stroke: "#dd6b20", width: 2 },
            { label: "p99", stroke: "#9b2c2c", width: 1 }
          ],
          axes: [{}, { label: "ms" }]
        }, [c.ts, c.p50, c.p95, c.p99], document.getElementById("chart-latency"));
        var note = document.getElementById("spikes");
        if (note) {
          note.textContent = data.spikes.length
            ? data.spikes.length + " spike(s) in this window; peak 5xx+429 rate " +
              Math.round(Math.max.apply(null, data.spikes.map(function (s) { return s.peak; })) * 100) + " %."
            : "No spike in this window.";
        }
        root.dataset.ready = "1";
        root._charts = [codes, latency];
      })
      .catch(function (err) {
        root.dataset.ready = "error";
        root.textContent = "The chart could not be loaded (" + err.message + "). Reload the page.";
      });
  }

  function init() {
    var root = document.getElementById("charts");
    if (root && window.uPlot) { charts(root); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
