#!/usr/bin/env python3
"""Fail unless every Catch test case in the unit binary runs as exactly one ctest entry.

Usage: unit_discovery_guard.py CTEST BUILD_DIR UNIT_TESTS

catch_discover_tests makes one ctest entry per test name, but it goes through CMake lists: a name
with ';' becomes two entries whose filters match nothing, and Catch2 2.13 reports "No tests ran"
with exit code 0 unless it runs with --warn NoTests. Both would let a test silently never run.
"""
import collections
import json
import subprocess
import sys

PREFIX = "unit."


def main():
    ctest, build_dir, unit_tests = sys.argv[1:4]
    listed = subprocess.run(
        [unit_tests, "--list-test-names-only"], capture_output=True, text=True, check=False
    )
    # --list-test-names-only exits with the number of tests (mod 256), so only a signal is a failure.
    if listed.returncode < 0:
        sys.exit(f"{unit_tests} --list-test-names-only: killed by signal {-listed.returncode}")
    catch_names = [line for line in listed.stdout.splitlines() if line]

    shown = subprocess.run(
        [ctest, "--test-dir", build_dir, "--show-only=json-v1", "--label-regex", "^unit$"],
        capture_output=True,
        text=True,
        check=True,
    )
    entries = json.loads(shown.stdout)["tests"]

    problems = []
    if not catch_names:
        problems.append(f"{unit_tests} lists no test cases")
    for name in catch_names:
        if ";" in name:
            problems.append(f'test case "{name}": a ";" in the name splits its ctest entry')
    for name, count in collections.Counter(catch_names).items():
        if count > 1:
            problems.append(f'test case "{name}" is defined {count} times')

    ctest_names = []
    for entry in entries:
        name = entry["name"]
        command = entry.get("command", [])
        if not name.startswith(PREFIX):
            problems.append(f'ctest entry "{name}" has the unit label but not the "{PREFIX}" prefix')
            continue
        ctest_names.append(name[len(PREFIX) :])
        if not any(a == "--warn" and b == "NoTests" for a, b in zip(command, command[1:])):
            problems.append(
                f'ctest entry "{name}" runs without --warn NoTests: a filter matching nothing '
                "would pass"
            )

    catch_set = set(catch_names)
    ctest_set = set(ctest_names)
    for name in sorted(catch_set - ctest_set):
        problems.append(f'test case "{name}" has no ctest entry')
    for name in sorted(ctest_set - catch_set):
        problems.append(f'ctest entry "{PREFIX}{name}" names no test case')

    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(
            f"{len(catch_names)} test cases, {len(entries)} unit ctest entries: "
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        )
    print(f"{len(catch_names)} test cases, {len(entries)} unit ctest entries, one each")


if __name__ == "__main__":
    main()
