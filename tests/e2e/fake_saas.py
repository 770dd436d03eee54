#!/usr/bin/env python3
"""A strict fake of the Datadog, SignalFx and New Relic intake APIs (python3 stdlib only).

Run:  fake_saas.py --dd-key KEY --sfx-token TOKEN [--sfx-token TOKEN2 ...] [--nr-key KEY --nr-account ID]
It listens on 127.0.0.1 on an ephemeral port and prints "PORT <n>" on stdout.

Served (what veneur's datadog and signalfx sinks send, docs/behaviour.md W4.2/W4.3):
  POST /api/v1/series?api_key=KEY     application/json, deflate (zlib), {"series":[...]}\\n
  POST /api/v1/check_run?api_key=KEY  application/json, uncompressed, [...]\\n
  POST /intake?api_key=KEY            application/json, deflate, {"events":{"api":[...]}}\\n
  POST /v2/datapoint                  X-Sf-Token, application/x-protobuf, gzip iff > 1500 bytes,
                                      DataPointUploadMessage
  POST /v2/event                      same headers, EventUploadMessage
  GET  /v2/token?limit=200&name=&offset=N
                                      SignalFx token API (X-Sf-Token = the first --sfx-token):
                                      {"count": n, "results": [{"name", "secret"}, ...]}, 200 a page,
                                      from the table set by /_control/sfx_token_table
  POST /metric/v1                     New Relic Metric API: Api-Key, application/json, gzip,
                                      [{"common":{timestamp,interval.ms,attributes},
                                        "metrics":[{name,type,value,timestamp,interval.ms,attributes}]}]
  POST /v1/accounts/ID/events         New Relic Event API: X-Insert-Key, application/json, gzip,
                                      [{"eventType": ..., flat attributes}]

Every request is validated strictly: method, path, exact query, key/token, Content-Type,
Content-Encoding and that the body decompresses, the JSON schema of every element (exact
key set, key order as Go's structs, value types) and the protobuf (known fields and wire
types only, required fields present). A request that fails validation gets 400 and is
recorded under "invalid" (tests assert there are none).

Control (JSON answers):
  GET  /_control/received          {"requests": [...accepted...], "invalid": [...], "failed": [...],
                                    "connections": n}
  POST /_control/fail?status=503&count=N[&seconds=S][&path=/api]
                                   answer `status` to the next N matching requests (or to all of
                                   them for S seconds); the body of a forced 4xx names the API key,
                                   so clients can be checked for redacting it
  POST /_control/hang?count=N[&seconds=S][&path=...]
                                   hold matching requests without answering for `hold` seconds
                                   (default 30), then close the connection
  POST /_control/stall?count=N[&seconds=S][&path=...][&hold=H]
                                   accept matching requests (recorded under "requests" with
                                   "stalled": true), send the status line, headers and half of
                                   the body, then stall for `hold` seconds and close: a client
                                   must count it as delivered, not send it again
  POST /_control/sfx_token_table   body {"name": "secret", ...}: what /v2/token serves (the secrets
                                   become valid X-Sf-Tokens for /v2/datapoint)
  POST /_control/outage?on=1[&status=503][&path=/api][&retry_after=R]
                                   switchable outage: every matching request is answered `status`
                                   until /_control/outage?on=0 (recorded under "failed" with its
                                   time "t"); R adds a Retry-After header: "N" (seconds form) or
                                   "date:N" (HTTP-date N seconds from now). fail also takes
                                   retry_after.
  POST /_control/reset             forget everything (not the token table)
"""
import argparse
import email.utils
import gzip
import json
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERIES_KEYS = ["metric", "points", "tags", "type", "host", "device_name", "interval"]
CHECK_KEYS = ["check", "status", "host_name", "timestamp", "tags", "message"]
EVENT_KEYS = ["msg_title", "msg_text", "timestamp", "host", "aggregation_key", "priority",
              "source_type_name", "alert_type", "tags"]


