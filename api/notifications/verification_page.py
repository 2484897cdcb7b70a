"""The page a verification link opens (`GET /verify-email#token=...`): it posts the token from
its fragment to `POST /v1/contact-points/verify` and says what came of it.

A static page with one inline script, allowed by its hash and nothing else (no other origin,
no form, no frame). The token rides in the fragment, which no server sees; the script takes it
out of the address bar before anything else, and no Referer leaves the page."""

from __future__ import annotations

import base64
import hashlib
from typing import Final

SCRIPT: Final = """
const out = document.getElementById("result");
const token = new URLSearchParams(location.hash.slice(1)).get("token");
history.replaceState(null, "", location.pathname);
if (!token) {
  out.textContent = "This link has no verification token.";
} else {
  fetch("v1/contact-points/verify", {method: "POST", headers: {"content-type":
    "application/json"}, body: JSON.stringify({token: token}), credentials: "omit"})
    .then(r => r.json().then(b => {
      out.textContent = r.ok ? "Your email address is verified. You may close this page."
        : (b.detail || "This link is invalid or has expired.");
    }))
    .catch(() => { out.textContent = "Parley could not be reached; try the link again."; });
}
"""
PAGE: Final = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verify your email address</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Verify your email address</h1><p id="result">Verifying…</p>
<script>{SCRIPT}</script></body></html>
"""
_DIGEST: Final = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
POLICY: Final = (f"default-src 'none'; script-src 'sha256-{_DIGEST}'; connect-src 'self'; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS: Final = {"Content-Security-Policy": POLICY, "Referrer-Policy": "no-referrer",
                  "Cache-Control": "no-cache"}
