#!/usr/bin/env python3
"""Renders bench/run.sh's records (a TSV file) as the markdown summary.

    report.py RECORDS_TSV      (run metadata comes from BENCH_META_* environment variables)

Record lines:
    row  SERVER SCENARIO CONC RPS P50_MS P99_MS REQUESTS ERRORS NON2XX CPU_PCT RSS_MIB NOTE
    skip SERVER SCENARIO REASON
    note TEXT
"""

import os
import platform
import re
import sys
import time

SERVERS = ("ours", "peer")


def meta(name, default=""):
    return os.environ.get(f"BENCH_META_{name}", default)


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt(value, digits=0):
    n = num(value)
    if n is None:
        return "–" if value in ("", None) else str(value)
    return f"{n:,.{digits}f}"


def mib(kib):
    n = num(kib)
    return "–" if n is None else f"{n / 1024:.1f}"


def load(path):
    rows, skips, notes, order, argon2 = {}, [], [], [], {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            kind = parts[0]
            if kind == "row":
                parts += [""] * (13 - len(parts))
                server, scen, conc = parts[1], parts[2], parts[3]
                rows[(server, scen, conc)] = dict(
                    rps=parts[4], p50=parts[5], p99=parts[6], requests=parts[7], errors=parts[8],
                    non2xx=parts[9], cpu=parts[10], rss=parts[11], note=parts[12])
                if (scen, conc) not in order:
                    order.append((scen, conc))
            elif kind == "skip":
                skips.append((parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
            elif kind == "note":
                notes.append(parts[1])
            elif kind == "argon2":
                samples = [num(x) for x in parts[2].split()] if len(parts) > 2 else []
                argon2.setdefault(parts[1], []).extend(x for x in samples if x is not None)
    return rows, skips, notes, order, argon2


def errors_cell(r):
    if r is None:
        return "–"
    e, n = r["errors"], r["non2xx"]
    return f"{e} ({n})" if e not in ("", "NA") else "–"


def main():
    rows, skips, notes, order, argon2 = load(sys.argv[1])
    peer_ok = meta("PEER_OK") == "1"
    print(f"## Load: Portcullis ({meta('BACKEND')}) and node-oidc-provider, same run")
    print()
    print(f"- {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {meta('COMMIT')}, {os.cpu_count()} cores, "
          f"Linux {platform.release()}; load average before the run {meta('LOAD')}")
    pg = meta("PG")
    print(f"- Portcullis on {meta('BACKEND')}{' (Postgres ' + pg + ')' if pg else ''}, release build; "
          f"/token rate limit {meta('RATE')}; log level {meta('LOG')} "
          f"({meta('LOG_LINES', '?')} log lines written during the run)")
    print(f"- wrk {meta('DURATION')} per cell, {meta('WRK_THREADS')} wrk thread(s) (refresh: one pool of "
          "chains per thread); client and servers share the machine's cores")
    print("- errors = connect + read + write + timeout (no answer within wrk's --timeout: 2 s, "
          f"{os.environ.get('BENCH_META_PW_TIMEOUT', '10s')} for password requests) + HTTP status >= 400 "
          "(the status part in brackets); CPU = server process CPU time / wall time (200% = both cores); RSS = peak of "
          "samples taken every 0.5-1 s during the cell")
    print()
    head = ["scenario", "conc", "ours req/s", "peer req/s", "ours/peer", "ours p50 ms", "peer p50 ms",
            "ours p99 ms", "peer p99 ms", "ours errors (non-2xx)", "peer errors (non-2xx)",
            "ours CPU %", "peer CPU %", "ours RSS MiB", "peer RSS MiB"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---", "---:"] + ["---:"] * (len(head) - 2)) + "|")
    mixed = []
    for scen, conc in order:
        if scen.startswith("mixed"):
            mixed.append((scen, conc))
            continue
        o = rows.get(("ours", scen, conc))
        p = rows.get(("peer", scen, conc))
        ratio = "–"
        if o and p and num(o["rps"]) and num(p["rps"]):
            ratio = f"{num(o['rps']) / num(p['rps']):.2f}x"
        cells = [scen, conc,
                 fmt(o and o["rps"]), fmt(p and p["rps"]) if p else ("n/a" if peer_ok else "–"), ratio,
                 fmt(o and o["p50"], 2), fmt(p and p["p50"], 2), fmt(o and o["p99"], 2), fmt(p and p["p99"], 2),
                 errors_cell(o), errors_cell(p), fmt(o and o["cpu"]), fmt(p and p["cpu"]),
                 fmt(o and o["rss"]), fmt(p and p["rss"])]
        print("| " + " | ".join(cells) + " |")
    print()
    for server, scen, reason in skips:
        print(f"- SKIPPED: {scen} ({server}): {reason}")
    if any(k[1] == "refresh" for k in rows):
        print("- refresh: each chain uses the refresh_token from the previous response; ours rotates "
              "(a database write per request), the peer returns the same token (its default for "
              "confidential clients) and keeps it in memory.")
    breaks = [(k, v["note"]) for k, v in rows.items() if "broken chains" in v["note"]]
    for (server, scen, conc), note in breaks:
        print(f"- {server} {scen} c={conc}: {note}")

    if mixed:
        print()
        print("### Mixed: probes while password requests saturate the argon2 pool (ours)")
        print()
        print("| measured | conc | req/s | p50 ms | p99 ms | errors (non-2xx) | CPU % | RSS MiB | p99 < 50 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for scen, conc in mixed:
            r = rows.get(("ours", scen, conc))
            if not r:
                continue
            target = ""
            if scen in ("mixed token_jwt", "mixed jwks") and num(r["p99"]) is not None:
                target = "yes" if num(r["p99"]) < 50 else "**no**"
            print(f"| {scen} | {conc} | {fmt(r['rps'])} | {fmt(r['p50'], 2)} | {fmt(r['p99'], 2)} | "
                  f"{errors_cell(r)} | {fmt(r['cpu'])} | {fmt(r['rss'])} | {target} |")

    print()
    print("### Memory (VmRSS / VmHWM from /proc)")
    print()
    print("| server | idle RSS before load (MiB) | RSS after the run (MiB) | peak RSS over the whole life (MiB) |")
    print("|---|---:|---:|---:|")
    print(f"| ours | {mib(meta('OURS_IDLE'))} | {mib(meta('OURS_AFTER'))} | {mib(meta('OURS_HWM'))} |")
    if peer_ok:
        print(f"| peer | {mib(meta('PEER_IDLE'))} | {mib(meta('PEER_AFTER'))} | {mib(meta('PEER_HWM'))} |")

    # Targets from issues 4 and 6.
    print()
    print("### Targets (issues 4 and 6)")
    print()
    checks = []

    def check(label, ok, detail):
        checks.append(f"- {'PASS' if ok else 'FAIL'}: {label}: {detail}")

    for scen, factor in (("jwks", 3.0), ("discovery", 3.0), ("token_jwt", 1.5), ("introspect", 3.0)):
        for s, conc in order:
            if s != scen:
                continue
            o, p = rows.get(("ours", s, conc)), rows.get(("peer", s, conc))
            if not (o and p and num(o["rps"]) and num(p["rps"])):
                continue
            ratio = num(o["rps"]) / num(p["rps"])
            detail = f"c={conc} {ratio:.2f}x"
            ok = ratio >= factor
            if scen == "introspect":
                err_ok = o["errors"] == "0"
                detail += f", p99 {fmt(o['p99'], 2)} vs {fmt(p['p99'], 2)} ms, errors {o['errors']}"
                check(f"{scen} >= {factor}x the peer, no errors", ok and err_ok, detail)
            elif scen == "token_jwt":
                p99_ok = num(o["p99"]) is not None and num(p["p99"]) is not None and num(o["p99"]) <= num(p["p99"])
                err_ok = o["errors"] == "0"
                detail += f", p99 {fmt(o['p99'], 2)} vs {fmt(p['p99'], 2)} ms, errors {o['errors']}"
                ok = ok and p99_ok and err_ok
                check(f"{scen} >= {factor}x the peer, p99 <= the peer's, no errors", ok, detail)
            else:
                check(f"{scen} >= {factor}x the peer", ok, detail)
    idle = num(meta("OURS_IDLE"))
    if idle is not None:
        check("idle RSS <= 20 MiB", idle / 1024 <= 20, f"{idle / 1024:.1f} MiB")
    hwm = num(meta("OURS_HWM"))
    if hwm is not None and rows:
        check("peak RSS under load <= 64 MiB", hwm / 1024 <= 64, f"{hwm / 1024:.1f} MiB (VmHWM)")
    # The argon2 time for a cell: the median single hash of the samples taken right before
    # and right after it (run.sh's argon2_samples), else the one measurement at the start.
    m = re.search(r"median ([0-9.]+) ms", meta("ARGON2"))
    start_ms = float(m.group(1)) if m else None
    for (server, scen, conc), r in rows.items():
        if server != "ours" or scen != "password" or not num(r["rps"]) or conc == "1":
            continue
        samples = sorted(argon2.get(conc, []))
        if samples:
            hash_ms = samples[len(samples) // 2]
            source = (f"median of {len(samples)} single hashes around the cell {hash_ms:.1f} ms, "
                      f"range {samples[0]:.1f}-{samples[-1]:.1f}; at the start of the run: "
                      f"{meta('ARGON2') or '–'}")
        elif start_ms:
            hash_ms, source = start_ms, f"argon2_bench at the start of the run: {meta('ARGON2')}"
        else:
            continue
        ideal = (os.cpu_count() or 1) / (hash_ms / 1000.0)
        ratio = num(r["rps"]) / ideal
        check("password >= 80% of cores / argon2 time", ratio >= 0.8,
              f"c={conc} {fmt(r['rps'])} req/s vs {ideal:.0f}/s ({ratio * 100:.0f}%; {source})")
    # Not a target: what the hasher alone reaches with every worker busy, for telling
    # the grant's own overhead from two hashes slowing each other down.
    m = re.search(r"saturated: ([0-9.]+) hashes/s", meta("ARGON2_POOL"))
    if m and float(m.group(1)) > 0:
        pool = float(m.group(1))
        for (server, scen, conc), r in rows.items():
            if server == "ours" and scen == "password" and num(r["rps"]) and conc != "1":
                notes.append(f"password c={conc}: {fmt(r['rps'])} req/s is "
                             f"{num(r['rps']) / pool * 100:.0f}% of the argon2 pool alone "
                             f"({pool:.0f} hashes/s saturated, argon2_bench)")
    for scen, conc in mixed:
        r = rows.get(("ours", scen, conc))
        if r and scen in ("mixed token_jwt", "mixed jwks") and num(r["p99"]) is not None:
            check(f"{scen} p99 < 50 ms while password requests saturate the pool",
                  num(r["p99"]) < 50, f"c={conc} p99 {fmt(r['p99'], 2)} ms ({r['note']})")
    for line in checks or ["- nothing to check (no comparable results)"]:
        print(line)
    for n in notes:
        print(f"- note: {n}")


if __name__ == "__main__":
    main()
