#!/usr/bin/env python3
"""Loads an HTML report in headless Chromium and checks it as a reader's browser sees it.

Fails (exit 1) when the page logs a console error (a Content-Security-Policy violation
included), when the browser tries to fetch anything over the network, or when the page
lacks its figures or its navigation. Network use is detected by routing every request
through a proxy on loopback that only records what reaches it.

Usage: check_page.py PAGE.html [--min-figures N] [--nav]   (prints a JSON summary)
"""
import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading


# Endpoints Chromium contacts by itself whatever the page (network time, component
# updates, sign-in) despite the flags below; any other request comes from the page.
BROWSER_OWN_HOSTS = (
    "clients2.google.com/time/", "update.googleapis.com", "accounts.google.com:443",
    "optimizationguide-pa.googleapis.com", "safebrowsingohttpgateway.googleapis.com",
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--min-figures", type=int, default=0)
    ap.add_argument("--nav", action="store_true", help="require previous/next/index links")
    args = ap.parse_args()

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print(json.dumps({"ok": False, "problems": ["chromium is not installed"]}))
        return 1

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(16)
    requests = []

    def record():
        while True:
            try:
                conn, _ = proxy.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                first = conn.recv(4096).split(b"\r\n")[0].decode(errors="replace")
                requests.append(first)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=record, daemon=True).start()
    port = proxy.getsockname()[1]
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
            # Chromium's own background traffic is not the page's: turn it off.
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-domain-reliability", "--no-pings",
            "--disable-features=OptimizationHints,MediaRouter,Translate",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
            "--dump-dom", "file://" + args.page,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    proxy.close()

    dom = run.stdout
    console = [line for line in run.stderr.splitlines()
               if "CONSOLE" in line or "Refused to" in line or "Uncaught" in line]
    # Chromium logs every console message at one level; a report has no script, so any
    # message at all (a CSP violation, an error) is a problem.
    console_errors = console
    figures = len(re.findall(r"<svg\b", dom))
    has_index = re.search(r'<a [^>]*href="index\.html"', dom) is not None
    has_pager = 'class="pager' in dom
    page_requests = [r for r in requests if not any(h in r for h in BROWSER_OWN_HOSTS)]
    problems = []
    if run.returncode != 0 or not dom.strip():
        problems.append(f"chromium failed (exit {run.returncode}): {run.stderr[-500:]}")
    if console_errors:
        problems.append("console errors: " + " | ".join(console_errors[:5]))
    if page_requests:
        problems.append("network requests: " + " | ".join(page_requests[:5]))
    if figures < args.min_figures:
        problems.append(f"{figures} figures, expected at least {args.min_figures}")
    if args.nav and not (has_index and has_pager):
        problems.append("navigation missing (the pager with its index link)")
    print(json.dumps({"ok": not problems, "problems": problems, "figures": figures,
                      "requests": page_requests, "console": console[:10]}))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