class Invalid(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Invalid(msg)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_keys(obj, allowed, required, what):
    need(isinstance(obj, dict), "%s is not an object" % what)
    keys = list(obj.keys())
    for k in keys:
        need(k in allowed, "%s has unknown key %r" % (what, k))
    for k in required:
        need(k in obj, "%s lacks %r" % (what, k))
    order = [allowed.index(k) for k in keys]
    need(order == sorted(order), "%s keys out of order: %r" % (what, keys))


def check_tags(obj, what):
    if "tags" in obj:
        t = obj["tags"]
        need(isinstance(t, list) and t and all(isinstance(x, str) for x in t),
             "%s tags must be a non-empty list of strings (omitted when empty): %r" % (what, t))


def validate_series(doc):
    need(isinstance(doc, dict) and list(doc.keys()) == ["series"], "series body must be {\"series\": [...]}")
    series = doc["series"]
    need(isinstance(series, list) and series, "series must be a non-empty list")
    for i, s in enumerate(series):
        what = "series[%d]" % i
        check_keys(s, SERIES_KEYS, ["metric", "points", "type"], what)
        need(isinstance(s["metric"], str) and s["metric"], what + " metric")
        p = s["points"]
        need(isinstance(p, list) and len(p) == 1 and isinstance(p[0], list) and len(p[0]) == 2
             and all(is_num(x) for x in p[0]), what + " points must be [[ts, value]]: %r" % (p,))
        need(s["type"] in ("rate", "gauge"), what + " type %r" % s["type"])
        check_tags(s, what)
        for k in ("host", "device_name"):
            if k in s:
                need(isinstance(s[k], str) and s[k], "%s %s must be a non-empty string" % (what, k))
        if "interval" in s:
            need(isinstance(s["interval"], int) and not isinstance(s["interval"], bool) and s["interval"] > 0,
                 what + " interval")
    return series


def validate_checks(doc):
    need(isinstance(doc, list) and doc, "check_run body must be a non-empty JSON array")
    for i, c in enumerate(doc):
        what = "check[%d]" % i
        check_keys(c, CHECK_KEYS, ["check", "status", "host_name"], what)
        need(isinstance(c["check"], str) and c["check"], what + " check")
        need(c["status"] in (0, 1, 2, 3) and not isinstance(c["status"], bool), what + " status")
        need(isinstance(c["host_name"], str), what + " host_name")
        if "timestamp" in c:
            need(isinstance(c["timestamp"], int) and c["timestamp"] > 0, what + " timestamp")
        if "message" in c:
            need(isinstance(c["message"], str) and c["message"], what + " message")
        check_tags(c, what)
    return doc


def validate_events(doc):
    need(isinstance(doc, dict) and list(doc.keys()) == ["events"], "intake body must be {\"events\": ...}")
    ev = doc["events"]
    need(isinstance(ev, dict) and list(ev.keys()) == ["api"], "intake events must be {\"api\": [...]}")
    api = ev["api"]
    need(isinstance(api, list) and api, "events.api must be a non-empty list")
    for i, e in enumerate(api):
        what = "event[%d]" % i
        check_keys(e, EVENT_KEYS, ["msg_title", "msg_text"], what)
        for k in EVENT_KEYS:
            if k in e and k not in ("timestamp", "tags"):
                need(isinstance(e[k], str), "%s %s" % (what, k))
                if k not in ("msg_title", "msg_text"):
                    need(e[k] != "", "%s %s is empty (should be omitted)" % (what, k))
        if "timestamp" in e:
            need(isinstance(e["timestamp"], int) and e["timestamp"] > 0, what + " timestamp")
        check_tags(e, what)
    return api


# ---------------------------------------------------------------- protobuf (proto2 wire format)

def varint(b, i):
    v = 0
    shift = 0
    while True:
        need(i < len(b), "truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7
        need(shift < 70, "varint too long")


def fields(b):
    """Yields (field number, wire type, value) of a message; value is int (varint/fixed) or bytes."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        need(num > 0, "field number 0")
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            need(i + 8 <= len(b), "truncated fixed64")
            v = b[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = varint(b, i)
            need(i + n <= len(b), "truncated length-delimited field")
            v = b[i:i + n]
            i += n
        elif wt == 5:
            need(i + 4 <= len(b), "truncated fixed32")
            v = b[i:i + 4]
            i += 4
        else:
            raise Invalid("bad wire type %d" % wt)
        yield num, wt, v


def signed64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def utf8(v, what):
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(what + " is not UTF-8")


def decode_msg(b, schema, what):
    """schema: {num: (name, wiretype, kind, repeated)}; kind 'str'|'int'|'double'|'bool'|callable."""
    out = {}
    for num, wt, v in fields(b):
        need(num in schema, "%s: unknown field %d" % (what, num))
        name, want_wt, kind, repeated = schema[num]
        need(wt == want_wt, "%s.%s: wire type %d, want %d" % (what, name, wt, want_wt))
        if kind == "str":
            val = utf8(v, what + "." + name)
        elif kind == "int":
            val = signed64(v)
        elif kind == "double":
            val = struct.unpack("<d", v)[0]
        elif kind == "bool":
            val = bool(v)
        else:
            val = kind(v)
        if repeated:
            out.setdefault(name, []).append(val)
        else:
            out[name] = val
    return out


def dimension(b):
    d = decode_msg(b, {1: ("key", 2, "str", False), 2: ("value", 2, "str", False)}, "Dimension")
    need(d.get("key") and d.get("value"), "Dimension needs a non-empty key and value: %r" % d)
    need(all(c.isalnum() or c in "_-" for c in d["key"]), "Dimension key not sanitised: %r" % d["key"])
    return d


def datum(b):
    d = decode_msg(b, {1: ("strValue", 2, "str", False), 2: ("doubleValue", 1, "double", False),
                       3: ("intValue", 0, "int", False)}, "Datum")
    need(len(d) == 1, "Datum must hold exactly one value: %r" % d)
    return d


def datapoint(b):
    d = decode_msg(b, {1: ("source", 2, "str", False), 2: ("metric", 2, "str", False),
                       3: ("timestamp", 0, "int", False), 4: ("value", 2, datum, False),
                       5: ("metricType", 0, "int", False), 6: ("dimensions", 2, dimension, True)}, "DataPoint")
    need(d.get("metric"), "DataPoint without metric")
    need("value" in d, "DataPoint without value")
    need(d.get("metricType", 0) in (0, 1, 2, 3), "bad metricType")
    if d.get("metricType") == 1:
        need("intValue" in d["value"], "COUNTER must carry intValue")
    d["dims"] = {x["key"]: x["value"] for x in d.get("dimensions", [])}
    return d


def prop_value(b):
    return decode_msg(b, {1: ("strValue", 2, "str", False), 2: ("doubleValue", 1, "double", False),
                          3: ("intValue", 0, "int", False), 4: ("boolValue", 0, "bool", False)}, "PropertyValue")


def prop(b):
    return decode_msg(b, {1: ("key", 2, "str", False), 2: ("value", 2, prop_value, False)}, "Property")


def sfx_event(b):
    d = decode_msg(b, {1: ("eventType", 2, "str", False), 2: ("dimensions", 2, dimension, True),
                       3: ("properties", 2, prop, True), 4: ("category", 0, "int", False),
                       5: ("timestamp", 0, "int", False)}, "Event")
    need("eventType" in d, "Event without eventType")
    d["dims"] = {x["key"]: x["value"] for x in d.get("dimensions", [])}
    d["props"] = {p["key"]: p["value"] for p in d.get("properties", [])}
    return d


def validate_datapoints(body):
    m = decode_msg(body, {1: ("datapoints", 2, datapoint, True)}, "DataPointUploadMessage")
    need(m.get("datapoints"), "no datapoints")
    return m["datapoints"]


def validate_sfx_events(body):
    m = decode_msg(body, {1: ("events", 2, sfx_event, True)}, "EventUploadMessage")
    need(m.get("events"), "no events")
    return m["events"]


# ---------------------------------------------------------------- server

def nr_attributes(v, what):
    need(isinstance(v, dict), "%s: attributes must be an object" % what)
    for k, x in v.items():
        need(isinstance(k, str) and k, "%s: attribute key %r" % (what, k))
        need(isinstance(x, (str, bool)) or is_num(x), "%s: attribute %s has a non-scalar value %r" % (what, k, x))
    return v


def validate_nr_metrics(doc):
    need(isinstance(doc, list) and len(doc) == 1, "body must be a one-element JSON array")
    blk = doc[0]
    need(isinstance(blk, dict) and set(blk) == {"common", "metrics"}, "block keys %r" % (list(blk)
                                                                           if isinstance(blk, dict) else blk))
    common = blk["common"]
    need(isinstance(common, dict) and set(common) <= {"timestamp", "interval.ms", "attributes"}, "common %r" % common)
    if "timestamp" in common:
        need(isinstance(common["timestamp"], int) and common["timestamp"] > 10 ** 12, "common.timestamp (ms)")
    if "interval.ms" in common:
        need(isinstance(common["interval.ms"], int) and common["interval.ms"] > 0, "common.interval.ms")
    if "attributes" in common:
        nr_attributes(common["attributes"], "common")
    ms = blk["metrics"]
    need(isinstance(ms, list) and ms, "metrics must be a non-empty array")
    for m in ms:
        need(isinstance(m, dict), "metric must be an object")
        check_keys(m, ["name", "type", "value", "timestamp", "interval.ms", "attributes"],
                   ["name", "type", "value", "timestamp"], "metric")
        need(isinstance(m["name"], str) and m["name"], "metric name")
        need(m["type"] in ("count", "gauge"), "metric type %r" % m["type"])
        need(is_num(m["value"]), "metric value %r" % m["value"])
        need(isinstance(m["timestamp"], int) and m["timestamp"] > 10 ** 12, "metric timestamp must be ms")
        if m["type"] == "count":
            need("interval.ms" in m or "interval.ms" in common, "a count needs interval.ms")
        if "interval.ms" in m:
            need(isinstance(m["interval.ms"], int) and m["interval.ms"] > 0, "interval.ms")
        if "attributes" in m:
            nr_attributes(m["attributes"], "metric %s" % m["name"])
    return {"common": common, "metrics": ms}


def validate_nr_events(doc):
    need(isinstance(doc, list) and doc, "body must be a non-empty JSON array")
    for e in doc:
        nr_attributes(e, "event")
        need(isinstance(e.get("eventType"), str) and e["eventType"], "eventType")
        need(is_num(e.get("timestamp")), "event timestamp")
    return doc


class State:
    def __init__(self, dd_key, sfx_tokens, nr_key=None, nr_account=None):
        self.lock = threading.Lock()
        self.dd_key = dd_key
        self.sfx_tokens = sfx_tokens
        self.nr_key, self.nr_account = nr_key, nr_account
        self.token_table = {}  # SignalFx token API: name -> secret
        self.reset()

    def reset(self):
        self.requests, self.invalid, self.failed = [], [], []
        self.token_calls = []  # offsets of accepted /v2/token calls, in order
        self.conns = set()
        self.modes = []  # [{"kind": fail|hang, "status", "count", "until", "path", "hold"}]
        self.outage = None  # a "fail" mode without count or deadline, while switched on

    def take_mode(self, path):
        """The fault to apply to this request, if any (consumes one count)."""
        now = time.monotonic()
        with self.lock:
            o = self.outage
            if o and (not o["path"] or path.startswith(o["path"])):
                return o
            for m in self.modes:
                if m["path"] and not path.startswith(m["path"]):
                    continue
                if m["until"] is not None:
                    if now < m["until"]:
                        return m
                    continue
                if m["count"] > 0:
                    m["count"] -= 1
                    return m
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json", retry_after=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        if retry_after:
            if retry_after.startswith("date:"):
                when = time.time() + float(retry_after[5:])
                self.send_header("Retry-After", email.utils.formatdate(when, usegmt=True))
            else:
                self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        if self.path == "/_control/received":
            with st.lock:
                out = {"requests": st.requests, "invalid": st.invalid, "failed": st.failed,
                       "connections": len(st.conns), "token_calls": st.token_calls}
                data = json.dumps(out)
            return self.answer(200, data)
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/v2/token":
            try:
                return self.token_page(url)
            except Invalid as e:
                return self.reject(url.path, str(e))
        self.answer(405 if self.path.startswith(("/api", "/v2", "/intake")) else 404, '{"errors":["no"]}')

    def token_page(self, url):
        """The SignalFx token API as Go's fetchAPIKeys pages through it."""
        st = self.server.state
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        need(sorted(q) == ["limit", "name", "offset"] and q["limit"] == ["200"] and q["name"] == [""]
             and len(q["offset"]) == 1 and q["offset"][0].isdigit(), "token query %r" % url.query)
        need(self.headers.get("X-Sf-Token") == st.sfx_tokens[0], "token API needs the default X-Sf-Token")
        need(self.headers.get("Content-Type") == "application/json", "token API Content-Type")
        off = int(q["offset"][0])
        with st.lock:
            items = sorted(st.token_table.items())
            st.token_calls.append(off)
        page = [{"name": n, "secret": sec, "id": "id-" + n} for n, sec in items[off:off + 200]]
        self.answer(200, json.dumps({"count": len(items), "results": page}))

    def read_body(self):
        need("chunked" not in self.headers.get("Transfer-Encoding", ""), "chunked bodies are not expected")
        n = self.headers.get("Content-Length")
        need(n is not None, "no Content-Length")
        return self.rfile.read(int(n))

    def control(self, url):
        st = self.server.state
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/_control/reset":
            with st.lock:
                st.reset()
        elif url.path == "/_control/sfx_token_table":
            table = json.loads(self._ctl_body.decode() or "{}")
            with st.lock:
                st.token_table = dict(table)
                st.sfx_tokens = st.sfx_tokens + [t for t in table.values() if t not in st.sfx_tokens]
        elif url.path == "/_control/outage":
            mode = None
            if q.get("on", "1") not in ("0", "false"):
                mode = {"kind": "fail", "status": int(q.get("status", 503)), "path": q.get("path", ""),
                        "retry_after": q.get("retry_after")}
            with st.lock:
                st.outage = mode
        elif url.path in ("/_control/fail", "/_control/hang", "/_control/stall"):
            secs = float(q["seconds"]) if "seconds" in q else None
            mode = {"kind": url.path.rsplit("/", 1)[1], "status": int(q.get("status", 503)),
                    "count": int(q.get("count", 1)), "path": q.get("path", ""), "hold": float(q.get("hold", 30)),
                    "retry_after": q.get("retry_after"),
                    "until": time.monotonic() + secs if secs is not None else None}
            with st.lock:
                st.modes.append(mode)
        else:
            return self.answer(404, '{"errors":["unknown control"]}')
        self.answer(200, '{"ok":true}')

    def do_POST(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        with st.lock:
            st.conns.add(self.client_address)
        try:
            body = self.read_body()
        except Invalid as e:
            return self.reject(url.path, str(e))
        if url.path.startswith("/_control/"):
            self._ctl_body = body
            return self.control(url)
        mode = st.take_mode(url.path)
        if mode and mode["kind"] == "hang":
            time.sleep(mode["hold"])
            self.close_connection = True
            return
        try:
            rec = self.validate(url, body)
        except Invalid as e:
            return self.reject(url.path, str(e))
        except Exception as e:  # a decoder crash is a validation failure too
            return self.reject(url.path, "%s: %s" % (type(e).__name__, e))
        rec["t"] = time.time()
        if mode and mode["kind"] == "stall":
            rec["stalled"] = True
            with st.lock:
                st.requests.append(rec)
            data = b'{"status":"ok","padding":"' + b"x" * 64 + b'"}'
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            time.sleep(mode["hold"])
            self.close_connection = True
            return
        if mode:  # a forced failure: record what we refused, answer the status
            rec["status"] = mode["status"]
            with st.lock:
                st.failed.append(rec)
            msg = {"errors": ["forced %d" % mode["status"]]}
            if 400 <= mode["status"] < 500:
                msg["errors"].append("invalid api key %s" % st.dd_key)  # clients must not log this back
            return self.answer(mode["status"], json.dumps(msg), retry_after=mode.get("retry_after"))
        with st.lock:
            st.requests.append(rec)
        if rec["api"] == "signalfx":
            return self.answer(200, '"OK"')
        if rec["api"] == "newrelic":
            return self.answer(202, '{"requestId":"00000000-0000-0000-0000-000000000000"}')
        self.answer(202, '{"status":"ok"}')

    def reject(self, path, why):
        with self.server.state.lock:
            self.server.state.invalid.append({"path": path, "why": why})
        self.answer(400, json.dumps({"errors": [why]}))

    def validate(self, url, body):
        st = self.server.state
        ctype = self.headers.get("Content-Type")
        enc = self.headers.get("Content-Encoding")
        rec = {"path": url.path, "bytes": len(body), "encoding": enc}
        if url.path in ("/api/v1/series", "/api/v1/check_run", "/intake"):
            rec["api"] = "datadog"
            need(self.command == "POST", "method")
            q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            need(list(q.keys()) == ["api_key"] and q["api_key"] == [st.dd_key],
                 "query must be exactly api_key=<key>: %r" % url.query)
            need(ctype == "application/json", "Content-Type %r" % ctype)
            if url.path == "/api/v1/check_run":
                need(enc is None, "check_run must not be compressed (Content-Encoding %r)" % enc)
                raw = body
            else:
                need(enc == "deflate", "Content-Encoding %r, want deflate" % enc)
                try:
                    raw = zlib.decompress(body)  # zlib wrapper required (RFC 1950)
                except zlib.error as e:
                    raise Invalid("body is not zlib data: %s" % e)
            need(raw.endswith(b"\n"), "body must end with a newline (Go json.Encoder)")
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise Invalid("bad JSON: %s" % e)
            if url.path == "/api/v1/series":
                rec["series"] = validate_series(doc)
            elif url.path == "/api/v1/check_run":
                rec["checks"] = validate_checks(doc)
            else:
                rec["events"] = validate_events(doc)
            return rec
        if url.path in ("/v2/datapoint", "/v2/event"):
            rec["api"] = "signalfx"
            need(url.query == "", "no query expected")
            tok = self.headers.get("X-Sf-Token")
            need(tok in st.sfx_tokens, "X-Sf-Token %r not a known token" % tok)
            rec["token"] = tok
            need(ctype == "application/x-protobuf", "Content-Type %r" % ctype)
            if enc is None:
                raw = body
                need(len(raw) <= 1500, "bodies over 1500 bytes must be gzipped (%d)" % len(raw))
            else:
                need(enc == "gzip", "Content-Encoding %r" % enc)
                try:
                    raw = gzip.decompress(body)
                except (OSError, EOFError) as e:
                    raise Invalid("body is not gzip: %s" % e)
                need(len(raw) > 1500, "bodies of 1500 bytes or less are sent uncompressed (%d)" % len(raw))
            if url.path == "/v2/datapoint":
                rec["datapoints"] = validate_datapoints(raw)
            else:
                rec["events"] = validate_sfx_events(raw)
            return rec
        if url.path == "/metric/v1" or (url.path.startswith("/v1/accounts/") and url.path.endswith("/events")):
            rec["api"] = "newrelic"
            need(st.nr_key is not None, "New Relic is not configured in this fake")
            need(url.query == "", "no query expected")
            need(ctype == "application/json", "Content-Type %r" % ctype)
            need(enc == "gzip", "Content-Encoding %r, want gzip" % enc)
            try:
                raw = gzip.decompress(body)
            except (OSError, EOFError) as e:
                raise Invalid("body is not gzip: %s" % e)
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise Invalid("bad JSON: %s" % e)
            if url.path == "/metric/v1":
                need(self.headers.get("Api-Key") == st.nr_key, "Api-Key header")
                rec.update(validate_nr_metrics(doc))
            else:
                need(url.path == "/v1/accounts/%s/events" % st.nr_account, "account in %s" % url.path)
                need(self.headers.get("X-Insert-Key") == st.nr_key, "X-Insert-Key header")
                rec["nr_events"] = validate_nr_events(doc)
            return rec
        raise Invalid("unknown path %s" % url.path)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dd-key", required=True)
    ap.add_argument("--sfx-token", action="append", required=True)
    ap.add_argument("--nr-key")
    ap.add_argument("--nr-account")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args.dd_key, args.sfx_token, args.nr_key, args.nr_account)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
