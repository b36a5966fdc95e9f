#!/usr/bin/env python3
"""The soak run's table, from what tests/soak/soak.sh left in its directory:
load-*.json (one per client kind), samples, baseline and after (the daemon's
fds, RSS and flows), windows (the chaos windows), stats.json. Prints it,
writes it to --out, and exits 1 when a verdict fails: a byte changed, a
client left hanging, a DNS query unanswered, a failure or lost datagram
outside every chaos window, fds or RSS not back near their baseline, the
daemon dead or OOM-killed, a sanitizer report."""
import argparse
import glob
import json
import os
import sys

# A failure this long after a window closed still counts as caused by it:
# ops that were under way end, the upstream's next health check passes.
GRACE_S = 10.0


def read_sample(line):
    """time fds rss_kb tcp_flows udp_associations pipes, as soak.sh samples them"""
    f = line.split()
    pipes = int(f[5]) if len(f) > 5 and f[5].isdigit() else 0
    return {"t": float(f[0]), "fds": int(f[1]), "rss_kb": int(f[2]), "pipes": pipes}


def read_file(path):
    with open(path) as f:
        return f.read()


def read_windows(path):
    wins = []
    with open(path) as f:
        for line in f:
            what, start, end = line.split()
            wins.append((what, float(start), float(end)))
    return wins


def in_window(t, wins):
    return any(start - 1.0 <= t <= end + GRACE_S for _, start, end in wins)


def slow_end_of_killed_upstream(load, kind, t, began, wins):
    """A slow download that ends early, after the upstream was down (from
    its kill to its restart) at some moment while the download was under
    way, ended because of that kill: the FIN of the killed upstream reaches
    a reader of 32 KB/s only once it has read what the upstream's own
    kernel had queued for it (about a megabyte a flow, docs/testing.md),
    up to a minute and a half after the window closed."""
    if load != "slow" or kind not in ("early_eof", "reset") or began is None:
        return False
    return any(what == "upstream-down" and began <= end and start <= t for what, start, end in wins)


def fmt_counts(counts):
    return ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def load_rows(d, wins, start):
    rows, verdicts, outside_seen = [], [], []
    totals = {"corrupt": 0, "hang": 0, "outside": 0, "lost_outside": 0}
    for path in sorted(glob.glob(os.path.join(d, "load-*.json"))):
        with open(path) as f:
            r = json.load(f)
        inside, outside = {}, {}
        lost_in = lost_out = 0
        for event in r["events"]:
            t, kind = event[0], event[1]
            began = event[2] if len(event) > 2 else None
            if kind == "corrupt":
                continue
            if kind == "lost_datagram":
                if in_window(t, wins):
                    lost_in += 1
                else:
                    lost_out += 1
                continue
            caused = in_window(t, wins) or slow_end_of_killed_upstream(r["kind"], kind, t, began, wins)
            bucket = inside if caused else outside
            if r["kind"] == "flood" and kind == "shed":
                bucket = inside  # the flood is there to be shed: no window needed
            bucket[kind] = bucket.get(kind, 0) + 1
            if bucket is outside:
                outside_seen.append((t - start, r["kind"], kind))
        hangs = r["failures"].get("hang", 0) + r["failures"].get("no_answer", 0)
        totals["corrupt"] += r["corrupt"]
        totals["hang"] += hangs
        totals["outside"] += sum(outside.values())
        totals["lost_outside"] += lost_out
        dgrams = "-"
        if r["datagrams_sent"]:
            dgrams = "%d sent, %d lost (%d outside)" % (r["datagrams_sent"], lost_in + lost_out, lost_out)
        ok = "%d" % r["ok"] + (" (%d cut by the end)" % r["cut"] if r.get("cut") else "")
        rows.append("| %s | %d | %s | %d | %s | %s | %s | %.0f | %.1f |" % (
            r["kind"], r["ops"], ok, r["corrupt"], fmt_counts(inside), fmt_counts(outside),
            dgrams, r["bytes"] / 1e6, r["slowest_s"]))
    verdicts.append(("no byte changed (corrupt 0)", totals["corrupt"] == 0, str(totals["corrupt"])))
    verdicts.append(("no client left waiting (hang, unanswered DNS: 0)", totals["hang"] == 0, str(totals["hang"])))
    verdicts.append(("no failure outside the chaos windows", totals["outside"] == 0, str(totals["outside"])))
    verdicts.append(("no datagram lost outside the chaos windows", totals["lost_outside"] == 0,
                     str(totals["lost_outside"])))
    return rows, verdicts, sorted(outside_seen)


