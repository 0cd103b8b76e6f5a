extension PreviewPage {
  /// The page's script: follows `/_preview/live` and draws what it says (see `LiveChannel`
  /// for the messages). Everything received goes into the page through `textContent` or
  /// SVG attributes, never as markup.
  static let script = #"""
    'use strict';
    (function () {
      const $ = (id) => document.getElementById(id);
      const SVG = 'http://www.w3.org/2000/svg';
      const statusLine = $('status'), problems = $('problems'), problemsTitle = $('problems-title');
      const problemList = $('problem-list'), progressLine = $('progress'), curves = $('curves');
      const cells = $('cells'), cellCount = $('cell-count'), frame = $('report');
      let cycle = 0, cellIds = [], networks = new Map();

      function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined && text !== null) node.textContent = String(text);
        return node;
      }
      function svg(tag, attributes) {
        const node = document.createElementNS(SVG, tag);
        for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
        return node;
      }
      function setStatus(text, kind) {
        statusLine.textContent = text;
        statusLine.dataset.kind = kind || '';
      }
      function showProblems(title, nodes) {
        problemsTitle.textContent = title;
        problemList.replaceChildren(...nodes);
        problems.hidden = false;
      }
      function clearProblems() {
        problems.hidden = true;
        problemList.replaceChildren();
      }
      function preBlock(text, className) { return el('pre', className, text); }
      function seconds(s) {
        if (s === null || s === undefined || !isFinite(s)) return '?';
        if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
        const m = Math.floor(s / 60), r = Math.round(s - 60 * m);
        return m + ' min ' + r + ' s';
      }

      // A compile error, at its line of the chapter file, with that line and a caret.
      function diagnosticNode(d) {
        const box = el('div', 'diagnostic');
        const where = d.file + ':' + d.line + (d.column ? ':' + d.column : '');
        box.append(el('p', 'where', where), el('p', 'message', 'error: ' + d.message));
        if (typeof d.source === 'string') {
          const number = String(d.line);
          let text = number + ' | ' + d.source;
          if (d.column > 0) text += '\n' + ' '.repeat(number.length) + ' | ' + ' '.repeat(d.column - 1) + '^';
          box.append(preBlock(text, 'source'));
        }
        return box;
      }
      function logNode(summary, text) {
        const details = el('details', 'log');
        details.append(el('summary', null, summary), preBlock(text));
        return details;
      }

      // One network's curve: loss and train accuracy at each point, test accuracy per epoch.
      function series(name) {
        if (!networks.has(name)) {
          const figure = el('figure', 'curve');
          const chart = svg('svg', { viewBox: '0 0 360 200', role: 'img', 'data-network': name, 'data-points': 0 });
          figure.append(chart, el('figcaption', null, name));
          curves.append(figure);
          networks.set(name, { chart, points: [], tests: [], epochs: 1 });
        }
        return networks.get(name);
      }
      function draw(s) {
        const left = 34, right = 350, top = 10, bottom = 172;
        let epochs = s.epochs;
        for (const p of s.points) epochs = Math.max(epochs, Math.ceil(p.epoch - 1e-9));
        let highest = 1;
        for (const p of s.points) if (p.loss !== null && isFinite(p.loss)) highest = Math.max(highest, p.loss);
        const step = highest <= 1 ? 0.25 : highest <= 3 ? 0.5 : Math.ceil(highest / 6);
        const yMax = Math.ceil(highest / step - 1e-9) * step;
        const x = (e) => left + (right - left) * e / epochs;
        const y = (v) => bottom - (bottom - top) * Math.max(0, Math.min(v, yMax)) / yMax;
        const nodes = [svg('rect', { x: left, y: top, width: right - left, height: bottom - top, class: 'frame' })];
        for (let i = 0; i * step <= yMax + 1e-9; i++) {
          const v = i * step;
          nodes.push(svg('line', { x1: left, x2: right, y1: y(v), y2: y(v), class: 'grid' }));
          const label = svg('text', { x: left - 4, y: y(v) + 3, class: 'tick', 'text-anchor': 'end' });
          label.textContent = v.toFixed(step < 0.5 ? 2 : step < 1 ? 1 : 0);
          nodes.push(label);
        }
        for (let e = 0; e <= epochs; e += Math.max(1, Math.ceil(epochs / 10))) {
          const label = svg('text', { x: x(e), y: bottom + 13, class: 'tick', 'text-anchor': 'middle' });
          label.textContent = String(e);
          nodes.push(label);
        }
        const line = (values, className) => svg('polyline', {
          class: className, points: values.map(([e, v]) => x(e).toFixed(1) + ',' + y(v).toFixed(1)).join(' ')
        });
        const finite = (pairs) => pairs.filter(([, v]) => v !== null && isFinite(v));
        nodes.push(line(finite(s.points.map((p) => [p.epoch, p.loss])), 'loss'));
        nodes.push(line(finite(s.points.map((p) => [p.epoch, p.trainAccuracy])), 'train'));
        nodes.push(line(finite(s.tests.map((t) => [t.epoch, t.testAccuracy])), 'test'));
        for (const [e, v] of finite(s.tests.map((t) => [t.epoch, t.testAccuracy]))) {
          nodes.push(svg('circle', { cx: x(e), cy: y(v), r: 2.5, class: 'test' }));
        }
        const legend = [['loss', 'train loss'], ['train', 'train acc'], ['test', 'test acc']];
        legend.forEach(([className, label], i) => {
          const lx = left + 8 + i * 92;
          nodes.push(svg('line', { x1: lx, x2: lx + 16, y1: 194, y2: 194, class: className }));
          const text = svg('text', { x: lx + 20, y: 197, class: 'tick' });
          text.textContent = label;
          nodes.push(text);
        });
        s.chart.replaceChildren(...nodes);
        s.chart.setAttribute('data-points', String(s.points.length));
      }

      function cellNode(m) {
        const item = el('li', m.status === 'ok' ? 'cell' : 'cell failed');
        item.dataset.cell = m.id;
        item.append(el('span', 'cell-id', m.id), el('span', 'cell-line', ' · line ' + m.line + ' · ' + seconds(m.seconds)));
        if (m.output) item.append(preBlock(m.output));
        if (m.message) item.append(preBlock(m.message, 'cell-message'));
        return item;
      }

      const handlers = {
        cycle(m) {
          cycle = m.cycle;
          document.body.dataset.cycle = String(m.cycle);
          networks = new Map();
          cellIds = [];
          curves.replaceChildren();
          cells.replaceChildren();
          cellCount.textContent = '0';
          progressLine.textContent = '';
          delete progressLine.dataset.last;
          setStatus(m.reason + ': building…', 'busy');
        },
        'build-failed'(m) {
          const nodes = m.diagnostics.map(diagnosticNode);
          nodes.push(logNode('build log', m.log));
          const count = m.diagnostics.length;
          showProblems(count ? (count === 1 ? 'The build failed: 1 error' : 'The build failed: ' + count + ' errors')
                             : 'The build failed', nodes);
          setStatus('build failed: fix the error and save (the report below is the last good one)', 'error');
        },
        running(m) {
          clearProblems();
          setStatus('running: ' + m.command, 'busy');
        },
        start(m) {
          cellIds = m.cells || [];
        },
        cell(m) {
          cells.append(cellNode(m));
          cellCount.textContent = String(cells.children.length);
          const index = cellIds.indexOf(m.id) + 1;
          if (m.status !== 'ok') {
            showProblems('Cell ' + m.id + ' failed (line ' + m.line + ')', [preBlock(m.message || m.output || '', 'cell-message')]);
          }
          // The next cell is the one running now (a training, often).
          const next = cellIds[index];
          if (next !== undefined) setStatus('running cell ' + (index + 1) + ' of ' + cellIds.length + ': ' + next, 'busy');
        },
        progress(m) {
          const s = series(m.network);
          s.epochs = Math.max(1, m.epochs || 1);
          progressLine.textContent = m.network + ': epoch ' + m.epoch + '/' + m.epochs + ' · batch ' + m.batch + '/' +
            m.batches + ' · ' + Math.round(m.examplesPerSecond || 0).toLocaleString('en') + ' examples/s · loss ' +
            (m.loss === null ? '?' : Number(m.loss).toFixed(3)) + ' · ETA ' + seconds(m.etaSeconds);
          // Kept after the epoch's test line replaces the text (the tests read it).
          progressLine.dataset.last = progressLine.textContent;
        },
        point(m) {
          const s = series(m.network);
          s.points.push(m);
          draw(s);
        },
        test(m) {
          const s = series(m.network);
          s.tests.push(m);
          draw(s);
          progressLine.textContent = m.network + ': epoch ' + m.epoch + ', test accuracy ' + Number(m.testAccuracy).toFixed(3);
        },
        report(m) {
          const name = String(m.html).split('/').pop();
          frame.src = '/report/' + encodeURIComponent(name) + '?cycle=' + cycle;
          frame.hidden = false;
          $('no-report').hidden = true;
          document.body.dataset.reportCycle = String(cycle);
        },
        'run-ended'(m) {
          if (m.cancelled) {
            setStatus('stopped: a newer save replaces this run', 'busy');
          } else if (m.exitCode === 0) {
            setStatus('done in ' + seconds(m.seconds) + '; the report below is this run\'s', 'ok');
          } else {
            const nodes = (m.diagnostics || []).map(diagnosticNode);
            nodes.push(preBlock(m.stderr || '(the run wrote nothing on standard error)', 'run-stderr'));
            showProblems('The run failed (exit status ' + m.exitCode + ')', nodes);
            setStatus('the run failed: see above; the report below is the last one written', 'error');
          }
        },
      };

      function connect() {
        const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/_preview/live');
        socket.onmessage = (message) => {
          let m;
          try { m = JSON.parse(message.data); } catch (e) { return; }
          const handler = handlers[m.event];
          if (handler) handler(m);
        };
        socket.onclose = () => {
          setStatus('lost the preview server; trying again…', 'error');
          setTimeout(connect, 1000);
        };
      }
      connect();
    })();

    """#

  /// The page's style sheet (a file of its own: the page's policy allows no inline style).
  static let style = """
    :root { color-scheme: light; --ink: #1d2330; --muted: #5b6372; --line: #d8dce3; --accent: #2a6fdb; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f6f7f9; }
    header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line); padding: .6rem 1.2rem; }
    h1 { font-size: 1.05rem; margin: 0; }
    #status { margin: .2rem 0 0; color: var(--muted); font-size: .9rem; }
    #status[data-kind="busy"]::before { content: "● "; color: var(--accent); }
    #status[data-kind="ok"]::before { content: "✓ "; color: #1d8a4b; }
    #status[data-kind="error"]::before { content: "✗ "; color: #c62828; }
    section { margin: .8rem 1.2rem; }
    #problems { background: #fff4f4; border: 1px solid #f0b4b4; border-radius: 6px; padding: .6rem .9rem; }
    #problems h2 { font-size: 1rem; margin: 0 0 .4rem; color: #a31515; }
    .diagnostic { margin: .4rem 0 .7rem; }
    .diagnostic .where { font-family: ui-monospace, monospace; font-weight: 600; margin: 0; }
    .diagnostic .message { margin: .1rem 0; }
    pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #fff; border: 1px solid var(--line);
          border-radius: 4px; padding: .45rem .6rem; overflow-x: auto; margin: .3rem 0; white-space: pre; }
    pre.run-stderr, pre.cell-message { white-space: pre-wrap; }
    details.log summary, #cell-outputs summary { cursor: pointer; color: var(--muted); }
    #progress { font-family: ui-monospace, monospace; font-size: .85rem; margin: 0 0 .4rem; min-height: 1.2em; }
    #curves { display: flex; flex-wrap: wrap; gap: .8rem; }
    figure.curve { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .3rem; width: 380px; }
    figure.curve svg { width: 100%; height: auto; display: block; }
    figure.curve figcaption { font-size: .8rem; color: var(--muted); text-align: center; }
    svg .frame { fill: none; stroke: var(--line); }
    svg .grid { stroke: #eef0f3; }
    svg .tick { font-size: 9px; fill: var(--muted); }
    svg polyline { fill: none; stroke-width: 1.6; }
    svg .loss { stroke: #2a6fdb; }
    svg .train { stroke: #d9480f; stroke-dasharray: 5 3; }
    svg .test { stroke: #2b8a3e; stroke-dasharray: 1.5 2.5; }
    svg circle.test { fill: #2b8a3e; stroke: none; }
    svg line.loss, svg line.train, svg line.test { stroke-width: 1.6; }
    #cells { padding-left: 1.2rem; }
    .cell-id { font-family: ui-monospace, monospace; font-weight: 600; }
    .cell-line { color: var(--muted); font-size: .85rem; }
    .cell.failed .cell-id { color: #c62828; }
    #report { display: block; width: calc(100% - 2.4rem); height: 80vh; margin: .8rem 1.2rem 1.2rem; border: 1px solid var(--line);
              border-radius: 6px; background: #fff; }
    #report[hidden] { display: none; }
    #no-report { margin: .8rem 1.2rem; color: var(--muted); }

    """
}
