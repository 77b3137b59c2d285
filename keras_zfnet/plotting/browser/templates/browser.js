/* keras_zfnet unit browser: one page, three views chosen by the fragment:
 *   #               index of layers
 *   #conv5          grid of every channel of a layer (top-1 projections)
 *   #conv5/31       one unit: top-k projections, patches, values, histogram
 * Works from file:// (classic scripts, data as <script> files, no fetch). */
(function () {
  "use strict";
  var site = window.KZ_SITE;
  var view = document.getElementById("view");
  var crumbs = document.getElementById("crumbs");
  var message = document.getElementById("message");
  var byName = {};
  site.layers.forEach(function (layer, i) {
    layer.position = i;
    layer.deadSet = {};
    layer.dead.forEach(function (c) { layer.deadSet[c] = true; });
    byName[layer.name] = layer;
  });
  var state = { view: null, layer: null, unit: null, rendered: 0 };
  window.KZ = { site: site, state: state, images: {} };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "style") node.setAttribute("style", attrs[key]);
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ?
                       document.createTextNode(child) : child);
    });
    return node;
  }

  function link(hash, text, attrs) {
    attrs = attrs || {};
    attrs.href = "#" + hash;
    return el("a", attrs, [text]);
  }

  function track(url) {
    if (KZ.images[url]) return;
    KZ.images[url] = "loading";
    var image = new Image();
    image.onload = function () {
      KZ.images[url] = "loaded";
      KZ.loadedAt = performance.now();
    };
    image.onerror = function () {
      KZ.images[url] = "error";
      console.error("unit browser: could not load " + url);
    };
    image.src = url;
  }

  /* A tile of a sprite sheet with `columns` x `rows` tiles of shape
   * tile = [rows, cols] pixels, scaled to the element's width. */
  function sprite(url, columns, rows, column, row, tile) {
    track(url);
    var x = columns > 1 ? (100 * column / (columns - 1)) : 0;
    var y = rows > 1 ? (100 * row / (rows - 1)) : 0;
    var style = "background-image:url('" + url + "');" +
      "background-size:" + (100 * columns) + "% " + (100 * rows) + "%;" +
      "background-position:" + x + "% " + y + "%;" +
      "aspect-ratio:" + tile[1] + " / " + tile[0] + ";";
    var small = Math.max(tile[0], tile[1]) < 48 ? " pixelated" : "";
    return el("span", { "class": "sprite" + small, style: style,
                        "data-sheet": url });
  }

  function format(value) {
    if (value === null || value === undefined) return "-";
    var a = Math.abs(value);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return value.toExponential(3);
    return String(Math.round(value * 1e4) / 1e4);
  }

  function parse(hash) {
    var text = decodeURIComponent(hash.replace(/^#/, ""));
    if (!text) return { view: "index" };
    if (byName[text]) return { view: "layer", layer: byName[text] };
    var cut = text.lastIndexOf("/");
    if (cut > 0 && byName[text.slice(0, cut)] &&
        /^[0-9]+$/.test(text.slice(cut + 1))) {
      var layer = byName[text.slice(0, cut)];
      var unit = parseInt(text.slice(cut + 1), 10);
      if (unit < layer.channels) {
        return { view: "unit", layer: layer, unit: unit };
      }
      return { view: "layer", layer: layer,
               error: layer.name + " has channels 0.." +
                      (layer.channels - 1) + "; there is no " + unit };
    }
    return { view: "index", error: "No layer or unit \u201c" + text +
             "\u201d. Layers: " + site.layers.map(function (l) {
               return l.name; }).join(", ") };
  }

  function loadLayer(layer, done) {
    var loaded = window.KZ_LAYERS && window.KZ_LAYERS[layer.name];
    if (loaded) { done(loaded); return; }
    var script = el("script", { src: layer.script });
    script.onload = function () { done(window.KZ_LAYERS[layer.name]); };
    script.onerror = function () {
      console.error("unit browser: could not load " + layer.script);
      show([el("p", { text: "Could not load " + layer.script })]);
    };
    document.body.appendChild(script);
  }

  function show(children) {
    view.textContent = "";
    children.forEach(function (child) { view.appendChild(child); });
    state.rendered += 1;
    KZ.renderedAt = performance.now();
  }

  function setCrumbs(parts) {
    crumbs.textContent = "";
    parts.forEach(function (part, i) {
      if (i) crumbs.appendChild(document.createTextNode(" \u203a "));
      crumbs.appendChild(part);
    });
  }

  function card(value, label) {
    return el("div", { "class": "card" },
              [el("b", { text: String(value) }), el("span", { text: label })]);
  }

  function renderIndex() {
    setCrumbs([el("span", { text: "layers" })]);
    var rows = site.layers.map(function (layer) {
      var rf = layer.rf;
      return el("tr", {}, [
        el("td", {}, [link(layer.name, layer.name)]),
        el("td", { text: layer.map.join("\u00d7") }),
        el("td", { text: String(layer.channels) }),
        el("td", { text: rf.size.join("\u00d7") + " / " + rf.jump[0] }),
        el("td", { text: String(layer.dead.length) })]);
    });
    var head = el("tr", {}, ["layer", "map", "channels", "field / stride",
                             "dead"].map(function (t) {
                               return el("th", { text: t }); }));
    show([
      el("h2", { text: site.model }),
      el("div", { "class": "cards" }, [
        card(site.scanned, "images scanned"),
        card(site.k, "top activations per unit"),
        card(site.layers.reduce(function (s, l) { return s + l.channels; },
                                0), "units")]),
      el("table", { id: "layers" }, [el("thead", {}, [head]),
                                     el("tbody", {}, rows)]),
      el("p", { text: "A unit's page shows the " + site.k + " images that " +
                "excite it most: deconvnet projections of each activation " +
                "to pixel space beside the image patch it sees (its " +
                "receptive field). Dead units never fired on the data." })]);
  }

  function renderLayer(layer) {
    setCrumbs([link("", "layers"), el("span", { text: layer.name })]);
    var thumbs = layer.thumbs;
    var tiles = [];
    for (var c = 0; c < layer.channels; c++) {
      var dead = layer.deadSet[c];
      tiles.push(link(layer.name + "/" + c, "", {
        "class": "unit" + (dead ? " dead" : ""), id: "unit-" + c,
        title: layer.name + " #" + c + (dead ? " (dead)" : "") }));
      tiles[c].appendChild(sprite(thumbs.file, thumbs.columns, thumbs.rows,
                                  c % thumbs.columns,
                                  Math.floor(c / thumbs.columns),
                                  thumbs.tile));
      tiles[c].appendChild(el("span", { text: c + (dead ? " dead" : "") }));
    }
    var rf = layer.rf;
    show([
      el("h2", { text: layer.name }),
      el("div", { "class": "cards" }, [
        card(layer.map.join("\u00d7"), "map size"),
        card(layer.channels, "channels"),
        card(rf.size.join("\u00d7"), "receptive field (px)"),
        card(rf.jump.join("\u00d7"), "stride (px)"),
        card(layer.dead.length + " of " + layer.channels, "dead units")]),
      el("div", { "class": "grid", id: "grid" }, tiles)]);
  }

  function histogram(units, unit, values) {
    var row = units.hist[unit];
    var limit = row[0], first = row[1], counts = row[2];
    var total = counts.reduce(function (s, v) { return s + v; }, 0);
    if (limit === 0 || counts.length === 0) {
      return el("p", { text: "Its maximum is 0 on every image." });
    }
    var width = 2 * limit / site.bins;
    var lo = -limit + first * width, hi = lo + counts.length * width;
    var peak = Math.max.apply(null, counts);
    var W = 600, H = 160, pad = 18;
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + (H + pad));
    svg.setAttribute("class", "histogram");
    svg.setAttribute("role", "img");
    var kth = values[values.length - 1];
    var bar = W / counts.length;
    counts.forEach(function (count, b) {
      if (!count) return;
      var h = Math.max(1, (H - 4) * count / peak);
      var r = document.createElementNS(ns, "rect");
      r.setAttribute("x", b * bar);
      r.setAttribute("y", H - h);
      r.setAttribute("width", Math.max(bar - 1, 0.5));
      r.setAttribute("height", h);
      if (lo + (b + 1) * width > kth) r.setAttribute("class", "top");
      var title = document.createElementNS(ns, "title");
      title.textContent = count + " images with max in [" +
        format(lo + b * width) + ", " + format(lo + (b + 1) * width) + ")";
      r.appendChild(title);
      svg.appendChild(r);
    });
    [[lo, 0, "start"], [hi, W, "end"]].forEach(function (tick) {
      var t = document.createElementNS(ns, "text");
      t.setAttribute("x", tick[1]);
      t.setAttribute("y", H + pad - 4);
      t.setAttribute("text-anchor", tick[2]);
      t.textContent = format(tick[0]);
      svg.appendChild(t);
    });
    return el("figure", { id: "histogram", "data-total": total }, [svg,
      el("figcaption", { text: "Maximum activation of the unit on each of " +
        "the " + total + " images (" + counts.length + " bins; orange: the " +
        "top-" + site.k + " range; tallest bin " + peak + ")." })]);
  }

  function tileGrid(units, sheet, unit, offset, caption, layer) {
    var k = site.k, columns = Math.ceil(Math.sqrt(k));
    var cells = [];
    for (var j = 0; j < k; j++) {
      var index = units.indices[unit][j];
      cells.push(el("div", { "class": "tile" }, [
        sprite(sheet.file, sheet.columns, sheet.rows, offset + j,
               unit - sheet.first, layer.tile),
        el("span", { text: index >= 0 ? "#" + index : "empty" })]));
    }
    return el("section", {}, [el("h3", { text: caption }),
      el("div", { "class": "tiles",
                  style: "grid-template-columns:repeat(" + columns +
                         ", minmax(0, 1fr))" }, cells)]);
  }

  function renderUnit(layer, unit, units) {
    var name = layer.name;
    setCrumbs([link("", "layers"), link(name, name),
               el("span", { text: "unit " + unit })]);
    var sheet = units.sheets.filter(function (s) {
      return s.first <= unit && unit < s.first + s.count; })[0];
    var dead = layer.deadSet[unit];
    var values = units.values[unit];
    var nav = [];
    if (unit > 0) nav.push(link(name + "/" + (unit - 1), "\u2190 " +
                                (unit - 1), { id: "prev" }));
    nav.push(link(name, "\u2191 " + name, { id: "up" }));
    if (unit + 1 < layer.channels) {
      nav.push(link(name + "/" + (unit + 1), (unit + 1) + " \u2192",
                    { id: "next" }));
    }
    var silent = units.silent[unit];
    var status = dead ?
      el("span", { "class": "badge dead", text: "dead: never active on the " +
                   site.scanned + " images" }) :
      el("span", { "class": "badge", text: "silent on " + silent + " of " +
                   site.scanned + " images" });
    var head = el("tr", {}, ["#", "activation", "image", "class",
                             "position"].map(function (t) {
                               return el("th", { text: t }); }));
    var rows = values.map(function (value, j) {
      var index = units.indices[unit][j];
      var label = units.labels ? units.labels[unit][j] : null;
      var names = site.class_names;
      var shown = label === null || label === undefined ? "-" :
        (names && names[label] !== undefined ? names[label] : String(label));
      var pos = units.positions[unit][j];
      return el("tr", {}, [el("td", { text: String(j + 1) }),
        el("td", { text: index >= 0 ? format(value) : "-" }),
        el("td", { text: index >= 0 ? String(index) : "-" }),
        el("td", { text: shown }),
        el("td", { text: index >= 0 ? "(" + pos[0] + ", " + pos[1] + ")" :
                   "-" })]);
    });
    show([
      el("h2", { id: "unit-title", text: name + " \u00b7 unit " + unit }),
      el("div", { "class": "nav" }, nav),
      status,
      el("div", { "class": "pair" }, [
        tileGrid(units, sheet, unit, 0, "Projections (deconvnet)", layer),
        tileGrid(units, sheet, unit, site.k, "Image patches", layer)]),
      el("h3", { text: "Top " + site.k + " activations" }),
      el("table", { id: "entries" }, [el("thead", {}, [head]),
                                      el("tbody", {}, rows)]),
      el("h3", { text: "Maximum activation over the data" }),
      histogram(units, unit, values)]);
  }

  function render() {
    var route = parse(location.hash);
    message.textContent = route.error || "";
    state.view = route.view;
    state.layer = route.layer ? route.layer.name : null;
    state.unit = route.view === "unit" ? route.unit : null;
    document.title = site.title + (route.layer ? " \u00b7 " +
      route.layer.name + (route.view === "unit" ? "/" + route.unit : "") :
      "");
    if (route.view === "index") renderIndex();
    else if (route.view === "layer") renderLayer(route.layer);
    else {
      loadLayer(route.layer, function (units) {
        if (state.layer === route.layer.name && state.unit === route.unit) {
          renderUnit(route.layer, route.unit, units);
        }
      });
    }
    window.scrollTo(0, 0);
  }

  function go(hash) { location.hash = hash; }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.isContentEditable) ||
        event.altKey || event.ctrlKey || event.metaKey) return;
    var layer = state.layer && byName[state.layer];
    if (event.key === "ArrowUp") {
      if (state.view === "unit") go(layer.name);
      else if (state.view === "layer") go("");
      else return;
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      if (state.view !== "unit") return;
      var step = event.key === "ArrowRight" ? 1 : -1;
      var next = state.unit + step;
      if (next < 0 || next >= layer.channels) return;
      go(layer.name + "/" + next);
    } else {
      return;
    }
    event.preventDefault();
  });

  document.getElementById("search").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = document.getElementById("query").value.trim();
    if (/^[0-9]+$/.test(text)) {
      var layer = state.layer && byName[state.layer] || site.layers[0];
      text = layer.name + "/" + text;
    }
    var route = parse("#" + text);
    if (route.error || route.view === "index") {
      message.textContent = route.error || "Type a channel number.";
      return;
    }
    go(text);
  });

  window.addEventListener("hashchange", render);
  render();
})();
