// Draws the report's charts from the JSON in #report-data and makes the tables sortable.
// Plain ES5-style script, no libraries, no network: the report must open offline anywhere.
// Every drawn chart gets a data-drawn attribute (the number of marks drawn), and the body's
// data-charts attribute counts the charts drawn.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = 0;
  var tooltip = document.getElementById('tooltip');

  // A canvas sized in CSS pixels and drawn at the screen's resolution.
  function setup(canvas, width, height) {
    var dpr = window.devicePixelRatio || 1;
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    return ctx;
  }

  function markDrawn(canvas, marks) {
    canvas.setAttribute('data-drawn', String(marks));
    charts += 1;
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) {
      return '–';
    }
    var a = Math.abs(v);
    if (a >= 1000) {
      return v.toFixed(0);
    }
    if (a >= 10) {
      return v.toFixed(1);
    }
    if (a >= 1) {
      return v.toFixed(2);
    }
    return a === 0 ? '0' : v.toPrecision(3);
  }

  function day(t) {
    return new Date(t * 1000).toISOString().slice(0, 10);
  }

  function showTip(event, text) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    tooltip.style.left = (event.clientX + 12) + 'px';
    tooltip.style.top = (event.clientY + 12) + 'px';
  }

  function hideTip() {
    tooltip.hidden = true;
  }

  // Colours: viridis for one-signed metrics, red-white-blue around a centre (0 for money,
  // 1 for profit factor). Better is always the bright (or blue) end.
  var SEQUENTIAL = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  var DIVERGING = [[178, 24, 43], [239, 138, 98], [247, 247, 247], [103, 169, 207], [33, 102, 172]];

  function ramp(stops, t) {
    t = Math.max(0, Math.min(1, t));
    var k = t * (stops.length - 1);
    var i = Math.min(Math.floor(k), stops.length - 2);
    var f = k - i;
    var a = stops[i];
    var b = stops[i + 1];
    var c = [0, 1, 2].map(function (j) {
      return Math.round(a[j] + (b[j] - a[j]) * f);
    });
    return 'rgb(' + c.join(',') + ')';
  }

  function colourScale(lo, hi) {
    var centre = data.center;
    var flip = !data.higher_is_better;
    if (centre !== null && lo < centre && hi > centre) {
      var span = Math.max(centre - lo, hi - centre);
      return function (v) {
        var t = 0.5 + 0.5 * (v - centre) / span;
        return ramp(DIVERGING, flip ? 1 - t : t);
      };
    }
    return function (v) {
      var t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      return ramp(SEQUENTIAL, flip ? 1 - t : t);
    };
  }

  // Heatmaps: one figure per (pair of parameters, facet), one colour scale for all of them so
  // that long and short compare at a glance.
  function drawHeatmaps() {
    var host = document.getElementById('heatmap-grid');
    var maps = data.heatmaps;
    if (!host) {
      return;
    }
    if (maps.length === 0) {
      host.textContent = 'No heatmaps: fewer than two numeric parameters vary in this grid.';
      return;
    }
    var lo = Infinity;
    var hi = -Infinity;
    maps.forEach(function (m) {
      m.cells.forEach(function (row) {
        row.forEach(function (v) {
          if (v !== null) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        });
      });
    });
    var colour = colourScale(lo, hi);
    if (lo <= hi) {
      drawScale(host, colour, lo, hi);
    }
    maps.forEach(function (m, index) {
      var cell = Math.max(22, Math.min(40, Math.floor(360 / Math.max(m.xs.length, m.ys.length))));
      var left = 64;
      var bottom = 62;
      var top = 6;
      var width = left + cell * m.xs.length + 8;
      var height = top + cell * m.ys.length + bottom;
      var figure = document.createElement('figure');
      figure.className = 'heatmap';
      figure.id = 'heatmap-' + index;
      var caption = document.createElement('figcaption');
      caption.textContent = m.x + ' × ' + m.y + (m.facet ? ' · ' + m.facet : '');
      var canvas = document.createElement('canvas');
      canvas.className = 'chart heatmap-canvas';
      figure.appendChild(caption);
      figure.appendChild(canvas);
      host.appendChild(figure);
      var ctx = setup(canvas, width, height);
      var painted = 0;
      for (var yi = 0; yi < m.ys.length; yi++) {
        for (var xi = 0; xi < m.xs.length; xi++) {
          var v = m.cells[yi][xi];
          // Highest y value at the top, like a chart axis.
          var py = top + (m.ys.length - 1 - yi) * cell;
          var px = left + xi * cell;
          ctx.fillStyle = v === null ? '#e3e6e9' : colour(v);
          ctx.fillRect(px, py, cell - 1, cell - 1);
          if (v !== null) {
            painted += 1;
          }
        }
      }
      ctx.fillStyle = '#1d232a';
      ctx.textAlign = 'right';
      m.ys.forEach(function (label, yi) {
        ctx.fillText(label, left - 4, top + (m.ys.length - 1 - yi) * cell + cell / 2);
      });
      ctx.save();
      m.xs.forEach(function (label, xi) {
        ctx.save();
        ctx.translate(left + xi * cell + cell / 2, top + m.ys.length * cell + 4);
        ctx.rotate(-Math.PI / 4);
        ctx.textAlign = 'right';
        ctx.fillText(label, 0, 0);
        ctx.restore();
      });
      ctx.restore();
      ctx.textAlign = 'center';
      ctx.fillText(m.x + ' →', left + cell * m.xs.length / 2, height - 7);
      ctx.save();
      ctx.translate(10, top + (m.ys.length * cell) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'center';
      ctx.fillText(m.y, 0, 0);
      ctx.restore();
      canvas.addEventListener('mousemove', function (event) {
        var box = canvas.getBoundingClientRect();
        var xi = Math.floor((event.clientX - box.left - left) / cell);
        var yi = m.ys.length - 1 - Math.floor((event.clientY - box.top - top) / cell);
        if (xi < 0 || xi >= m.xs.length || yi < 0 || yi >= m.ys.length) {
          hideTip();
          return;
        }
        var v = m.cells[yi][xi];
        var id = m.ids[yi][xi];
        showTip(event, m.x + ' = ' + m.xs[xi] + ', ' + m.y + ' = ' + m.ys[yi] + (m.facet ? ', ' + m.facet : '') +
          ': ' + (v === null ? 'no strategy with ≥ ' + data.min_trades + ' trades' : 'best ' + data.metric + ' ' + fmt(v) + ' (id ' + id + ')'));
      });
      canvas.addEventListener('mouseleave', hideTip);
      markDrawn(canvas, painted);
    });
  }

  // The colour bar shared by every heatmap: worst to best value of the ranking metric.
  function drawScale(host, colour, lo, hi) {
    var figure = document.createElement('figure');
    figure.className = 'heatmap-scale';
    var canvas = document.createElement('canvas');
    figure.appendChild(canvas);
    host.parentNode.insertBefore(figure, host);
    var width = 360;
    var ctx = setup(canvas, width + 200, 34);
    for (var k = 0; k < width; k++) {
      ctx.fillStyle = colour(lo + (hi - lo) * (k + 0.5) / width);
      ctx.fillRect(40 + k, 0, 1, 14);
    }
    ctx.fillStyle = '#1d232a';
    ctx.textAlign = 'center';
    ticks(lo, hi, 5).forEach(function (v) {
      ctx.fillText(fmt(v), 40 + (v - lo) / (hi - lo || 1) * width, 24);
    });
    ctx.textAlign = 'left';
    ctx.fillText(data.metric, 40 + width + 6, 7);
  }

  // Axis helper: `count` round tick values spanning lo..hi.
  function ticks(lo, hi, count) {
    if (!(hi > lo)) {
      return [lo];
    }
    var raw = (hi - lo) / count;
    var step = Math.pow(10, Math.floor(Math.log10(raw)));
    [2, 5, 10].some(function (m) {
      if (step * m >= raw) {
        step = step * m;
        return true;
      }
      return false;
    });
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  // The bars of a histogram down to the pixel row `base`, red where `bad(bin centre)`, else
  // blue; returns how many bars were drawn.
  function drawBins(ctx, edges, counts, x, y, base, bad) {
    var bars = 0;
    counts.forEach(function (c, k) {
      var a = edges[k];
      var b = edges[k + 1];
      ctx.fillStyle = bad((a + b) / 2) ? '#d6604d' : '#4393c3';
      if (c > 0) {
        ctx.fillRect(x(a) + 0.5, y(c), Math.max(1, x(b) - x(a) - 1), base - y(c));
        bars += 1;
      }
    });
    return bars;
  }

  function drawHistogram() {
    var canvas = document.getElementById('histogram');
    var h = data.histogram;
    if (!canvas || h.counts.length === 0) {
      return;
    }
    var width = 900;
    var height = 300;
    var pad = { left: 56, right: 12, top: 10, bottom: 36 };
    var ctx = setup(canvas, width, height);
    var maxCount = Math.max.apply(null, h.counts);
    var lo = h.edges[0];
    var hi = h.edges[h.edges.length - 1];
    var x = function (v) {
      return pad.left + (v - lo) / (hi - lo) * (width - pad.left - pad.right);
    };
    var y = function (c) {
      return height - pad.bottom - c / maxCount * (height - pad.top - pad.bottom);
    };
    var bars = drawBins(ctx, h.edges, h.counts, x, y, height - pad.bottom, function (mid) {
      return mid < 0;
    });
    ctx.strokeStyle = '#5b6570';
    ctx.beginPath();
    ctx.moveTo(pad.left, height - pad.bottom + 0.5);
    ctx.lineTo(width - pad.right, height - pad.bottom + 0.5);
    ctx.stroke();
    if (lo < 0 && hi > 0) {
      ctx.strokeStyle = '#1d232a';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x(0), pad.top);
      ctx.lineTo(x(0), height - pad.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.fillStyle = '#1d232a';
    ctx.textAlign = 'center';
    ticks(lo, hi, 8).forEach(function (v) {
      ctx.fillText(fmt(v) + ' $', x(v), height - pad.bottom + 14);
    });
    ctx.textAlign = 'right';
    ticks(0, maxCount, 4).forEach(function (c) {
      ctx.fillText(String(Math.round(c)), pad.left - 6, y(c));
    });
    ctx.textAlign = 'left';
    ctx.fillText('strategies', 4, pad.top + 4);
    canvas.addEventListener('mousemove', function (event) {
      var box = canvas.getBoundingClientRect();
      var v = lo + (event.clientX - box.left - pad.left) / (width - pad.left - pad.right) * (hi - lo);
      var k = Math.floor((v - lo) / (hi - lo) * h.counts.length);
      if (k < 0 || k >= h.counts.length) {
        hideTip();
        return;
      }
      showTip(event, fmt(h.edges[k]) + ' to ' + fmt(h.edges[k + 1]) + ' $: ' + h.counts[k] + ' strategies');
    });
    canvas.addEventListener('mouseleave', hideTip);
    markDrawn(canvas, bars);
  }

  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

  // Lines of `series` (one per curve, `curves[k].time` its times) against time, on a canvas
  // with a y label; `name(k)` labels line k in the tooltip, `colours[k]` draws it.
  function lineChart(canvas, height, curves, series, yLabel, name, colours) {
    var width = 900;
    var pad = { left: 64, right: 12, top: 10, bottom: 28 };
    var ctx = setup(canvas, width, height);
    var t0 = Infinity;
    var t1 = -Infinity;
    var lo = Infinity;
    var hi = -Infinity;
    curves.forEach(function (c, k) {
      t0 = Math.min(t0, c.time[0]);
      t1 = Math.max(t1, c.time[c.time.length - 1]);
      series[k].forEach(function (v) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      });
    });
    if (!(t1 > t0)) {
      t1 = t0 + 1;
    }
    if (!(hi > lo)) {
      hi = lo + 1;
    }
    var x = function (t) {
      return pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right);
    };
    var y = function (v) {
      return height - pad.bottom - (v - lo) / (hi - lo) * (height - pad.top - pad.bottom);
    };
    ctx.strokeStyle = '#d8dde2';
    ctx.fillStyle = '#1d232a';
    ctx.textAlign = 'right';
    ticks(lo, hi, 4).forEach(function (v) {
      ctx.beginPath();
      ctx.moveTo(pad.left, Math.round(y(v)) + 0.5);
      ctx.lineTo(width - pad.right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillText(fmt(v), pad.left - 6, y(v));
    });
    ctx.textAlign = 'center';
    for (var k = 0; k <= 5; k++) {
      var t = t0 + (t1 - t0) * k / 5;
      ctx.fillText(day(t), Math.min(Math.max(x(t), pad.left + 30), width - pad.right - 30), height - 10);
    }
    ctx.save();
    ctx.translate(12, pad.top + (height - pad.top - pad.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
    var points = 0;
    // Best last, so it is drawn on top.
    for (var c = curves.length - 1; c >= 0; c--) {
      var curve = curves[c];
      ctx.strokeStyle = colours[c % colours.length];
      ctx.lineWidth = c === 0 ? 1.6 : 1;
      ctx.beginPath();
      for (var i = 0; i < curve.time.length; i++) {
        var px = x(curve.time[i]);
        var py = y(series[c][i]);
        if (i === 0) {
          ctx.moveTo(px, py);
        } else {
          ctx.lineTo(px, py);
        }
        points += 1;
      }
      ctx.stroke();
    }
    ctx.lineWidth = 1;
    canvas.addEventListener('mousemove', function (event) {
      var box = canvas.getBoundingClientRect();
      var t = t0 + (event.clientX - box.left - pad.left) / (width - pad.left - pad.right) * (t1 - t0);
      if (t < t0 || t > t1) {
        hideTip();
        return;
      }
      var lines = curves.map(function (curve, k) {
        var i = 0;
        while (i + 1 < curve.time.length && curve.time[i + 1] <= t) {
          i += 1;
        }
        return name(k) + ': ' + fmt(series[k][i]);
      });
      showTip(event, day(t) + ' · ' + yLabel + ' · ' + lines.join(' · '));
    });
    canvas.addEventListener('mouseleave', hideTip);
    markDrawn(canvas, points);
  }

  function drawEquity() {
    var equity = document.getElementById('equity-chart');
    var drawdown = document.getElementById('drawdown-chart');
    var legend = document.getElementById('equity-legend');
    if (!equity || !drawdown || data.curves.length === 0) {
      return;
    }
    data.curves.forEach(function (c, k) {
      var item = document.createElement('span');
      var swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = PALETTE[k % PALETTE.length];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode('#' + c.rank + ' id ' + c.strategy_id + ' (' + c.label + ')' + (c.ruined ? ' ruined' : '')));
      legend.appendChild(item);
    });
    var name = function (k) {
      return '#' + data.curves[k].rank + ' id ' + data.curves[k].strategy_id;
    };
    lineChart(equity, 320, data.curves, data.curves.map(function (c) {
      return c.balance;
    }), 'balance $', name, PALETTE);
    lineChart(drawdown, 160, data.curves, data.curves.map(function (c) {
      return c.drawdown;
    }), 'drawdown $', name, PALETTE);
  }

  // "Is it luck?": the histogram of PBO's logits, the Monte Carlo drawdown bands and the
  // walk-forward's stitched out-of-sample equity against the hindsight best's.
  function drawLuck() {
    var luck = data.luck;
    if (!luck) {
      return;
    }
    drawLambdas(luck);
    drawBands(luck);
    var canvas = document.getElementById('wf-chart');
    var s = luck.stitched;
    if (canvas && s && s.time.length > 0) {
      var both = [{ time: s.time }, { time: s.time }];
      // The hindsight line first so that the walk-forward's is drawn on top.
      lineChart(canvas, 280, both, [s.oos, s.hindsight], 'cumulative P&L $', function (k) {
        return k === 0 ? 'walk-forward picks' : 'hindsight best (id ' + s.hindsight_id + ')';
      }, ['#2166ac', '#9aa3ab']);
    }
  }

  function drawLambdas(luck) {
    var canvas = document.getElementById('lambda-histogram');
    var counts = luck.lambda_counts;
    var edges = luck.lambda_edges;
    if (!canvas || counts.length === 0) {
      return;
    }
    var width = 900;
    var height = 240;
    var pad = { left: 56, right: 12, top: 10, bottom: 36 };
    var ctx = setup(canvas, width, height);
    var maxCount = Math.max.apply(null, counts);
    var lo = Math.min(edges[0], 0);
    var hi = Math.max(edges[edges.length - 1], 0);
    if (!(hi > lo)) {
      hi = lo + 1;
    }
    var x = function (v) {
      return pad.left + (v - lo) / (hi - lo) * (width - pad.left - pad.right);
    };
    var y = function (c) {
      return height - pad.bottom - c / maxCount * (height - pad.top - pad.bottom);
    };
    var bars = drawBins(ctx, edges, counts, x, y, height - pad.bottom, function (mid) {
      return mid <= 0;
    });
    ctx.strokeStyle = '#1d232a';
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(x(0), pad.top);
    ctx.lineTo(x(0), height - pad.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#1d232a';
    ctx.textAlign = 'center';
    ticks(lo, hi, 8).forEach(function (v) {
      ctx.fillText(fmt(v), x(v), height - pad.bottom + 14);
    });
    ctx.fillText('logit λ of the backtest best’s rank in the future', width / 2, height - 8);
    ctx.textAlign = 'right';
    ticks(0, maxCount, 4).forEach(function (c) {
      ctx.fillText(String(Math.round(c)), pad.left - 6, y(c));
    });
    ctx.textAlign = 'left';
    ctx.fillText('splits', 4, pad.top + 4);
    canvas.addEventListener('mousemove', function (event) {
      var box = canvas.getBoundingClientRect();
      var v = lo + (event.clientX - box.left - pad.left) / (width - pad.left - pad.right) * (hi - lo);
      for (var k = 0; k < counts.length; k++) {
        if (v >= edges[k] && v < edges[k + 1]) {
          showTip(event, 'λ ' + fmt(edges[k]) + ' to ' + fmt(edges[k + 1]) + ': ' + counts[k] + ' splits');
          return;
        }
      }
      hideTip();
    });
    canvas.addEventListener('mouseleave', hideTip);
    markDrawn(canvas, bars);
  }

  // One row per lot size, each on its own scale from 0 (drawdowns grow with the lot size, so a
  // shared axis would flatten the small ones): the 5-95 % band, the median and the real order.
  function drawBands(luck) {
    var canvas = document.getElementById('mc-bands');
    var bands = luck.bands;
    if (!canvas || bands.length === 0) {
      return;
    }
    var width = 900;
    var row = 34;
    var height = 40 + row * bands.length;
    var pad = { left: 80, right: 90, top: 14 };
    var ctx = setup(canvas, width, height);
    var marks = 0;
    bands.forEach(function (b, k) {
      var hi = Math.max(b.p95, b.actual) * 1.05;
      if (!(hi > 0)) {
        hi = 1;
      }
      var x = function (v) {
        return pad.left + v / hi * (width - pad.left - pad.right);
      };
      var cy = pad.top + row * k + row / 2;
      ctx.strokeStyle = '#d8dde2';
      ctx.beginPath();
      ctx.moveTo(x(0), cy + 0.5);
      ctx.lineTo(x(hi), cy + 0.5);
      ctx.stroke();
      ctx.fillStyle = '#c6dbef';
      ctx.fillRect(x(b.p5), cy - 8, Math.max(1, x(b.p95) - x(b.p5)), 16);
      ctx.fillStyle = '#2166ac';
      ctx.fillRect(x(b.p50) - 1, cy - 10, 2, 20);
      ctx.fillStyle = '#b2182b';
      ctx.beginPath();
      ctx.arc(x(b.actual), cy, 4, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = '#1d232a';
      ctx.textAlign = 'right';
      ctx.fillText(b.lots + ' lots', pad.left - 8, cy);
      ctx.textAlign = 'left';
      ctx.fillText(fmt(b.p5) + ' – ' + fmt(b.p95) + ' $', x(hi) + 6, cy);
      marks += 3;
    });
    ctx.textAlign = 'left';
    ctx.fillStyle = '#5b6570';
    ctx.fillText('largest drawdown: band 5–95 %, tick median, dot the real order', pad.left, height - 10);
    markDrawn(canvas, marks);
  }

  // Sorting: click a header to sort by it (descending first for numbers), again to reverse.
  function sortable(table) {
    var heads = table.querySelectorAll('thead th');
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var numeric = rows.some(function (r) {
          return r.cells[col] && r.cells[col].hasAttribute('data-v');
        });
        var dir = th.getAttribute('aria-sort') === 'descending' ? 1 : -1;
        if (!th.hasAttribute('aria-sort') && !numeric) {
          dir = 1;
        }
        var key = function (r) {
          var cell = r.cells[col];
          if (!numeric) {
            return cell ? cell.textContent : '';
          }
          var v = cell ? cell.getAttribute('data-v') : '';
          return v === '' || v === null ? null : parseFloat(v);
        };
        rows.sort(function (a, b) {
          var ka = key(a);
          var kb = key(b);
          if (ka === kb) {
            return 0;
          }
          // Empty values last, whichever the direction.
          if (ka === null) {
            return 1;
          }
          if (kb === null) {
            return -1;
          }
          return (ka < kb ? -1 : 1) * dir;
        });
        rows.forEach(function (r) {
          body.appendChild(r);
        });
        Array.prototype.forEach.call(heads, function (h) {
          h.removeAttribute('aria-sort');
        });
        th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), sortable);
  drawHeatmaps();
  drawHistogram();
  drawEquity();
  drawLuck();
  document.body.setAttribute('data-charts', String(charts));
})();
