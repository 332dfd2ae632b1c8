// snnx report viewer: step through one test image's spikes and membranes over time.
// Plain JavaScript, no libraries, no network: the data is the JSON in #viewer-data.
"use strict";

(function () {
  const COLORS = { float: "#1f77b4", fixed: "#ff7f0e", input: "#222" };
  const LABELS = { float: "float", fixed: "fixed point" };

  window.addEventListener("error", function (ev) {
    document.documentElement.setAttribute("data-report-error", String(ev.message));
  });

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }

  function canvas(width, height) {
    const c = el("canvas", { width: String(width), height: String(height) });
    c.style.width = width + "px";
    c.style.height = height + "px";
    return c;
  }

  // A raster of one layer up to step t: one column per step, one row band per neuron.
  function drawRaster(cv, size, series, steps, t) {
    const ctx = cv.getContext("2d");
    const w = cv.width, h = cv.height;
    ctx.clearRect(0, 0, w, h);
    const colW = w / steps, rowH = h / size;
    ctx.fillStyle = "#fff4c2";
    ctx.fillRect((t - 1) * colW, 0, colW, h);
    series.forEach((s, k) => {
      ctx.fillStyle = s.color;
      const part = colW / series.length;
      for (let step = 0; step < Math.min(t, steps); step++) {
        const idx = s.spikes[step] || [];
        ctx.globalAlpha = step === t - 1 ? 1.0 : 0.45;
        idx.forEach((n) => {
          ctx.fillRect(step * colW + k * part, h - (n + 1) * rowH, Math.max(part - 0.5, 1), Math.max(rowH, 1));
        });
      }
    });
    ctx.globalAlpha = 1.0;
  }

  // Square inputs (28x28 pixels) as an image: spikes so far in grey, the current step's in yellow.
  function drawFrame(cv, size, spikes, t) {
    const side = Math.round(Math.sqrt(size));
    const ctx = cv.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, cv.width, cv.height);
    if (side * side !== size) return;
    const px = cv.width / side;
    const counts = new Array(size).fill(0);
    let most = 1;
    for (let step = 0; step < Math.min(t, spikes.length); step++) {
      (spikes[step] || []).forEach((n) => { counts[n] += 1; most = Math.max(most, counts[n]); });
    }
    counts.forEach((c, n) => {
      if (!c) return;
      const g = Math.round(60 + 140 * c / most);
      ctx.fillStyle = "rgb(" + g + "," + g + "," + g + ")";
      ctx.fillRect((n % side) * px, Math.floor(n / side) * px, px, px);
    });
    ctx.fillStyle = "#ffd60a";
    (spikes[t - 1] || []).forEach((n) => {
      ctx.fillRect((n % side) * px, Math.floor(n / side) * px, px, px);
    });
  }

  function drawMembrane(cv, layer, neuronPos, models, steps, t) {
    const ctx = cv.getContext("2d");
    const w = cv.width, h = cv.height, pad = 34;
    ctx.clearRect(0, 0, w, h);
    let lo = 0, hi = 0;
    models.forEach((m) => {
      const v = layer[m].v ? layer[m].v[neuronPos] : [];
      v.forEach((x) => { lo = Math.min(lo, x); hi = Math.max(hi, x); });
      hi = Math.max(hi, layer[m].threshold * 1.1);
    });
    if (hi === lo) hi = lo + 1;
    const X = (step) => pad + (step - 0.5) * (w - pad - 8) / steps;
    const Y = (v) => h - 18 - (v - lo) / (hi - lo) * (h - 28);
    ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1; ctx.setLineDash([]);
    ctx.beginPath(); ctx.moveTo(pad, Y(0)); ctx.lineTo(w - 8, Y(0)); ctx.stroke();
    ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
    ctx.fillText(hi.toFixed(2), 2, Y(hi) + 4); ctx.fillText("0", 2, Y(0) + 4);
    ctx.fillText("step " + t + " of " + steps, w - 90, h - 4);
    models.forEach((m, k) => {
      const data = layer[m];
      ctx.strokeStyle = COLORS[m];
      ctx.setLineDash([2, 3]);
      ctx.beginPath(); ctx.moveTo(pad, Y(data.threshold)); ctx.lineTo(w - 8, Y(data.threshold)); ctx.stroke();
      if (!data.v) return;
      const v = data.v[neuronPos];
      ctx.setLineDash(k === 0 ? [] : [6, 4]);
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      v.forEach((x, i) => { if (i === 0) ctx.moveTo(X(i + 1), Y(x)); else ctx.lineTo(X(i + 1), Y(x)); });
      ctx.stroke();
      ctx.lineWidth = 1;
    });
    ctx.setLineDash([]);
    ctx.strokeStyle = "#d62728";
    ctx.beginPath(); ctx.moveTo(X(t), 4); ctx.lineTo(X(t), h - 18); ctx.stroke();
  }

  function countsUpTo(spikes, size, latency, t) {
    const counts = new Array(size).fill(0);
    for (let step = latency; step < Math.min(t, spikes.length); step++) {
      (spikes[step] || []).forEach((n) => { counts[n] += 1; });
    }
    return counts;
  }

  function build(root, data) {
    const models = data.models;
    const steps = data.steps;
    let sample = 0, t = steps, timer = null;

    const sampleSel = el("select", { id: "viewer-sample" });
    data.samples.forEach((s, i) => {
      const preds = models.map((m) => LABELS[m] + " " + s.prediction[m]).join(", ");
      sampleSel.appendChild(el("option", { value: String(i), text: "test image " + i + ": label " + s.label + " (" + preds + ")" }));
    });
    const slider = el("input", { id: "viewer-step", type: "range", min: "1", max: String(steps), value: String(steps) });
    const play = el("button", { id: "viewer-play", type: "button", text: "play" });
    const stepLabel = el("span", { id: "viewer-step-label" });
    const legend = el("span", { class: "legend" });
    models.forEach((m) => {
      legend.appendChild(el("span", { class: "swatch", style: "background:" + COLORS[m] }));
      legend.appendChild(document.createTextNode(LABELS[m] + " "));
    });
    root.appendChild(el("div", { class: "controls" }, [sampleSel, play, slider, stepLabel, legend]));

    const rasterBox = el("div", { class: "rasters" });
    root.appendChild(rasterBox);
    const memBox = el("div", { class: "membrane" });
    root.appendChild(memBox);
    const layerSel = el("select", { id: "viewer-layer" });
    const neuronSel = el("select", { id: "viewer-neuron" });
    const memCanvas = canvas(760, 220);
    const readout = el("div", { id: "viewer-readout", class: "readout" });
    memBox.appendChild(el("div", { class: "controls" }, [el("span", { text: "membrane of layer " }), layerSel,
      el("span", { text: " neuron " }), neuronSel]));
    memBox.appendChild(memCanvas);
    memBox.appendChild(readout);
    const countsBox = el("div", { id: "viewer-counts" });
    memBox.appendChild(countsBox);

    let rasters = [];
    function layout() {
      rasterBox.innerHTML = "";
      rasters = [];
      const s = data.samples[sample];
      const rows = [{ name: "input (" + s.input.size + ")", size: s.input.size, series: [{ color: COLORS.input, spikes: s.input.spikes }], frame: s.input }]
        .concat(s.layers.map((ly) => ({ name: ly.name, size: ly.size,
          series: models.map((m) => ({ color: COLORS[m], spikes: ly[m].spikes })) })));
      rows.forEach((r) => {
        const cv = canvas(760, Math.max(30, Math.min(140, r.size * 4)));
        const parts = [el("div", { class: "rname", text: r.name }), cv];
        let frame = null;
        if (r.frame && Math.pow(Math.round(Math.sqrt(r.size)), 2) === r.size) {
          frame = canvas(112, 112);
          parts.push(frame);
        }
        rasterBox.appendChild(el("div", { class: "rrow" }, parts));
        rasters.push({ row: r, cv: cv, frame: frame });
      });
      layerSel.innerHTML = "";
      s.layers.forEach((ly, i) => layerSel.appendChild(el("option", { value: String(i), text: ly.name })));
      layerSel.value = String(s.layers.length - 1);
      fillNeurons(true);
    }

    function fillNeurons(pickPrediction) {
      const s = data.samples[sample];
      const ly = s.layers[Number(layerSel.value)];
      neuronSel.innerHTML = "";
      ly.neurons.forEach((n, pos) => neuronSel.appendChild(el("option", { value: String(pos), text: String(n) })));
      const want = pickPrediction ? s.prediction[models[0]] : ly.neurons[0];
      const pos = Math.max(0, ly.neurons.indexOf(want));
      neuronSel.value = String(pos);
    }

    function draw() {
      const s = data.samples[sample];
      root.setAttribute("data-sample", String(sample));
      root.setAttribute("data-step", String(t));
      stepLabel.textContent = "step " + t + " / " + steps + (t <= data.latency ? " (pipeline filling)" : "");
      rasters.forEach((r) => {
        drawRaster(r.cv, r.row.size, r.row.series, steps, t);
        if (r.frame) drawFrame(r.frame, r.row.size, r.row.frame.spikes, t);
      });
      const li = Number(layerSel.value), pos = Number(neuronSel.value);
      const ly = s.layers[li];
      drawMembrane(memCanvas, ly, pos, models, steps, t);
      const neuron = ly.neurons[pos];
      readout.textContent = "step " + t + ", neuron " + neuron + ": " + models.map((m) => {
        const v = ly[m].v ? ly[m].v[pos][t - 1] : null;
        const spiked = (ly[m].spikes[t - 1] || []).indexOf(neuron) >= 0;
        return LABELS[m] + " v = " + (v === null ? "n/a" : v.toFixed(3)) + " (threshold " + ly[m].threshold.toFixed(3) + ")" + (spiked ? " spike" : "");
      }).join("; ");
      const out = s.layers[s.layers.length - 1];
      const rows = models.map((m) => {
        const c = countsUpTo(out[m].spikes, out.size, data.latency, t);
        return "<tr><th>" + LABELS[m] + "</th>" + c.map((x) => "<td>" + x + "</td>").join("") + "</tr>";
      });
      countsBox.innerHTML = "<table class=\"grid\"><tr><th>output spikes so far</th>" +
        Array.from({ length: out.size }, (_, i) => "<th>" + i + "</th>").join("") + "</tr>" + rows.join("") + "</table>";
    }

    sampleSel.addEventListener("change", () => { sample = Number(sampleSel.value); layout(); draw(); });
    slider.addEventListener("input", () => { t = Number(slider.value); draw(); });
    layerSel.addEventListener("change", () => { fillNeurons(false); draw(); });
    neuronSel.addEventListener("change", draw);
    play.addEventListener("click", () => {
      if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
      if (t >= steps) t = 0;
      play.textContent = "pause";
      timer = setInterval(() => {
        t += 1; slider.value = String(t); draw();
        if (t >= steps) { clearInterval(timer); timer = null; play.textContent = "play"; }
      }, 150);
    });
    // A link such as report.html#sample=1&t=12 opens the viewer at that image and step.
    const hash = new URLSearchParams(window.location.hash.slice(1));
    if (hash.has("sample")) {
      sample = Math.min(Math.max(Number(hash.get("sample")) || 0, 0), data.samples.length - 1);
      sampleSel.value = String(sample);
    }
    if (hash.has("t")) {
      t = Math.min(Math.max(Number(hash.get("t")) || steps, 1), steps);
      slider.value = String(t);
    }
    layout();
    draw();
  }

  const root = document.getElementById("viewer-root");
  const data = JSON.parse(document.getElementById("viewer-data").textContent);
  build(root, data);
  document.documentElement.setAttribute("data-report-ready", "ok");
})();
