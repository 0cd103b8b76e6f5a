#!/usr/bin/env python3
"""End-to-end test of `chapter preview` in headless Chromium, on a copy of the package.

Starts `chapter preview 7.5 --profile smoke --port 0` in the copy, loads its page in
Chromium (driven over the DevTools protocol on a pipe), then edits the copy's chapter and
checks what the open page shows, without reloading it:

1. the first run's report in the frame, its curve drawn live;
2. a parameter edited (and a cell printing markup): the new value in the report's parameters
   table, a new curve, the markup shown as text and not executed;
3. a second save during a run: that run stopped, the next one run to its end;
4. a broken cell: its compile error at its .md line, the last good report still below;
5. a bad parameter value in the front matter, then a crash in a cell: each at its .md line;
6. path traversal refused (`/../Package.swift`, encoded forms, a symbolic link out of the
   output folder); a second preview on the same port refused; Ctrl-C ending the preview
   with the report intact.

Usage: preview_e2e.py --binary PATH/TO/chapter --package COPY   (exit 0: all passed)
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CHAPTER = "Chapters/7.5-batch-norm.md"
TRAIN_LINE = "let lr = 1.0, numEpochs = 10, batchSize = 256"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Preview:
    """The `chapter preview` process, its terminal output collected line by line."""

    def __init__(self, binary, package, output, port="0"):
        self.lines = []
        self.process = subprocess.Popen(
            [binary, "preview", "7.5", "--profile", "smoke", "--port", port, "--output", output,
             "--threads", "2"],
            cwd=package, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern, timeout, start=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.lines[start:]:
                match = re.search(pattern, line)
                if match:
                    return match
            if self.process.poll() is not None and not any(
                    re.search(pattern, line) for line in self.lines[start:]):
                time.sleep(0.2)
                break
            time.sleep(0.1)
        raise Failure(f"preview never printed /{pattern}/; it printed:\n" + "\n".join(self.lines))


class Browser:
    """Headless Chromium driven over --remote-debugging-pipe (NUL-separated JSON)."""

    def __init__(self, url):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        check(binary, "chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="preview-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def plumbing():
            high_r, high_w = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--no-pings", "--window-size=1200,1600", url],
            pass_fds=(3, 4), preexec_fn=plumbing, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.replies = {}
        self.console = []
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Runtime.enable", session=True)
        self.call("Log.enable", session=True)

    def _read(self):
        buffer = b""
        while True:
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self.lock:
                    if "id" in message:
                        self.replies[message["id"]] = message
                        self.lock.notify_all()
                    elif message.get("method") == "Runtime.consoleAPICalled":
                        self.console.append(" ".join(str(a.get("value", a.get("description")))
                                                     for a in message["params"]["args"]))
                    elif message.get("method") == "Log.entryAdded":
                        self.console.append(message["params"]["entry"]["text"])
                    elif message.get("method") == "Runtime.exceptionThrown":
                        self.console.append(json.dumps(message["params"]["exceptionDetails"]))

    def call(self, method, session=False, **params):
        with self.lock:
            self.next_id += 1
            ident = self.next_id
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.time() + 30
        with self.lock:
            while ident not in self.replies:
                check(time.time() < deadline, f"no reply to {method}")
                self.lock.wait(0.5)
            reply = self.replies.pop(ident)
        check("error" not in reply, f"{method}: {reply.get('error')}")
        return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        check("exceptionDetails" not in result, f"{expression}: {result.get('exceptionDetails')}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        deadline = time.time() + timeout
        # Not yet, rather than a failure, while the page is still loading (no body yet).
        guarded = "(() => { try { return !!(" + expression + "); } catch (e) { return false; } })()"
        while time.time() < deadline:
            if self.evaluate(guarded):
                return
            time.sleep(0.2)
        state = self.evaluate("(() => { try { return document.getElementById('status').textContent"
                              " + ' | problems: ' + document.getElementById('problems').innerText; }"
                              " catch (e) { return 'not loaded: ' + e; } })()")
        raise Failure(f"timed out waiting for {what}; the page says: {state}")

    def screenshot(self, path):
        import base64
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def raw_get(port, target):
    """The status code and body of GET `target`, sent as is (no client normalises the path)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    check(old in text, f"{old!r} is not in {path}")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


def line_of(path, needle):
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if needle in line:
                return number
    raise Failure(f"{needle!r} is not in {path}")


