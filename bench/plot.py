#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/plot.py - the table and the plot of a benchmark run.

    bench/plot.py RESULTS.json [--table] [--markdown] [--png OUT.png] [--svg OUT.svg]

--table prints the summary table (figure, value, baseline, ratio, goal, met)
to stdout as aligned text, --markdown as a Markdown table (what the README
carries).  --png/--svg draw every figure beside its baseline with
matplotlib (Debian's python3-matplotlib, hence /usr/bin/python3: a pyenv
python on PATH would not have it).  A section that failed or was not run
shows its error instead of numbers; it never stops the rest.  A figure this
kernel cannot measure (null, with "<key>_reason" beside it, e.g. the kernel
MFC without CONFIG_IP_MROUTE) shows "n/a (<reason>)".  Both tables start
with the machine the run was made on (CPU, cores, kernel).
"""
import argparse
import json
import sys


def num(section, key):
    """section[key] as a float, or None when missing or not a number."""
    if not isinstance(section, dict):
        return None
    v = section.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if abs(v) >= 100000:
        s = f"{v / 1e6:.3f} M"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}".strip() if unit else s


def cell(section, key, unit=""):
    """section[key] formatted; "n/a (reason)" for a null figure with a
    <key>_reason; "error: ..." for a failed one; "-" when absent."""
    if not isinstance(section, dict):
        return "-"
    v = num(section, key)
    if v is not None:
        return fmt(v, unit)
    if section.get(f"{key}_reason"):
        return f"n/a ({section[f'{key}_reason']})"
    e = section.get(key)
    if isinstance(e, dict) and "error" in e:
        return "error: " + str(e["error"])[:40]
    return "-"


def machine_line(results):
    """Where the run was made: date, commit, CPU, cores, kernel, MFC or not."""
    m = results.get("machine", {}) if isinstance(results, dict) else {}
    caps = m.get("capabilities") if isinstance(m.get("capabilities"), dict) else {}
    mroute = caps.get("ip_mroute")
    return (f"Run of {m.get('date', '?')} (commit {m.get('commit', '?')}) on {m.get('cpu') or m.get('cpu_model', '?')}, "
            f"{m.get('cores', '?')} cores, Linux {m.get('kernel', '?')}"
            + ("" if mroute is None else
               ", with CONFIG_IP_MROUTE" if mroute else ", without CONFIG_IP_MROUTE (no kernel MFC)")
            + (", quick settings (not for results)" if m.get("quick") else "")
            + (f", {m['suite_seconds']} s" if isinstance(m.get("suite_seconds"), int) else "") + ".")


def section(results, name):
    """(dict, error) for a section; error set when it failed or is absent."""
    s = results.get(name)
    if s is None:
        return None, "not run"
    if isinstance(s, dict) and "error" in s:
        return None, str(s["error"])
    return s, None


def ratio(a, b):
    return a / b if a is not None and b else None


def rows(results):
    """The summary rows: (figure, xigmp, baseline, ratio, goal, met).

    `ratio` is always xigmp / baseline (below 1 is better for times, above 1
    for rates); `met` is True/False/None (no goal set)."""
    out = []

    def missing(label, err):
        out.append((label, "error: " + err[:60], "", "", "", None))

    c, err = section(results, "classifier")
    if c:
        base = num(c, "baseline_pass_ns")
        added = num(c, "non_igmp_added_ns")
        v = num(c, "non_igmp_ns")
        out.append(("classifier, non-IGMP frame (ns/frame)", fmt(v), f"XDP_PASS {fmt(base)}",
                    f"{fmt(ratio(v, base))} (+{fmt(added)} ns)", "<= +5 ns",
                    added is not None and added <= 5))
        for key, label in (("igmp", "IGMP v2 report"), ("vlan_igmp", "VLAN-tagged IGMP")):
            b = num(c, f"baseline_pass_{key}_ns") or base
            v = num(c, f"{key}_ns")
            out.append((f"classifier, {label} (ns/frame)", fmt(v), f"XDP_PASS {fmt(b)}",
                        f"{fmt(ratio(v, b))} (+{fmt(num(c, f'{key}_added_ns'))} ns)", "", None))
    else:
        missing("classifier", err)

    t, err = section(results, "throughput")
    if t:
        for mode in ("native", "generic"):
            m = t.get(mode, {})
            r = num(m, "classifier_over_pass")
            out.append((f"veth non-IGMP, classifier, {mode} (pps)", fmt(num(m, "classifier_pps")),
                        f"XDP_PASS {fmt(num(m, 'pass_pps'))}", fmt(r), ">= 0.95",
                        r is not None and r >= 0.95))
        for mode in ("native", "generic"):
            m = t.get(mode, {})
            out.append((f"veth non-IGMP, XDP_PASS, {mode} (pps)", fmt(num(m, "pass_pps")),
                        f"nothing attached {fmt(num(t, 'bare_pps'))}", fmt(num(m, "pass_over_bare")), "", None))
        out.append(("`xigmp load --mode auto` on veth", str(t.get("auto_mode", "-")),
                    f"cheaper: {t.get('cheaper_mode', '-')}", "", "picks the cheaper",
                    t.get("auto_picks_cheaper")))
    else:
        missing("throughput", err)

    x, err = section(results, "translation")
    if x:
        rate = x.get("cpu_rate_msgs_per_s")
        at = f" at {rate // 1000}k msg/s" if isinstance(rate, int) else ""
        for key, label in (("cpu_ns_per_msg", "daemon"), ("proxy_core_cpu_ns_per_msg", "proxy's core"),
                           ("machine_less_load_cpu_ns_per_msg", "machine less the load tools"),
                           ("machine_cpu_ns_per_msg", "whole machine"),
                           ("saturation_cpu_ns_per_msg", "daemon, saturated")):
            xc, kc = num(x, f"xdp_{key}"), num(x, f"kernel_{key}")
            r = ratio(xc, kc)
            where = " saturated" if key.startswith("saturation") else at
            out.append((f"translation, CPU per message, {label.replace(', saturated', '')}{where} (ns)", fmt(xc),
                        f"kernel datapath {fmt(kc)}", fmt(r), "<= 0.5 (2x msgs/CPU-s)", r is not None and r <= 0.5))
        fc, kc = num(x, "floor_machine_cpu_ns_per_msg"), num(x, "kernel_machine_cpu_ns_per_msg")
        if fc is not None:
            # The floor: an XDP program translating in the kernel, no daemon.
            r = ratio(fc, kc)
            out.append((f"translation, whole machine{at}, floor: XDP translating in the kernel, no daemon (ns)",
                        fmt(fc), f"kernel datapath {fmt(kc)}", fmt(r),
                        "the most any datapath could reach", None))
            share = x.get("xdp_share_of_possible_machine_saving")
            if isinstance(share, (int, float)):
                out.append(("translation, whole machine: AF_XDP's share of the saving the floor allows",
                            f"{share:.2f}", f"kernel datapath 0, floor 1", "", "", None))
        xr, kr = num(x, "xdp_msgs_per_s"), num(x, "kernel_msgs_per_s")
        out.append(("translation, msgs/s at zero loss", fmt(xr), f"kernel datapath {fmt(kr)}",
                    fmt(ratio(xr, kr)), "", None))
        for p in ("p50", "p99"):
            xv, kv = num(x, f"xdp_{p}_us"), num(x, f"kernel_{p}_us")
            out.append((f"translation latency {p} at 10k msg/s (us)", fmt(xv), f"kernel datapath {fmt(kv)}",
                        fmt(ratio(xv, kv)), "", None))
        if num(x, "floor_p50_us") is not None:
            out.append(("translation latency p50 / p99 at 10k msg/s, floor (us)",
                        f"{fmt(num(x, 'floor_p50_us'))} / {fmt(num(x, 'floor_p99_us'))}",
                        "XDP translating in the kernel, no daemon", "", "", None))
        runs, worse_not = x.get("p99_runs"), x.get("xdp_p99_not_worse_runs")
        if isinstance(runs, int) and isinstance(worse_not, int):
            out.append(("translation p99 no worse than the kernel path's, runs", f"{worse_not}/{runs}",
                        f"per run: {x.get('xdp_p99_us_per_run')} vs {x.get('kernel_p99_us_per_run')}", "",
                        "every run", worse_not == runs))
    else:
        missing("translation", err)

    j, err = section(results, "join_latency")
    if j:
        for p in ("p50", "p99"):
            xv, iv = num(j, f"xigmp_{p}_us"), num(j, f"igmpproxy_{p}_us")
            r = ratio(xv, iv)
            goal = p == "p50"
            out.append((f"join propagation {p} (us)", cell(j, f"xigmp_{p}_us"), f"igmpproxy {cell(j, f'igmpproxy_{p}_us')}",
                        fmt(r) if iv is not None else "n/a", "<= 0.1 (10x lower)" if goal else "",
                        (r is not None and r <= 0.1) if goal and iv is not None else None))
    else:
        missing("join_latency", err)

    f, err = section(results, "forwarding")
    if f:
        for fan in (1, 2, 4):
            for impl, impl_name in (("xdp", "XDP"), ("tc", "TC")):
                iv = num(f, f"{impl}_pps_fanout{fan}")
                for base, base_name in (("bridge", "Linux bridge"), ("mirred", "tc mirred")):
                    bv = num(f, f"{base}_pps_fanout{fan}")
                    out.append((f"forwarding, fan-out {fan}, {impl_name} (pps out)",
                                cell(f, f"{impl}_pps_fanout{fan}"), f"{base_name} {cell(f, f'{base}_pps_fanout{fan}')}",
                                fmt(ratio(iv, bv)), "", None))
            xv, kv = num(f, f"xdp_pps_fanout{fan}"), num(f, f"kernel_pps_fanout{fan}")
            r = ratio(xv, kv)
            goal = fan == 1
            out.append((f"forwarding, fan-out {fan}, XDP (pps out)", cell(f, f"xdp_pps_fanout{fan}"),
                        f"kernel MFC {cell(f, f'kernel_pps_fanout{fan}')}", fmt(r) if kv is not None else "n/a",
                        ">= 3" if goal else "", (r is not None and r >= 3) if goal and kv is not None else None))
        sv = num(f, "smcroute_pps_fanout1")
        out.append(("forwarding, fan-out 1, XDP (pps out)", cell(f, "xdp_pps_fanout1"),
                    f"smcroute {cell(f, 'smcroute_pps_fanout1')}",
                    fmt(ratio(num(f, "xdp_pps_fanout1"), sv)) if sv is not None else "n/a", "", None))
        for p, key in (("p50", "first_packet_us"), ("p90", "first_packet_p90_us")):
            xv, iv = num(f, f"xigmp_{key}"), num(f, f"igmpproxy_{key}")
            goal = p == "p50"
            out.append((f"join to first forwarded packet {p} (us)", cell(f, f"xigmp_{key}"),
                        f"igmpproxy {cell(f, f'igmpproxy_{key}')}",
                        fmt(ratio(xv, iv)) if iv is not None else "n/a", "<= 1000 us" if goal else "",
                        (xv is not None and xv <= 1000) if goal else None))
    else:
        missing("forwarding", err)

    z, err = section(results, "zap")
    if z:
        for impl, impl_name in (("xdp", "XDP"), ("tc", "TC")):
            for key, label in (("join_first_packet_p50_us", "join to first fresh packet p50"),
                               ("join_first_packet_p99_us", "join to first fresh packet p99"),
                               ("join_wait_p50_us", "of which report to that packet's send p50"),
                               ("cold_join_first_packet_p50_us", "cold join (upstream starts) p50"),
                               ("leave_stop_fast_leave_off_p50_us", "leave to data stop p50, fast leave off"),
                               ("leave_stop_fast_leave_on_p50_us", "leave to data stop p50, fast leave on"),
                               ("leave_upstream_stop_fast_leave_off_p50_us", "leave to upstream leave p50, fast leave off")):
                xv, bv = num(z, f"{impl}_{key}"), num(z, f"bridge_{key}")
                goal = key == "join_first_packet_p50_us"
                out.append((f"zap, {label}, {impl_name} (us)", cell(z, f"{impl}_{key}"),
                            f"Linux bridge {cell(z, f'bridge_{key}')}", fmt(ratio(xv, bv)),
                            "<= 100 us" if goal else "", (xv is not None and xv <= 100) if goal else None))
            for key, label in (("storm_fast_leave_off_misses", "storm misses, fast leave off"),
                               ("storm_fast_leave_on_misses", "storm misses, fast leave on"),
                               ("storm_fast_leave_off_upstream_reports_per_zap", "storm reports upstream per zap"),
                               ("storm_fast_leave_off_machine_cpu_pct_processes", "storm machine CPU, all processes (%)"),
                               ("storm_fast_leave_off_source_cpu_pct",
                                "storm upstream sender + inline forwarding CPU (% of a core)")):
                xv, bv = num(z, f"{impl}_{key}"), num(z, f"bridge_{key}")
                goal = key.endswith("_misses")
                out.append((f"zap, {label}, {impl_name}", cell(z, f"{impl}_{key}"),
                            f"Linux bridge {cell(z, f'bridge_{key}')}", fmt(ratio(xv, bv)),
                            "0" if goal else "", (xv == 0 if xv is not None else None) if goal else None))
            out.append((f"zap, storm daemon CPU, {impl_name} (% of a core)",
                        cell(z, f"{impl}_storm_fast_leave_off_cpu_pct"), "", "", "", None))
    else:
        missing("zap", err)

    cp, err = section(results, "control_plane")
    if cp:
        ns, base = num(cp, "ns_per_msg"), num(cp, "baseline_owned_ns_per_msg")
        out.append(("control plane, decode+policy+encode (ns/msg)", fmt(ns),
                    f"owned values {fmt(base)}", fmt(ratio(ns, base)), "", None))
        a, ab = num(cp, "allocs_per_msg"), num(cp, "baseline_owned_allocs_per_msg")
        out.append(("control plane, allocations per message", fmt(a), f"owned values {fmt(ab)}",
                    "", "0", a == 0 if a is not None else None))
    else:
        missing("control_plane", err)
    return out


HEAD = ("figure", "xigmp", "baseline", "xigmp/baseline", "goal", "met")


def met_text(m):
    return "" if m is None else ("yes" if m else "NO")


def print_table(results, markdown):
    data = [tuple(r[:5]) + (met_text(r[5]),) for r in rows(results)]
    print(machine_line(results))
    print()
    if markdown:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "|".join("---" for _ in HEAD) + "|")
        for r in data:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(str(r[i])) for r in data + [HEAD]) for i in range(len(HEAD))]
    for r in [HEAD] + data:
        print("  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip())


def draw(results, paths):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    XIGMP, BASE = "#1f77b4", "#bbbbbb"
    fig, axes = plt.subplots(3, 3, figsize=(15, 12.5))
    axes = axes.flatten()

    def pairs(ax, title, unit, labels, ours, base, base_name, log=False, lower_better=True,
              ours_name="xigmp"):
        import numpy as np
        x = np.arange(len(labels))
        w = 0.38
        ours = [v if v is not None else 0 for v in ours]
        base = [v if v is not None else 0 for v in base]
        b1 = ax.bar(x - w / 2, ours, w, color=XIGMP, label=ours_name)
        b2 = ax.bar(x + w / 2, base, w, color=BASE, label=base_name)
        for bars in (b1, b2):
            for b in bars:
                h = b.get_height()
                if h > 0:
                    ax.annotate(fmt(h), (b.get_x() + b.get_width() / 2, h), ha="center",
                                va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel(unit + (" (lower is better)" if lower_better else " (higher is better)"), fontsize=8)
        ax.set_title(title, fontsize=10)
        top = max(ours + base + [0])
        if log:
            ax.set_yscale("log")
            if top > 0:
                ax.set_ylim(top=top * 4)
        elif top > 0 and ax.get_ylim()[1] < top * 1.3:
            ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
        ax.legend(fontsize=7, loc="upper left")

    def failed(ax, title, err):
        ax.set_title(title, fontsize=10)
        ax.text(0.5, 0.5, "not measured:\n" + err[:120], ha="center", va="center",
                fontsize=8, wrap=True, transform=ax.transAxes)
        ax.set_axis_off()

    c, err = section(results, "classifier")
    if c:
        pairs(axes[0], "Classifier cost, BPF_PROG_TEST_RUN", "ns per frame",
              ["non-IGMP", "IGMP", "VLAN IGMP"],
              [num(c, "non_igmp_ns"), num(c, "igmp_ns"), num(c, "vlan_igmp_ns")],
              [num(c, "baseline_pass_non_igmp_ns") or num(c, "baseline_pass_ns"),
               num(c, "baseline_pass_igmp_ns"), num(c, "baseline_pass_vlan_igmp_ns")],
              "XDP_PASS (baseline)", ours_name="classifier")
    else:
        failed(axes[0], "Classifier cost", err)

    t, err = section(results, "throughput")
    if t:
        n, g = t.get("native", {}), t.get("generic", {})
        bare = num(t, "bare_pps")
        if bare:
            axes[1].axhline(bare / 1e6, color="#555555", linestyle="--", linewidth=1,
                            label=f"nothing attached ({fmt(bare / 1e6)} Mpps)")
        pairs(axes[1], f"Non-IGMP frames through a veth (`load --mode auto` picks {t.get('auto_mode')})",
              "Mpps", ["native XDP", "generic XDP"],
              [(num(n, "classifier_pps") or 0) / 1e6, (num(g, "classifier_pps") or 0) / 1e6],
              [(num(n, "pass_pps") or 0) / 1e6, (num(g, "pass_pps") or 0) / 1e6],
              "XDP_PASS (baseline)", lower_better=False, ours_name="classifier")
        axes[1].set_ylim(0, (bare or 1e6) / 1e6 * 1.25)
    else:
        failed(axes[1], "Non-IGMP throughput", err)

    x, err = section(results, "translation")
    if x:
        pairs(axes[2], "Unicast translation, proxy CPU per message", "ns CPU per message",
              ["xigmp proxy"], [num(x, "xdp_cpu_ns_per_msg")], [num(x, "kernel_cpu_ns_per_msg")],
              "kernel datapath (baseline)", ours_name="AF_XDP datapath")
        pairs(axes[3], "Unicast translation latency", "us", ["p50", "p99"],
              [num(x, "xdp_p50_us"), num(x, "xdp_p99_us")],
              [num(x, "kernel_p50_us"), num(x, "kernel_p99_us")], "kernel datapath (baseline)",
              log=True, ours_name="AF_XDP datapath")
    else:
        failed(axes[2], "Unicast translation", err)
        failed(axes[3], "Unicast translation latency", err)

    j, err = section(results, "join_latency")
    if j:
        pairs(axes[4], "Join propagation, host report -> upstream report", "us", ["p50", "p99"],
              [num(j, "xigmp_p50_us"), num(j, "xigmp_p99_us")],
              [num(j, "igmpproxy_p50_us"), num(j, "igmpproxy_p99_us")],
              f"igmpproxy: n/a ({j['igmpproxy_p50_us_reason']})" if j.get("igmpproxy_p50_us_reason")
              else "igmpproxy (baseline)", log=True)
    else:
        failed(axes[4], "Join propagation", err)

    cp, err = section(results, "control_plane")
    if cp:
        pairs(axes[5], f"Control plane per message (allocs: {fmt(num(cp, 'allocs_per_msg'))} vs "
              f"{fmt(num(cp, 'baseline_owned_allocs_per_msg'))})", "ns per message",
              ["decode+policy+encode"], [num(cp, "ns_per_msg")], [num(cp, "baseline_owned_ns_per_msg")],
              "owned-value decode (baseline)", ours_name="xigmp (views, no copies)")
    else:
        failed(axes[5], "Control plane", err)

    f, err = section(results, "forwarding")
    if f:
        import numpy as np
        ax = axes[6]
        xdp_mode = next((f" ({m} mode)" for m in ("generic", "native") if m in str(f.get("xdp_attach", ""))), "")
        series = [("xdp", f"xigmp, XDP path{xdp_mode}", XIGMP), ("tc", "xigmp, TC path", "#17becf"),
                  ("bridge", "Linux bridge (baseline)", BASE), ("mirred", "tc mirred (baseline)", "#8c8c8c"),
                  ("kernel", "xigmp, kernel MFC (baseline)", "#d9d9d9")]
        fans = (1, 2, 4)
        w = 0.8 / len(series)
        x = np.arange(len(fans))
        top = 0
        for i, (impl, name, color) in enumerate(series):
            vals = [num(f, f"{impl}_pps_fanout{n}") for n in fans]
            if all(v is None for v in vals):
                why = f.get(f"{impl}_pps_fanout1_reason")
                ax.bar([0], [0], w, color=color, label=f"{name}: n/a ({why})" if why else f"{name}: not measured")
                continue
            h = [(v or 0) / 1e6 for v in vals]
            top = max([top] + h)
            bars = ax.bar(x - 0.4 + w * (i + 0.5), h, w, color=color, label=name)
            for b in bars:
                if b.get_height() > 0:
                    ax.annotate(f"{b.get_height():.2f}", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                                va="bottom", fontsize=6, xytext=(0, 2), textcoords="offset points")
        sv = num(f, "smcroute_pps_fanout1")
        if sv:
            ax.scatter([0.4], [sv / 1e6], marker="_", s=300, color="#d62728", zorder=3,
                       label=f"smcroute, fan-out 1 ({fmt(sv / 1e6)} Mpps)")
        ax.set_xticks(x, [f"fan-out {n}" for n in fans], fontsize=8)
        ax.set_ylabel("Mpps out, sum over outputs (higher is better)", fontsize=8)
        ax.set_title("Multicast forwarding capacity, veth, 106-byte frames", fontsize=10)
        if top > 0:
            ax.set_ylim(0, top * 1.6)  # room for the legend above the bars
        ax.legend(fontsize=6, loc="upper left")
        why = f.get("igmpproxy_first_packet_us_reason")
        pairs(axes[7], "Join to first forwarded packet", "us", ["p50", "p90"],
              [num(f, "xigmp_first_packet_us"), num(f, "xigmp_first_packet_p90_us")],
              [num(f, "igmpproxy_first_packet_us"), num(f, "igmpproxy_first_packet_p90_us")],
              f"igmpproxy + kernel MFC: n/a ({why})" if why else "igmpproxy + kernel MFC (baseline)",
              log=True, ours_name="xigmp (XDP)")
    else:
        failed(axes[6], "Multicast forwarding capacity", err)
        failed(axes[7], "Join to first forwarded packet", err)
    axes[8].set_axis_off()

    m = results.get("machine", {})
    caps = m.get("capabilities") if isinstance(m.get("capabilities"), dict) else {}
    mroute = {True: ", CONFIG_IP_MROUTE", False: ", no CONFIG_IP_MROUTE"}.get(caps.get("ip_mroute"), "")
    fig.suptitle(f"xigmp benchmarks - {m.get('cpu') or m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, "
                 f"Linux {m.get('kernel', '?')}{mroute}, {m.get('date', '?')} (medians of alternating rounds)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    for p in paths:
        fig.savefig(p, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--png")
    ap.add_argument("--svg")
    a = ap.parse_args()
    with open(a.results) as f:
        results = json.load(f)
    if a.table or a.markdown:
        print_table(results, a.markdown)
    out = [p for p in (a.png, a.svg) if p]
    if out:
        draw(results, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
