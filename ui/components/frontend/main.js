// Latent Lab plot component: one Streamlit component, two kinds ("drag" and "hover").
// Streamlit's component protocol is spoken by hand (no streamlit-component-lib build step).
(function () {
  "use strict";

  var PLOT = document.getElementById("plot");
  var PANEL = document.getElementById("panel");
  var THUMB = document.getElementById("thumb");
  var CAPTION = document.getElementById("caption");

  var lastArgsJson = null;   // JSON of the args last drawn: redraw only when they change
  var seq = 0;               // bumps on every value sent, so equal values still register
  var state = null;          // per-kind state of the current drawing

  function send(type, extra) {
    var msg = { isStreamlitMessage: true, type: type };
    for (var k in extra) { if (Object.prototype.hasOwnProperty.call(extra, k)) msg[k] = extra[k]; }
    window.parent.postMessage(msg, "*");
  }
  function setValue(value) { send("streamlit:setComponentValue", { value: value, dataType: "json" }); }
  function setHeight(h) { send("streamlit:setFrameHeight", { height: h }); }

  function paddedRange(values, given) {
    if (given && given.length === 2) return [Number(given[0]), Number(given[1])];
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (!isFinite(lo)) return [-1, 1];
    var span = hi - lo;
    var pad = span > 0 ? 0.15 * span : Math.max(1, Math.abs(lo) * 0.5);
    return [lo - pad, hi + pad];
  }

  // ---------------------------------------------------------------- drag_points
  var R = 9; // circle radius in px

  function drawDrag(args) {
    var pts = (args.points || []).map(function (p) { return [Number(p[0]), Number(p[1])]; });
    var labels = args.labels || [];
    var colors = args.colors || [];
    var height = args.height || 420;
    var xr = paddedRange(pts.map(function (p) { return p[0]; }), args.xrange);
    var yr = paddedRange(pts.map(function (p) { return p[1]; }), args.yrange);
    state = { kind: "drag", points: pts };

    var shapes = pts.map(function (p, i) {
      var c = colors[i] || "#1f77b4";
      return {
        type: "circle", xref: "x", yref: "y", xsizemode: "pixel", ysizemode: "pixel",
        xanchor: p[0], yanchor: p[1], x0: -R, x1: R, y0: -R, y1: R,
        fillcolor: c, opacity: 0.85, line: { color: "#222", width: 1.5 }, layer: "above"
      };
    });
    var annotations = pts.map(function (p, i) {
      return {
        x: p[0], y: p[1], xref: "x", yref: "y", text: String(labels[i] !== undefined ? labels[i] : i),
        showarrow: false, xanchor: "left", yanchor: "middle", xshift: R + 3,
        font: { size: 13, color: "#222" }, captureevents: false
      };
    });
    // An invisible trace keeps the axes (and hover-free) plot area alive.
    var data = [{ x: [xr[0], xr[1]], y: [yr[0], yr[1]], mode: "markers", type: "scatter",
                  marker: { opacity: 0 }, hoverinfo: "skip", showlegend: false }];
    var layout = {
      height: height, margin: { l: 50, r: 20, t: args.title ? 40 : 12, b: 40 },
      title: args.title ? { text: args.title, font: { size: 15 } } : undefined,
      xaxis: { range: xr, fixedrange: true, zeroline: false },
      yaxis: { range: yr, fixedrange: true, zeroline: false },
      dragmode: false, hovermode: false, shapes: shapes, annotations: annotations,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fafafa"
    };
    var config = { edits: { shapePosition: true }, displayModeBar: false, responsive: true,
                   scrollZoom: false, doubleClick: false };
    PANEL.style.display = "none";
    return Plotly.react(PLOT, data, layout, config).then(function () {
      PLOT.removeAllListeners && PLOT.removeAllListeners("plotly_relayout");
      PLOT.on("plotly_relayout", onDragRelayout);
      setHeight(height);
      document.body.setAttribute("data-drawn", args.kind === "hover" ? "hover" : "drag");
    });
  }

  function onDragRelayout(ev) {
    if (!state || state.kind !== "drag" || !ev) return;
    var moved = {};
    Object.keys(ev).forEach(function (key) {
      var m = /^shapes\[(\d+)\]/.exec(key);
      if (m) moved[m[1]] = true;
    });
    var idxs = Object.keys(moved);
    if (!idxs.length) return;
    var annUpdate = {};
    var last = null;
    idxs.forEach(function (k) {
      var i = Number(k);
      var shp = PLOT.layout.shapes[i];
      var x = Number(shp.xanchor), y = Number(shp.yanchor);
      state.points[i] = [x, y];
      annUpdate["annotations[" + i + "].x"] = x;
      annUpdate["annotations[" + i + "].y"] = y;
      last = i;
    });
    Plotly.relayout(PLOT, annUpdate); // labels follow their circles (no shapes keys: no loop)
    seq += 1;
    setValue({ index: last, x: state.points[last][0], y: state.points[last][1],
               points: state.points.map(function (p) { return [p[0], p[1]]; }), seq: seq });
  }

  // ---------------------------------------------------------------- hover_scatter
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#222222", "#bcbd22", "#17becf"];
  var NONE_COLOR = "#b0b0b0";

  var WEBGL = (function () {
    try {
      var cv = document.createElement("canvas");
      return !!(window.WebGLRenderingContext && (cv.getContext("webgl") || cv.getContext("experimental-webgl")));
    } catch (e) { return false; }
  })();

  function drawHover(args) {
    var xs = args.x || [], ys = args.y || [], cs = args.color_values || [];
    var imgs = args.images_b64 || [], texts = args.hover_text || [];
    var palette = (args.palette && args.palette.length) ? args.palette : PALETTE;
    var names = args.category_names || {};
    var height = args.height || 560;
    state = { kind: "hover", images: imgs, texts: texts };

    var groups = {};
    for (var i = 0; i < xs.length; i++) {
      var c = (cs[i] === undefined || cs[i] === null) ? -1 : Number(cs[i]);
      (groups[c] = groups[c] || []).push(i);
    }
    var cats = Object.keys(groups).map(Number).sort(function (a, b) {
      if (a < 0) return 1; if (b < 0) return -1; return a - b;
    });
    var marks = args.marks || {};
    var hasMarks = ["matches", "focus", "neighbours"].some(function (k) { return (marks[k] || []).length > 0; });
    var data = cats.map(function (c) {
      var idx = groups[c];
      var name = names[String(c)] !== undefined ? String(names[String(c)]) : (c < 0 ? "none" : String(c));
      return {
        type: WEBGL ? "scattergl" : "scatter", mode: "markers", name: name,
        x: idx.map(function (j) { return xs[j]; }), y: idx.map(function (j) { return ys[j]; }),
        customdata: idx, text: idx.map(function (j) { return texts[j] !== undefined ? String(texts[j]) : ""; }),
        hovertemplate: "%{text}<extra></extra>",
        marker: { size: args.marker_size || 5, opacity: hasMarks ? 0.25 : 0.8,  // a search dims the rest
                  color: c < 0 ? NONE_COLOR : palette[((c % palette.length) + palette.length) % palette.length] }
      };
    });
    // Search marks (the Embedding Projector's way): every match ringed, the found digit and its
    // neighbours ringed in their own colours. No customdata: a lasso never selects a ring.
    var ring = function (idx, name, color, size, width) {
      return { type: WEBGL ? "scattergl" : "scatter", mode: "markers", name: name, hoverinfo: "skip",
               x: idx.map(function (j) { return xs[j]; }), y: idx.map(function (j) { return ys[j]; }),
               marker: { size: size, color: "rgba(0,0,0,0)", line: { color: color, width: width } } };
    };
    var nMarked = 0;
    [["matches", "matches", "#111111", (args.marker_size || 5) + 4, 1],
     ["neighbours", "its neighbours", "#ff00aa", (args.marker_size || 5) + 9, 2.5],
     ["focus", "found", "#ff0000", (args.marker_size || 5) + 14, 3.5]].forEach(function (m) {
      var idx = (marks[m[0]] || []).filter(function (j) { return j >= 0 && j < xs.length; });
      if (idx.length) { data.push(ring(idx, m[1] + " (" + idx.length + ")", m[2], m[3], m[4])); nMarked += idx.length; }
    });
    var layout = {
      height: height, margin: { l: 45, r: 130, t: args.title ? 44 : 30, b: 40 },
      title: args.title ? { text: args.title, font: { size: 15 } } : undefined,
      dragmode: args.dragmode || "lasso", hovermode: "closest", uirevision: "keep",
      legend: { orientation: "v", x: 1.01, xanchor: "left", y: 1, yanchor: "top",
                itemsizing: "constant",
                title: args.legend_title ? { text: String(args.legend_title) } : undefined },
      xaxis: { zeroline: false }, yaxis: { zeroline: false },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fafafa"
    };
    var config = { displaylogo: false, responsive: true,
                   modeBarButtonsToRemove: ["toImage"] };
    PANEL.style.display = "none";
    PANEL.style.top = "auto";
    PANEL.style.bottom = (layout.margin.b + 2) + "px"; // in the right margin, under the legend
    document.body.setAttribute("data-webgl", WEBGL ? "1" : "0");
    return Plotly.react(PLOT, data, layout, config).then(function () {
      if (PLOT.removeAllListeners) {
        ["plotly_hover", "plotly_selected", "plotly_deselect"].forEach(function (e) { PLOT.removeAllListeners(e); });
      }
      PLOT.on("plotly_hover", onHover);
      PLOT.on("plotly_selected", onSelected);
      PLOT.on("plotly_deselect", function () { seq += 1; setValue({ selected: [], seq: seq }); });
      setHeight(height);
      document.body.setAttribute("data-marked", String(nMarked));
      document.body.setAttribute("data-drawn", args.kind === "hover" ? "hover" : "drag");
    });
  }

  function onHover(ev) {
    if (!state || state.kind !== "hover" || !ev || !ev.points || !ev.points.length) return;
    var idx = ev.points[0].customdata;
    if (idx === undefined || idx === null) return;
    var b64 = state.images[idx];
    if (b64) {
      THUMB.src = b64.indexOf("data:") === 0 ? b64 : "data:image/png;base64," + b64;
      THUMB.style.display = "block";
    } else {
      THUMB.removeAttribute("src");
      THUMB.style.display = "none";
    }
    CAPTION.textContent = state.texts[idx] !== undefined ? String(state.texts[idx]) : "#" + idx;
    PANEL.dataset.index = String(idx);
    PANEL.style.display = "block"; // stays on the last hovered point (no flicker)
  }

  function onSelected(ev) {
    if (!state || state.kind !== "hover") return;
    var sel = [];
    if (ev && ev.points) {
      ev.points.forEach(function (p) { if (p.customdata !== undefined) sel.push(Number(p.customdata)); });
    }
    sel.sort(function (a, b) { return a - b; });
    seq += 1;
    setValue({ selected: sel, seq: seq });
  }

  // ---------------------------------------------------------------- protocol
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "streamlit:render") return;
    var args = data.args || {};
    var json = JSON.stringify(args);
    if (json === lastArgsJson) return; // a rerun with the same args must not undo a drag
    lastArgsJson = json;
    try {
      var p = args.kind === "hover" ? drawHover(args) : drawDrag(args);
      if (p && p.catch) p.catch(function (err) { PLOT.textContent = "Plot error: " + err; setHeight(60); });
    } catch (err) {
      PLOT.textContent = "Plot error: " + err;
      setHeight(60);
    }
  });

  send("streamlit:componentReady", { apiVersion: 1 });
})();