PAGE_STATE = """JSON.stringify({
  cycle: +document.body.dataset.cycle, reportCycle: +document.body.dataset.reportCycle,
  status: document.getElementById('status').textContent,
  marker: window.__previewMarker || null,
  points: [...document.querySelectorAll('#curves svg')].map(s => +s.dataset.points),
  problems: document.getElementById('problems').hidden ? null : document.getElementById('problems').innerText,
  params: (() => { const d = document.getElementById('report').contentDocument;
                   const t = d && d.querySelector('table.params'); return t ? t.innerText : null; })(),
  reportFigures: (() => { const d = document.getElementById('report').contentDocument;
                          return d ? d.querySelectorAll('svg').length : 0; })(),
  cellText: document.getElementById('cells').textContent,
  cellImages: document.querySelectorAll('#cells img').length,
  pwned: window.__pwned || null,
  progress: document.getElementById('progress').dataset.last || null,
})"""


def state(browser):
    return json.loads(browser.evaluate(PAGE_STATE))


def wait_for_report(browser, cycle, what):
    """Waits for the frame to hold cycle's report, loaded. Not just any loaded document with a
    parameters table: right after the page sets the frame's new address, the frame still holds
    the previous cycle's report, and it is replaced a moment later."""
    browser.wait_for("(() => { const d = document.getElementById('report').contentDocument;"
                     f" return d && d.location.search.includes('cycle={cycle}') && d.readyState === 'complete'"
                     " && d.querySelector('table.params'); })()", 30, what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--screenshots", help="folder to save the page at each step")
    args = ap.parse_args()
    package = os.path.realpath(args.package)
    chapter = os.path.join(package, CHAPTER)
    output = os.path.join(package, "Output-preview")
    os.makedirs(output, exist_ok=True)
    # A link out of the output folder, which must not be followed.
    os.symlink(os.path.join(package, "Package.swift"), os.path.join(output, "escape.html"))

    preview = Preview(args.binary, package, output)
    browser = None
    shots = 0

    def shot(name):
        nonlocal shots
        if args.screenshots and browser:
            shots += 1
            browser.screenshot(os.path.join(args.screenshots, f"{shots}-{name}.png"))

    try:
        # The first `chapter preview` builds its server (chapter-preview) before it listens.
        port = int(preview.wait_for_line(r"on http://127\.0\.0\.1:(\d+)/", 600).group(1))
        url = f"http://127.0.0.1:{port}/"

        # Nothing outside the output folder, however the path is spelled.
        for target in ["/../Package.swift", "/report/../Package.swift", "/report/%2e%2e/Package.swift",
                       "/report/..%2FPackage.swift", "/report/%2E%2E%2FPackage.swift",
                       "/report/escape.html", "/report/.cache/", "/Package.swift",
                       "/report/%2e%2e%2f%2e%2e%2fPackage.swift"]:
            status, body = raw_get(port, target)
            check(status in (403, 404) and b"swift-tools-version" not in body,
                  f"GET {target} answered {status}: {body[:80]!r}")

        # A second preview cannot have the same port.
        second = subprocess.run(
            [args.binary, "preview", "7.5", "--profile", "smoke", "--port", str(port), "--output", output],
            cwd=package, capture_output=True, text=True, timeout=300)
        check(second.returncode == 2 and f"port {port} on 127.0.0.1 is taken" in second.stderr,
              f"a second preview on port {port}: exit {second.returncode}, {second.stderr}")

        browser = Browser(url)
        browser.wait_for("document.body.dataset.reportCycle === '1' && "
                         "document.getElementById('status').dataset.kind === 'ok'", 180, "the first run")
        wait_for_report(browser, 1, "the first run's report in the frame")
        browser.evaluate("window.__previewMarker = 'same page'; true")
        first = state(browser)
        # Point by point as the report's curve has them (the book's rule: every batches/5
        # batches; at smoke an epoch is 8 batches, so a point after each).
        def report_curve_length():
            with open(os.path.join(output, "7.5-batch-norm.json")) as f:
                return len(json.load(f)["trainings"][0]["trainingCurve"])
        first_curve = report_curve_length()
        check(first["points"] and first["points"][0] == first_curve == 8,
              f"the first run's curve: {first}, the report's: {first_curve} points")
        check(re.search(r"epoch 1/1 · batch 8/8 · [\d,]+ examples/s · loss \d\.\d+ · ETA ", first["progress"] or ""),
              f"no training progress in the page: {first['progress']}")
        check(first["params"] and "lr" in first["params"], f"no parameters table in the report: {first}")
        shot("first-run")

        # 2 and 3: a new parameter value and a cell printing markup; a second save while
        # that run is going stops it, and the run after it goes to its end.
        edit(chapter, TRAIN_LINE, TRAIN_LINE.replace("lr = 1.0", "lr = 0.25")
             + '\nprint("<img src=x onerror=\\"window.__pwned=1\\">")')
        browser.wait_for("+document.body.dataset.cycle === 2 && "
                         "document.getElementById('status').textContent.startsWith('running cell')",
                         120, "the edited run to start its cells")
        mark = len(preview.lines)
        with open(chapter, "a") as f:
            f.write("\n")
        preview.wait_for_line(r"run stopped: a newer save replaces it", 60, start=mark)
        browser.wait_for("+document.body.dataset.cycle === 3 && document.body.dataset.reportCycle === '3' && "
                         "document.getElementById('status').dataset.kind === 'ok'", 180, "the third run")
        wait_for_report(browser, 3, "the third run's report in the frame")
        edited = state(browser)
        check(edited["marker"] == "same page", f"the page was reloaded: {edited}")
        check(re.search(r"lr\s+0\.25", edited["params"] or ""), f"lr = 0.25 not in the parameters table: {edited['params']}")
        check(edited["points"] and edited["points"][0] == report_curve_length(), f"no new curve: {edited}")
        check(edited["reportFigures"] >= 1, f"the new report has no figure: {edited}")
        check("<img src=x onerror=" in edited["cellText"] and edited["cellImages"] == 0 and not edited["pwned"],
              f"a cell's markup was not shown as text: {edited}")
        shot("edited")

        # 4: a broken cell. Its error at its line; the last good report stays below.
        broken = 'let broken: Int = "text"'
        edit(chapter, "print(\"<img", broken + "\nprint(\"<img")
        broken_line = line_of(chapter, broken)
        browser.wait_for("document.getElementById('status').textContent.startsWith('build failed')",
                         120, "the build error")
        failed = state(browser)
        check(failed["problems"] and f"{CHAPTER}:{broken_line}:" in failed["problems"],
              f"the error is not at {CHAPTER}:{broken_line}: {failed['problems']}")
        check(broken in failed["problems"], f"the page does not quote the broken line: {failed['problems']}")
        check(failed["reportCycle"] == 3 and re.search(r"lr\s+0\.25", failed["params"] or ""),
              f"the last good report is gone: {failed}")
        check(failed["marker"] == "same page", "the page was reloaded")
        shot("compile-error")

        # 5: a bad parameter value (the smoke profile's epochs set to 0): the run's own
        # message, in the page.
        edit(chapter, broken + "\n", "")
        edit(chapter, "    numEpochs: 1\n", "    numEpochs: 0\n")
        browser.wait_for("document.getElementById('status').textContent.startsWith('the run failed')",
                         120, "the bad parameter's failure")
        bad = state(browser)
        check(bad["problems"] and "out of range" in bad["problems"] and "numEpochs" in bad["problems"],
              f"the bad parameter's message is not in the page: {bad['problems']}")
        bad_line = line_of(chapter, "numEpochs: 0")
        check(f"{CHAPTER}:{bad_line}" in bad["problems"] and "numEpochs: 0" in bad["problems"],
              f"the bad parameter is not shown at {CHAPTER}:{bad_line}: {bad['problems']}")
        shot("bad-parameter")

        # 5b: a crash (an index out of range in a cell): the statement that stopped, in the page.
        before = bad["cycle"]
        edit(chapter, "    numEpochs: 0\n", "    numEpochs: 1\n")
        crash = "let crashy = [1]; print(crashy[numEpochs])"
        edit(chapter, TRAIN_LINE.replace("lr = 1.0", "lr = 0.25"),
             TRAIN_LINE.replace("lr = 1.0", "lr = 0.25") + "\n" + crash)
        crash_line = line_of(chapter, crash)
        browser.wait_for(f"+document.body.dataset.cycle > {before} && "
                         "document.getElementById('status').textContent.startsWith('the run failed')",
                         120, "the crash")
        crashed = state(browser)
        check(crashed["problems"] and f"{CHAPTER}:{crash_line}" in crashed["problems"]
              and "crashed in cell" in crashed["problems"],
              f"the crash is not shown at {CHAPTER}:{crash_line}: {crashed['problems']}")
        shot("crash")

        check(not [c for c in browser.console if "Content Security Policy" in c or "Refused" in c],
              f"console: {browser.console}")

        # 6: Ctrl-C stops the preview; the report is whole.
        preview.process.send_signal(signal.SIGINT)
        code = preview.process.wait(timeout=60)
        check(code == 0, f"preview exited {code} on Ctrl-C:\n" + "\n".join(preview.lines))
        with open(os.path.join(output, "7.5-batch-norm.html")) as f:
            check(f.read().rstrip().endswith("</html>"), "the report is not whole after Ctrl-C")
        print(json.dumps({"ok": True, "port": port, "brokenLine": broken_line,
                          "terminal": preview.lines[-12:]}))
        return 0
    except Failure as failure:
        print(json.dumps({"ok": False, "problem": str(failure), "terminal": preview.lines[-40:],
                          "console": browser.console[:10] if browser else []}))
        return 1
    finally:
        if browser:
            browser.close()
        if preview.process.poll() is None:
            preview.process.kill()


if __name__ == "__main__":
    sys.exit(main())