def main():
    ap = argparse.ArgumentParser()
    for name in ("dir", "minutes", "alive", "mem-limit", "cgroup-peak", "cgroup-tcp-peak", "oom-kills", "fd-slack",
                 "rss-slack-mb", "reports", "chaos", "conditions", "sanitize", "out", "start"):
        ap.add_argument("--" + name, default="")
    a = ap.parse_args()
    wins = read_windows(os.path.join(a.dir, "windows"))
    base = read_sample(read_file(os.path.join(a.dir, "baseline")))
    after = read_sample(read_file(os.path.join(a.dir, "after")))
    samples = [read_sample(line) for line in read_file(os.path.join(a.dir, "samples")).splitlines()]
    with open(os.path.join(a.dir, "stats.json")) as f:
        stats = json.load(f)

    rows, verdicts, outside = load_rows(a.dir, wins, float(a.start))
    # a reload or rule change may fail only while the fd limit is hit
    fd_wins = [w for w in wins if w[0] == "fd-limit"]
    failed = [line.split() for line in read_file(os.path.join(a.dir, "chaos-failed")).splitlines()]
    failed_out = [what for t, what in failed if what == "fd-restore" or not in_window(float(t), fd_wins)]
    verdicts.append(("every reload and rule change done (outside the fd-limit window)", not failed_out,
                     ", ".join(failed_out) or "%d failed, inside it" % len(failed)))
    peak_fds = max([s["fds"] for s in samples] + [after["fds"]])
    peak_rss = max([s["rss_kb"] for s in samples] + [after["rss_kb"]])
    # the pipe pool keeps up to 64 empty pipes per worker by design
    fd_ok = after["fds"] <= base["fds"] + 2 * after["pipes"] + int(a.fd_slack)
    rss_ok = after["rss_kb"] <= base["rss_kb"] + int(a.rss_slack_mb) * 1024
    verdicts.append(("fds back within %s of the baseline, besides the pooled pipes" % a.fd_slack, fd_ok,
                     "%d -> %d (%d pipes pooled)" % (base["fds"], after["fds"], after["pipes"])))
    if a.sanitize != "1":  # ASan keeps freed memory in quarantine: its leak check is LSan's
        verdicts.append(("RSS back within %s MB of the baseline" % a.rss_slack_mb, rss_ok,
                         "%.1f -> %.1f MB" % (base["rss_kb"] / 1024, after["rss_kb"] / 1024)))
    verdicts.append(("sockgated alive at the end, never restarted", a.alive == "yes", a.alive))
    if os.path.exists(os.path.join(a.dir, "load-flood.json")):
        verdicts.append(("the flooding host was shed by its per-client limit", stats["client_limited"] > 0,
                         "client_limited %d" % stats["client_limited"]))
    if a.mem_limit != "off":
        verdicts.append(("no OOM kill in the %s memory cgroup" % a.mem_limit, a.oom_kills == "0",
                         a.oom_kills or "?"))
    if a.sanitize == "1":
        reports = sorted(os.listdir(a.reports)) if a.reports and os.path.isdir(a.reports) else []
        verdicts.append(("no ASan/LSan/UBSan report", not reports, ", ".join(reports) or "none"))

    udp = stats["udp"]
    lines = ["## Soak: %s minutes%s" % (a.minutes, " (ASan + UBSan build)" if a.sanitize == "1" else ""), "",
             "Chaos: %s. Conditions: %s. A failure counts as in a window from 1 s before it opened to "
             "%d s after it closed; a slow download's early end, when the upstream was down while it was "
             "under way (its FIN comes after the data queued ahead of it)." % (a.chaos, a.conditions, GRACE_S), "",
             "| load | ops | ok | corrupt | failures in chaos windows (the flood's sheds: always) | failures outside | datagrams | MB | slowest op (s) |",
             "|---|---|---|---|---|---|---|---|---|"] + rows + [""]
    if outside:
        lines += ["Failures outside the windows (seconds into the load, load, kind): " + ", ".join(
            "%.1f %s %s" % o for o in outside[:12]) + (" and %d more" % (len(outside) - 12) if len(outside) > 12 else "") + ".", ""]
    chaos_at = ", ".join("%s %.0f-%.0f" % (w, s - float(a.start), e - float(a.start)) for w, s, e in wins)
    lines += ["Chaos windows (seconds into the load): " + (chaos_at or "none") + ".", ""]
    lines += ["| sockgated | baseline | peak under load | after (drained) |", "|---|---|---|---|",
              "| fds | %d | %d | %d |" % (base["fds"], peak_fds, after["fds"]),
              "| RSS (MB) | %.1f | %.1f | %.1f |" % (base["rss_kb"] / 1024, peak_rss / 1024, after["rss_kb"] / 1024),
              "| pipes (pooled and in use) | %d | %d | %d |" % (
                  base["pipes"], max([s["pipes"] for s in samples] + [after["pipes"]]), after["pipes"])]
    if a.mem_limit != "off":
        peak = "%.1f MB" % (int(a.cgroup_peak) / 1048576) if a.cgroup_peak else "?"
        lines.append("| memory cgroup | limit %s | peak charge %s | OOM kills %s |" % (a.mem_limit, peak, a.oom_kills))
        if a.cgroup_tcp_peak:
            lines.append("| ... its socket buffers (v1: own limit %s) | | peak charge %.1f MB | |" % (
                a.mem_limit, int(a.cgroup_tcp_peak) / 1048576))
    held = read_file(os.path.join(a.dir, "held")).split("\n")
    lines += ["", "Held after the load (fd targets; sockets by state and peer): " +
              "; ".join(" ".join(line.split()) for line in held if line.strip()) + "."]
    lines += ["", "Daemon counters at the end: flows_shed %d, client_limited %d, relay failures %s; UDP drops %s; "
              "UDP send errors %s; DNS service: %d queries, %d cache hits, servfail %d, timeouts %d." % (
                  stats["flows_shed"], stats["client_limited"], fmt_counts({k: v for k, v in stats["failures"].items() if v}),
                  fmt_counts({k: v for k, v in udp["drops"].items() if v}),
                  fmt_counts({k: v for k, v in udp["send_errors"].items() if v}),
                  stats["dns_service"]["queries"], stats["dns_service"]["cache_hits"],
                  stats["dns_service"]["answers"]["servfail"], stats["dns_service"]["timeouts"]), ""]
    lines += ["| verdict | value | |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % (name, value, "ok" if ok else "**FAILED**") for name, ok, value in verdicts]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(a.out, "w") as f:
        f.write(text)
    sys.exit(0 if all(ok for _, ok, _ in verdicts) else 1)


if __name__ == "__main__":
    main()
