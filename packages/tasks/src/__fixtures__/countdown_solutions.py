"""Golden countdown solution sets for countdown-solver.test.ts.

Brute force over every permutation of the numbers, every binary tree shape and every
operator choice, with exact Fractions. Each tree is rendered with the fewest parentheses
that keep its value (the right operand of + or * is never bracketed; of - when it is a
sum/difference; of / when it is not an atom; a left operand of * or / when it is a
sum/difference), then de-duplicated. Each rendered string is re-evaluated with Python's
own parser to confirm it keeps the tree's value.

Run: python3 countdown_solutions.py > countdown-solutions.json
"""
import itertools
import json
import re
from fractions import Fraction


def trees(items):
    if len(items) == 1:
        yield (Fraction(items[0]), str(items[0]), 3)
        return
    for i in range(1, len(items)):
        for left in trees(items[:i]):
            for right in trees(items[i:]):
                for op in "+-*/":
                    lv, lt, lp = left
                    rv, rt, rp = right
                    if op == "+":
                        yield (lv + rv, f"{lt}+{rt}", 1)
                    elif op == "-":
                        yield (lv - rv, f"{lt}-" + (f"({rt})" if rp == 1 else rt), 1)
                    elif op == "*":
                        l = f"({lt})" if lp == 1 else lt
                        r = f"({rt})" if rp == 1 else rt
                        yield (lv * rv, f"{l}*{r}", 2)
                    elif rv != 0:
                        l = f"({lt})" if lp == 1 else lt
                        r = f"({rt})" if rp <= 2 else rt
                        yield (lv / rv, f"{l}/{r}", 2)


def py_eval(text):
    return eval(re.sub(r"(\d+)", r"Fraction(\1)", text))


def solutions(numbers, target):
    found = set()
    for perm in set(itertools.permutations(numbers)):
        for value, text, _ in trees(list(perm)):
            if value == target:
                assert py_eval(text) == target, text
                found.add(text)
    return sorted(found)


def reachable(numbers, lo, hi):
    vals = set()
    for perm in set(itertools.permutations(numbers)):
        for value, _, _ in trees(list(perm)):
            if value.denominator == 1 and lo <= value <= hi:
                vals.add(int(value))
    return sorted(vals)


problems = [([1, 2, 3], 9), ([3, 5, 8], 19), ([2, 2, 6], 3), ([4, 7, 9], 1), ([1, 3, 4, 6], 24), ([2, 3, 5, 12], 7)]
print(json.dumps({
    "solutions": [{"numbers": n, "target": t, "solutions": solutions(n, t)} for n, t in problems],
    "reachable": [{"numbers": n, "min": 1, "max": 50, "targets": reachable(n, 1, 50)} for n in ([1, 2, 3], [5, 5, 9], [3, 7, 11, 12])],
}, indent=1))
