"""The s3 sink against the npm s3rver fake S3 server, behind a SigV4-checking proxy (issue 19).

s3rver (tests/e2e/s3, installed by scripts/deps.sh) stores the objects but does not check V4
signatures, so build/veneur talks to a proxy in this test that recomputes the AWS SigV4
signature of every request from the secret key (canonical request, credential scope
DATE/REGION/s3/aws4_request, signed headers, the x-amz-content-sha256 payload hash against the
body) and refuses (403) anything that does not match before forwarding it to s3rver. The test
then lists the bucket, checks Go's key layout (YYYY/MM/DD/HOSTNAME/UNIX.tsv.gz, UTC), downloads
and gunzips each object and checks the tab-separated rows and their values. A burst of 503s from
the proxy delays an object without losing or duplicating its rows.
"""
import csv
import gzip
import hashlib
import hmac
import http.client
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, check, expect, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
S3DIR = os.path.join(HERE, "s3")
BUCKET = "vn-archive"
REGION = "eu-west-3"
AKID, SECRET = "S3RVER", "S3RVER"  # s3rver's built-in account


def hx(b):
    return hashlib.sha256(b).hexdigest()


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify_sigv4(method, path, headers, body):
    """Recomputes the SigV4 signature; returns None when it matches, else why not."""
    auth = headers.get("Authorization", "")
    m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                 r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$", auth)
    if not m:
        return "Authorization %r" % auth
    akid, day, region, signed, sig = m.groups()
    if akid != AKID or region != REGION:
        return "credential %s/%s" % (akid, region)
    amz_date = headers.get("x-amz-date", "")
    if not re.match(r"^\d{8}T\d{6}Z$", amz_date) or amz_date[:8] != day:
        return "x-amz-date %r" % amz_date
    t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
    if abs(t - time.time()) > 300:
        return "x-amz-date too far from now"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names or names != sorted(names):
        return "SignedHeaders %r" % signed
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        return "no x-amz-content-sha256 (S3 requires it)"
    if payload != "UNSIGNED-PAYLOAD" and payload != hx(body):
        return "x-amz-content-sha256 does not match the body"
    canon_headers = "".join("%s:%s\n" % (n, " ".join((headers.get(n) or "").split())) for n in names)
    creq = "\n".join([method, path, "", canon_headers, signed, payload])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/s3/aws4_request" % (day, region), hx(creq.encode())])
    k = sign(sign(sign(sign(("AWS4" + SECRET).encode(), day), region), "s3"), "aws4_request")
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, sig) else "signature mismatch"


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_PUT(self):
        st = self.server.st
        n = self.headers.get("Content-Length")
        body = self.rfile.read(int(n)) if n else b""
        why = None if n else "no Content-Length"
        why = why or verify_sigv4("PUT", self.path, self.headers, body)
        if not why and self.headers.get("Content-Type") != "application/octet-stream":
            why = "Content-Type %r" % self.headers.get("Content-Type")
        with st["lock"]:
            if why:
                st["invalid"].append({"path": self.path, "why": why})
            fail = not why and st["fail"] > 0
            if fail:
                st["fail"] -= 1
                st["failed"] += 1
        if why or fail:
            data = b"<Error><Code>%s</Code></Error>" % (b"SignatureDoesNotMatch" if why else b"SlowDown")
            self.send_response(403 if why else 503)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        c = http.client.HTTPConnection("127.0.0.1", st["s3port"], timeout=10)
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request("PUT", self.path, body=body, headers=fwd)
        r = c.getresponse()
        data = r.read()
        with st["lock"]:
            st["puts"].append((self.path, r.status))
        self.send_response(r.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()


class S3:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vn-e2e-s3rver-")
        node_modules = os.path.join(S3DIR, "node_modules", "s3rver")
        expect(os.path.isdir(node_modules), "s3rver is not installed: run scripts/deps.sh (npm ci in tests/e2e/s3)")
        self.proc = subprocess.Popen(["node", os.path.join(S3DIR, "s3rver_run.js"), self.dir, BUCKET],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        expect(line.startswith("PORT "), "s3rver did not start: %r" % line)
        self.port = int(line.split()[1])
        self.st = {"lock": threading.Lock(), "invalid": [], "puts": [], "fail": 0, "failed": 0, "s3port": self.port}
        self.proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        self.proxy.daemon_threads = True
        self.proxy.st = self.st
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.proxy.server_address[1]

    def keys(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/%s?list-type=2" % (self.port, BUCKET), timeout=5) as r:
            root = ET.fromstring(r.read())
        ns = {"s3": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
        q = ".//s3:Contents/s3:Key" if ns else ".//Contents/Key"
        return sorted(k.text for k in root.findall(q, ns))

    def rows(self, key):
        with urllib.request.urlopen("http://127.0.0.1:%d/%s/%s" % (self.port, BUCKET, key), timeout=5) as r:
            raw = gzip.decompress(r.read()).decode()
        return list(csv.reader(io.StringIO(raw), delimiter="\t"))

    def all_rows(self):
        out = []
        for k in self.keys():
            out += [(k, r) for r in self.rows(k)]
        return out

    def stop(self):
        self.proxy.shutdown()
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


KEY_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/testhost/(\d+)(-\d+)?\.tsv\.gz$")


def start(s3):
    return Veneur("""metric_sinks:
  - kind: s3
    name: archive
    config:
      s3_bucket: %s
      region: %s
      access_key_id: %s
      secret_access_key: %s
      s3_endpoint: "%s"
      max_payload_age: 60s
""" % (BUCKET, REGION, AKID, SECRET, s3.url), jsonl=False)


def test_objects(s3):
    v = start(s3)
    try:
        v.send_udp("s3.count:6|c|#a:b,c:d\ns3.count:4|c|#c:d,a:b\ns3.gauge:2.5|g\n_sc|s3.check|1\n")

        def ready():
            rows = s3.all_rows()
            names = {r[0] for _, r in rows}
            return rows if {"s3.count", "s3.gauge"} <= names else None
        rows = wait_for(ready, timeout=15, what="objects in the bucket")
        expect(not s3.st["invalid"], "requests the SigV4 proxy refused: %r" % s3.st["invalid"][:3])
        for key, r in rows:
            m = KEY_RE.match(key)
            expect(m, "object key %r is not YYYY/MM/DD/testhost/UNIX.tsv.gz" % key)
            day = time.strftime("%Y/%m/%d", time.gmtime(int(m.group(4))))
            expect(key.startswith(day + "/"), "key date %r is not the UTC date of its timestamp" % key)
            expect(len(r) == 8, "8 columns per row: %r" % r)
        (ck, c), = [(k, r) for k, r in rows if r[0] == "s3.count"]
        expect(c[1] == "{a:b,c:d}" and c[2] == "rate" and c[3] == "testhost" and c[4] == "1", "count row %r" % c)
        expect(float(c[6]) == 10.0, "count value (10 over a 1 s interval) %r" % c)
        ts = int(KEY_RE.match(ck).group(4))
        expect(re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", c[5]), "timestamp column %r" % c[5])
        expect(c[7] == time.strftime("%Y%m%d", time.gmtime(ts)), "partition column %r" % c[7])
        (_, g), = [(k, r) for k, r in rows if r[0] == "s3.gauge"]
        expect(g[1] == "{}" and g[2] == "gauge" and float(g[6]) == 2.5, "gauge row %r" % g)
        expect(not [r for _, r in rows if r[0] == "s3.check"], "status checks have no CSV row")

        # 503s: the object arrives later, once
        s3.st["fail"] = 2
        v.send_udp("s3.retry:7|c\n")
        rows = wait_for(lambda: (lambda rs: rs if [r for _, r in rs if r[0] == "s3.retry"] else None)(s3.all_rows()),
                        timeout=20, what="s3.retry after 503s")
        time.sleep(1.5)
        got = [r for _, r in s3.all_rows() if r[0] == "s3.retry"]
        expect(len(got) == 1 and float(got[0][6]) == 7.0, "s3.retry rows %r" % got)
        expect(s3.st["failed"] == 2, "the proxy answered 503 twice (%d)" % s3.st["failed"])
        expect(not s3.st["invalid"], "requests the SigV4 proxy refused: %r" % s3.st["invalid"][:3])
    finally:
        v.stop()
    expect("event=sink_started sink=archive kind=s3 bucket=%s region=%s" % (BUCKET, REGION) in v.log(),
           "sink started log")


def test_bad_signature_is_refused(s3):
    """The proxy is strict: a wrong secret is refused, counted as a permanent drop, never stored."""
    before = set(s3.keys())
    n0 = len(s3.st["invalid"])
    v = Veneur("""metric_sinks:
  - kind: s3
    name: archive
    config: {s3_bucket: %s, region: %s, access_key_id: %s, secret_access_key: wrong-secret, s3_endpoint: "%s"}
""" % (BUCKET, REGION, AKID, s3.url), jsonl=False)
    try:
        v.send_udp("s3.bad:1|c\n")
        wait_for(lambda: len(s3.st["invalid"]) > n0, timeout=10, what="a refused request")
        expect("signature mismatch" in s3.st["invalid"][-1]["why"], "why %r" % s3.st["invalid"][-1])
        def permanent():
            _, body = v.http("/metrics")
            return any(ln.startswith("veneur_sink_payloads_dropped_total{") and 'reason="permanent"' in ln
                       and 'sink_name="archive"' in ln and float(ln.rsplit(" ", 1)[1]) >= 1
                       for ln in body.splitlines())
        wait_for(permanent, timeout=10, what="permanent drop counted")
        expect(set(s3.keys()) == before, "nothing stored")
        expect("wrong-secret" not in v.log(), "the secret must not be logged")
    finally:
        v.stop()
    del s3.st["invalid"][n0:]


def main():
    s3 = S3()
    try:
        check("s3_objects_keys_rows_values_retry", lambda: test_objects(s3))
        check("s3_bad_signature_refused", lambda: test_bad_signature_is_refused(s3))
    finally:
        s3.stop()
    run()


if __name__ == "__main__":
    main()
