#!/usr/bin/env python3
"""Regenerates the Go key lists in this directory from a Go Veneur git dir.

usage: extract.py GO_GIT_DIR [COMMIT]   (COMMIT defaults to HEAD)

Reads the yaml tags of Go's Config structs with `git show` and writes one key
per line, nested keys joined with '.': server.txt (config.go at COMMIT),
v13.txt (v13.2.0's config.go keys that COMMIT's server Config no longer has),
proxy.txt (proxy/config.go at COMMIT). A field whose type is a list of
structs, a map or an interface is one key (its insides are sink/match config
read elsewhere). sink-kinds.txt is written from cmd/veneur/main.go's
SourceTypes / MetricSinkTypes / SpanSinkTypes maps as "section kind".
"""
import re
import subprocess
import sys

FIELD = re.compile(r'^\s*(\w+)\s+(.*?)\s*`yaml:"([^",]*)')


def show(gitdir, rev, path):
    return subprocess.run(["git", "-C", gitdir, "show", "%s:%s" % (rev, path)], check=True,
                          capture_output=True, text=True).stdout


def struct_body(src, name):
    m = re.search(r'^type %s struct \{\n' % re.escape(name), src, re.M)
    if not m:
        raise SystemExit("struct %s not found" % name)
    return src[m.end():].split("\n")


def walk(lines, resolve, prefix=""):
    """Keys of the struct whose body starts at lines[0]; stops at its closing brace."""
    keys, i, depth_skip = [], 0, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if re.match(r'^\s*\}', line):
            return keys, i
        m = re.match(r'^\s*(\w+)\s+(\[\])?struct \{\s*$', line)
        if m:  # inline struct: its closing line carries the yaml tag
            sub, used = walk(lines[i:], resolve)
            i += used
            close = lines[i - 1]
            tag = re.search(r'yaml:"([^",]*)', close).group(1)
            if m.group(2):
                keys.append(prefix + tag)
            else:
                keys += [prefix + tag + "." + k for k in sub]
            continue
        f = FIELD.match(line)
        if not f or f.group(3) in ("", "-"):
            continue
        typ, tag = f.group(2), f.group(3)
        inner = resolve(typ.lstrip("*"))
        if inner is not None:
            keys += [prefix + tag + "." + k for k in inner]
        else:
            keys.append(prefix + tag)
    return keys, i


def struct_keys(src, name, resolve):
    return walk(struct_body(src, name), resolve)[0]


def main():
    gitdir = sys.argv[1]
    rev = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    tls_src = show(gitdir, rev, "util/tls/tls.go")

    def resolver(src):
        def resolve(typ):
            if typ == "tls.Tls":  # embeds tls.Config and unmarshals into it
                return struct_keys(tls_src, "Config", resolve)
            if re.fullmatch(r"[A-Z]\w*", typ) and re.search(r"^type %s struct \{" % typ, src, re.M) \
                    and typ not in ("SinkRoutingConfig", "SourceConfig", "SinkConfig"):
                return struct_keys(src, typ, resolve)
            return None
        return resolve

    server_src = show(gitdir, rev, "config.go")
    server = struct_keys(server_src, "Config", resolver(server_src))
    v13_src = show(gitdir, "v13.2.0", "config.go")
    v13_all = struct_keys(v13_src, "Config", resolver(v13_src))
    v13 = [k for k in v13_all if k not in server]
    proxy_src = show(gitdir, rev, "proxy/config.go")
    proxy = struct_keys(proxy_src, "Config", resolver(proxy_src))
    main_src = show(gitdir, rev, "cmd/veneur/main.go")
    kinds = []
    for section, typ in (("sources", "SourceTypes"), ("metric_sinks", "MetricSinkTypes"),
                         ("span_sinks", "SpanSinkTypes")):
        body = main_src[main_src.index("veneur.%s{" % typ):]
        depth, out = 0, []
        for line in body.split("\n"):
            m = re.match(r'^\t\t\t"(\w+)": \{', line)
            if m:
                out.append(m.group(1))
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                break
        kinds += ["%s %s" % (section, k) for k in out]
    for name, keys in (("server.txt", server), ("v13.txt", v13), ("proxy.txt", proxy), ("sink-kinds.txt", kinds)):
        with open(name, "w") as fh:
            fh.write("\n".join(keys) + "\n")
        print(name, len(keys))


if __name__ == "__main__":
    main()
