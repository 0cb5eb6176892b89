# Golden chi-square upper-tail probabilities for test-utils/stats.test.ts (scipy).
import json
from scipy.stats import chi2

cases = [(0.5, 1), (3.84, 1), (11.07, 5), (2.0, 5), (30.0, 9), (100.0, 20), (5.0, 40), (60.0, 40), (1e-3, 3)]
out = [{"x": x, "df": df, "p": float(chi2.sf(x, df))} for x, df in cases]
with open("chi-square.json", "w") as f:
    json.dump(out, f, indent=1)
