#!/usr/bin/env python3
# Vendored copy of shared/autobahn/summarize.py (the project's shared Autobahn|Testsuite
# scripts, shared/autobahn/README.md); copied into the repo so CI is self-contained.
# Keep in sync with the shared original; local changes: none.
"""Summarize an Autobahn|Testsuite report (reports/servers/index.json or
reports/clients/index.json) as a table of outcomes per case group.

Each case gets one outcome:

  OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED  -- the case's "behavior", unless
  FAILED                                        -- behavior is FAILED (or any other
                                                   value, e.g. NO_CLOSE), or the
                                                   closing handshake was UNCLEAN/FAILED
  A closing handshake that was WRONG CODE or FAILED BY CLIENT turns an OK case
  into NON-STRICT (that is how wstest's HTML report colours it).
  With --lenient-close the closing-handshake result is ignored.

Exit status: 0 = no FAILED case (after --allow), 1 = at least one FAILED case,
2 = the report is missing, unreadable, empty, or lacks expected cases.
"""

import argparse
import fnmatch
import json
import os
import sys
from collections import OrderedDict

OUTCOMES = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]

GROUP_NAMES = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved Bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 Handling",
    "7": "Close Handling",
    "8": "Misc",
    "9": "Limits/Performance",
    "10": "Auto-Fragmentation",
    "12": "permessage-deflate (payloads)",
    "13": "permessage-deflate (parameters)",
}

CLOSE_OK = {"OK", "INFORMATIONAL", "UNIMPLEMENTED"}
CLOSE_NON_STRICT = {"WRONG CODE", "FAILED BY CLIENT"}


def case_key(case_id):
    out = []
    for part in case_id.split("."):
        try:
            out.append((0, int(part)))
        except ValueError:
            out.append((1, part))
    return out


def classify(entry, lenient_close):
    behavior = entry.get("behavior")
    close = entry.get("behaviorClose")
    if behavior == "UNIMPLEMENTED":
        return "UNIMPLEMENTED", ""
    if behavior not in ("OK", "NON-STRICT", "INFORMATIONAL"):
        return "FAILED", "behavior=%s" % behavior
    if lenient_close or close in CLOSE_OK:
        return behavior, ""
    if close in CLOSE_NON_STRICT:
        return ("NON-STRICT" if behavior == "OK" else behavior), "close=%s" % close
    return "FAILED", "close=%s" % close


def group_of(case_id, depth):
    return ".".join(case_id.split(".")[:depth])


