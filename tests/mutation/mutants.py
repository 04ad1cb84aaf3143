#!/usr/bin/env python3
"""Read tests/mutation/mutants.tsv for tests/mutation/run: check the mutants against a tree, or plant one.

  mutants.py list  TREE [ID...]   check every mutant (or the named ones) against TREE and print
                                  "id<TAB>file<TAB>meaning" for each; exit 2 listing every problem
  mutants.py apply TREE ID        plant mutant ID in TREE (after the same checks)

A mutant is refused when its original text is not found exactly once in its file, so that a
refactor cannot quietly turn it into a no-op.
"""
import os
import sys

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mutants.tsv")
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def unescape(text, where):
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text) or text[i + 1] not in ESCAPES:
                raise ValueError(f"{where}: bad escape at character {i + 1} (expected \\n, \\t or \\\\)")
            out.append(ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def read_table():
    mutants = []
    problems = []
    seen = set()
    with open(TABLE, encoding="utf-8") as table:
        for number, line in enumerate(table, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            where = f"{TABLE}:{number}"
            fields = line.split("\t")
            if len(fields) != 5:
                problems.append(f"{where}: expected 5 tab-separated fields, found {len(fields)}")
                continue
            mutant_id, path, original, replacement, meaning = fields
            if mutant_id in seen:
                problems.append(f"{where}: duplicate id \"{mutant_id}\"")
            seen.add(mutant_id)
            try:
                original = unescape(original, where)
                replacement = unescape(replacement, where)
            except ValueError as error:
                problems.append(str(error))
                continue
            if not original:
                problems.append(f"{where}: {mutant_id}: empty original text")
            if original == replacement:
                problems.append(f"{where}: {mutant_id}: the replacement is the original")
            mutants.append(
                {"id": mutant_id, "file": path, "original": original, "replacement": replacement,
                 "meaning": meaning, "where": where}
            )
    return mutants, problems


def check(tree, mutant):
    path = os.path.join(tree, mutant["file"])
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
    except OSError as error:
        return None, f"{mutant['where']}: {mutant['id']}: {mutant['file']}: {error.strerror}"
    count = text.count(mutant["original"])
    if count != 1:
        return None, (
            f"{mutant['where']}: {mutant['id']}: the original text is found {count} times in "
            f"{mutant['file']} (expected exactly once): update the mutant"
        )
    return text, None


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("list", "apply"):
        sys.exit(__doc__)
    command, tree, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "apply" and len(wanted) != 1:
        sys.exit("apply: expected one mutant id")
    mutants, problems = read_table()
    known = {m["id"] for m in mutants}
    for mutant_id in wanted:
        if mutant_id not in known:
            problems.append(f"no mutant \"{mutant_id}\" in {TABLE}")
    selected = [m for m in mutants if not wanted or m["id"] in wanted]
    texts = {}
    for mutant in selected:
        text, problem = check(tree, mutant)
        if problem:
            problems.append(problem)
        texts[mutant["id"]] = text
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(2)
    if command == "list":
        for mutant in selected:
            print(f"{mutant['id']}\t{mutant['file']}\t{mutant['meaning']}")
        return
    mutant = selected[0]
    path = os.path.join(tree, mutant["file"])
    with open(path, "w", encoding="utf-8") as source:
        source.write(texts[mutant["id"]].replace(mutant["original"], mutant["replacement"], 1))


if __name__ == "__main__":
    main()
