#!/usr/bin/env python3
"""Strict verdict and markdown table for one Autobahn run.

Reads OUTDIR/summary.json (written by summarize.py through fuzzingclient.sh or
fuzzingserver.sh) and the report index.json it points to, then

  * prints a markdown table per section (counts, with the case ids of every
    outcome that is not OK) and writes it to --md FILE,
  * exits 0 only if every case is OK or INFORMATIONAL. FAILED, NON-STRICT and
    UNIMPLEMENTED all fail the strict check (exit 1); a missing or unreadable
    summary/report exits 2.

Outcomes are classified exactly as summarize.py does (same module).

Usage: strict_check.py OUTDIR --agent NAME [--title TEXT] [--md FILE]
"""

import argparse
import json
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summarize  # noqa: E402  (the vendored shared/autobahn summarizer)

ACCEPTED = ("OK", "INFORMATIONAL")
COLUMNS = [("OK", "OK"), ("NON-STRICT", "NON-STRICT"), ("INFORMATIONAL", "INFO"),
           ("UNIMPLEMENTED", "UNIMPL"), ("FAILED", "FAILED")]
MAX_IDS = 12


def cell(count, ids, outcome):
    if outcome == "OK" or not ids:
        return str(count)
    shown = ", ".join(ids[:MAX_IDS]) + (", ..." if len(ids) > MAX_IDS else "")
    return "%d (%s)" % (count, shown)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--agent", required=True)
    ap.add_argument("--title", default=None)
    ap.add_argument("--md", metavar="FILE")
    args = ap.parse_args(argv)

    title = args.title or "Autobahn: %s" % args.agent
    md_lines = ["### %s" % title, ""]

    def finish(status, verdict):
        md_lines.append("**%s**" % verdict)
        md_lines.append("")
        text = "\n".join(md_lines)
        print(text)
        if args.md:
            with open(args.md, "w") as f:
                f.write(text)
        return status

    summary_path = os.path.join(args.outdir, "summary.json")
    try:
        with open(summary_path) as f:
            summary = json.load(f)
        with open(summary["report"]) as f:
            report = json.load(f)
        cases = report[args.agent]
        if not cases:
            raise KeyError(args.agent)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return finish(2, "ERROR: no usable report (%s: %s); see the log above" % (type(e).__name__, e))

    groups = OrderedDict()
    totals = OrderedDict((o, []) for o, _ in COLUMNS)
    for case_id in sorted(cases, key=summarize.case_key):
        outcome, _why = summarize.classify(cases[case_id], False)
        g = summarize.group_of(case_id, 1)
        groups.setdefault(g, OrderedDict((o, []) for o, _ in COLUMNS))[outcome].append(case_id)
        totals[outcome].append(case_id)

    md_lines.append("| section | name | total | " + " | ".join(h for _, h in COLUMNS) + " |")
    md_lines.append("| --- | --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |")
    for g, by in groups.items():
        md_lines.append("| %s | %s | %d | %s |" % (
            g, summarize.GROUP_NAMES.get(g, ""), sum(len(v) for v in by.values()),
            " | ".join(cell(len(by[o]), by[o], o) for o, _ in COLUMNS)))
    md_lines.append("| **total** | | %d | %s |" % (
        len(cases), " | ".join(str(len(totals[o])) for o, _ in COLUMNS)))
    md_lines.append("")

    expected = summary.get("agents", {}).get(args.agent, {}).get("cases")
    if summary.get("exit_status", 0) == 2:
        return finish(2, "ERROR: the run was incomplete (%d cases in the report; see the summary above)" % len(cases))
    if expected is not None and expected != len(cases):
        return finish(2, "ERROR: summary.json counts %s cases, the report %d" % (expected, len(cases)))

    bad = [(o, totals[o]) for o, _ in COLUMNS if o not in ACCEPTED and totals[o]]
    if bad:
        return finish(1, "STRICT FAIL: " + "; ".join(
            "%d %s (%s%s)" % (len(ids), o, ", ".join(ids[:MAX_IDS]), ", ..." if len(ids) > MAX_IDS else "")
            for o, ids in bad) + " -- only OK and INFORMATIONAL are accepted")
    return finish(0, "STRICT PASS: all %d cases OK or INFORMATIONAL" % len(cases))


if __name__ == "__main__":
    sys.exit(main())