def load_case_detail(report_dir, entry):
    name = entry.get("reportfile")
    if not name:
        return {}
    try:
        with open(os.path.join(report_dir, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def shorten(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", help="path to index.json, or the directory that holds it")
    ap.add_argument("--agent", help="only this agent (default: every agent in the report)")
    ap.add_argument("--by", choices=["section", "subsection"], default="section",
                    help="group cases by 'section' (e.g. 6) or 'subsection' (e.g. 6.4); default section")
    ap.add_argument("--allow", action="append", default=[], metavar="PATTERN",
                    help="case ids (fnmatch patterns, comma-separated, repeatable) whose failure "
                         "is reported but does not make the exit status non-zero")
    ap.add_argument("--lenient-close", action="store_true",
                    help="judge cases by 'behavior' only, ignoring the closing-handshake result")
    ap.add_argument("--expect-min-cases", type=int, default=1,
                    help="exit 2 if an agent has fewer cases than this (default 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE")
    ap.add_argument("--quiet", action="store_true", help="print only the table and the verdict")
    args = ap.parse_args(argv)

    path = args.index
    if os.path.isdir(path):
        path = os.path.join(path, "index.json")
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        print("summarize: cannot read report %s: %s" % (path, e), file=sys.stderr)
        return 2
    if not isinstance(report, dict) or not report:
        print("summarize: report %s has no agents" % path, file=sys.stderr)
        return 2
    report_dir = os.path.dirname(os.path.abspath(path))
    allow = [p.strip() for a in args.allow for p in a.split(",") if p.strip()]
    depth = 1 if args.by == "section" else 2

    agents = [args.agent] if args.agent else sorted(report)
    status = 0
    summary = OrderedDict()
    for agent in agents:
        cases = report.get(agent)
        if not cases:
            print("summarize: agent %r not in report %s (agents: %s)" % (agent, path, ", ".join(sorted(report))),
                  file=sys.stderr)
            return 2
        groups = OrderedDict()
        totals = OrderedDict((o, 0) for o in OUTCOMES)
        notable = []
        failed_blocking = 0
        durations = 0
        for case_id in sorted(cases, key=case_key):
            entry = cases[case_id]
            outcome, why = classify(entry, args.lenient_close)
            g = group_of(case_id, depth)
            groups.setdefault(g, OrderedDict((o, 0) for o in OUTCOMES))[outcome] += 1
            totals[outcome] += 1
            durations += entry.get("duration") or 0
            if outcome in ("NON-STRICT", "INFORMATIONAL", "FAILED"):
                allowed = outcome == "FAILED" and any(fnmatch.fnmatchcase(case_id, p) for p in allow)
                if outcome == "FAILED" and not allowed:
                    failed_blocking += 1
                notable.append((case_id, outcome, why, allowed, entry))

        print("Autobahn report: %s" % path)
        print("Agent: %s   cases: %d   sum of case durations: %.1f s" % (agent, len(cases), durations / 1000.0))
        name_w = 32
        widths = [max(len(o), 6) for o in OUTCOMES]
        header = "%-8s %-*s %6s" % ("Group", name_w, "Name", "Total") + "".join(
            " %*s" % (w, o) for w, o in zip(widths, OUTCOMES))
        print(header)
        print("-" * len(header))
        for g, counts in groups.items():
            name = GROUP_NAMES.get(g.split(".")[0], "") if depth == 1 else ""
            print("%-8s %-*s %6d" % (g, name_w, name, sum(counts.values()))
                  + "".join(" %*d" % (w, counts[o]) for w, o in zip(widths, OUTCOMES)))
        print("-" * len(header))
        print("%-8s %-*s %6d" % ("TOTAL", name_w, "", len(cases))
              + "".join(" %*d" % (w, totals[o]) for w, o in zip(widths, OUTCOMES)))

        if notable and not args.quiet:
            print()
            print("Cases that are not plain OK (UNIMPLEMENTED omitted):")
            for case_id, outcome, why, allowed, entry in notable:
                line = "  %-9s %-14s behavior=%s close=%s remoteCloseCode=%s" % (
                    case_id, outcome + (" (allowed)" if allowed else ""), entry.get("behavior"),
                    entry.get("behaviorClose"), entry.get("remoteCloseCode"))
                print(line)
                if outcome == "FAILED":
                    d = load_case_detail(report_dir, entry)
                    if d.get("description"):
                        print("      description: %s" % shorten(d["description"]))
                    if d.get("expectation"):
                        print("      expectation: %s" % shorten(d["expectation"]))
                    if d.get("result"):
                        print("      result:      %s" % shorten(d["result"]))
                    if d.get("resultClose"):
                        print("      resultClose: %s" % shorten(d["resultClose"]))

        if len(cases) < args.expect_min_cases:
            print("VERDICT %s: ERROR - only %d cases in report, expected at least %d"
                  % (agent, len(cases), args.expect_min_cases))
            status = max(status, 2)
        elif failed_blocking:
            print("VERDICT %s: FAIL - %d case(s) FAILED" % (agent, failed_blocking))
            status = max(status, 1)
        else:
            extra = " (%d allowed failure(s))" % (totals["FAILED"]) if totals["FAILED"] else ""
            print("VERDICT %s: PASS - no FAILED case%s" % (agent, extra))
        print()
        summary[agent] = {
            "cases": len(cases),
            "totals": totals,
            "groups": groups,
            "failed": [c for c, o, _, a, _ in notable if o == "FAILED" and not a],
            "allowed_failed": [c for c, o, _, a, _ in notable if o == "FAILED" and a],
            "non_strict": [c for c, o, _, _, _ in notable if o == "NON-STRICT"],
            "informational": [c for c, o, _, _, _ in notable if o == "INFORMATIONAL"],
        }

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"report": path, "agents": summary, "exit_status": status}, f, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())
