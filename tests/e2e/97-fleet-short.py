"""A short `make fleet` (issue 16): 6 locals, 2 proxies, 2 globals (+1 through discovery), 2 senders.

Same scenario and bounds as tests/fleet/fleet.py (kill -9 a global, restart it, kill -9 a proxy,
restart it, add a global), asserted on counts; prints the loss table. Runs in about 30 s.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fleet"))
from harness import check, expect, run  # noqa: E402
import fleet  # noqa: E402


def test_fleet_short():
    rows, failures = fleet.run_fleet(n_locals=6, n_proxies=2, n_globals=2, n_senders=2, n_keys=100, gap=3)
    fleet.print_table(rows)
    expect(not failures, "; ".join(failures))


check("fleet-short: loss bounds for global/proxy kill, restart and a global added", test_fleet_short)
run()
