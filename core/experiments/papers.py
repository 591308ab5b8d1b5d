"""What the papers found, checked on this workspace: one claim per seed paper, a rule, a verdict.

Each `Claim` names the saved run it reads (`RUN_KINDS`), the `densescope prepare` step that saves it
(`core.experiments.demo.STEPS`), and a *judge*: a pure function ``(rows, params) -> Verdict`` over the
run's rows and parameters. The thresholds are module constants and each claim's ``rule`` says them in
words, so the page states what "holds" means numerically. `check_claims` finds each claim's run for a
workspace and judges it; a claim whose run is missing is ``not run yet``.

The judges are small on purpose: pointing one at a new run kind (a learned BEBR, a Cosine Adapter, an
isotropy study) means a new judge over that run's rows, nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

HOLDS, FAILS, NOT_RUN = "holds here", "does not hold here", "not run yet"
STATUSES = (HOLDS, FAILS, NOT_RUN)

#: Elliott & Clark: efSearch of the order comparison, and the smallest gap that counts (recall points).
ORDER_EF = 10
ORDER_MIN_GAP = 0.005
#: Elliott & Clark: recall falls with intrinsic dimension when the rank correlation is at most this ...
ID_MAX_SPEARMAN = -0.8
#: ... and recall at the highest dimension is at least this far below recall at the lowest.
ID_MIN_DROP = 0.05
#: Zhang et al.: int8 keeps task quality when it keeps at least this share of exact search's.
INT8_MIN_SHARE = 0.99
#: Zhang et al.: the memory budgets, as fractions of float32's 4·d bytes per vector.
BUDGET_FRACTIONS = (1 / 3, 1 / 6, 1 / 12, 1 / 24)
#: LeanVec: reduced search "keeps recall" at recall@k of at least this (exact search is 1).
LEANVEC_MIN_RECALL = 0.95
#: BEBR: the most bits per dimension must close at least this share of the 1-bit code's gap to exact.
BEBR_MIN_RECOVERED = 0.5
#: Relevance filtering: the global cut-off must keep this share of the relevant results ...
CUTOFF_KEEP_RELEVANT = 0.9
#: ... and filters badly when it still keeps at least this share of the non-relevant ones.
CUTOFF_BAD_OTHER = 0.5
#: Convergent learning: "only part" = more than this many times chance agreement and below this share.
CONVERGENT_OVER_CHANCE = 5.0
CONVERGENT_MAX_SHARE = 0.8
#: Anisotropy: a mean pairwise cosine of at least this (random directions give about 0).
ANISOTROPY_MIN_COSINE = 0.1


@dataclass(frozen=True)
class Verdict:
    """A claim judged on one run: ``status`` (one of `STATUSES`), our number in words, one sentence, the
    number the rule compared, and the view that shows it (``(page, state fields)``, built by the app)."""

    status: str
    ours: str
    sentence: str
    value: float | None = None
    view: tuple[str, dict] | None = None


@dataclass(frozen=True)
class Claim:
    """One seed paper's claim: what it says, its number, the rule that decides it here and its run."""

    key: str
    paper: str
    claim: str
    paper_number: str
    rule: str
    kind: str  # run kind read (see `RUN_KINDS`)
    step: str  # the `prepare` step that saves it
    judge: Callable[[pd.DataFrame, dict], Verdict] = field(repr=False)


def _pct(x: float) -> str:
    return f"{x:.1%}"


def not_run(reason: str) -> Verdict:
    return Verdict(NOT_RUN, "", reason)


# -------------------------------------------------------------------------------- Elliott & Clark


def judge_order(rows: pd.DataFrame, params: dict) -> Verdict:
    """Descending- vs ascending-LID insertion order at efSearch `ORDER_EF`, against random orders' spread."""
    need = {"backend", "order", "ef_search", "recall_at_k"}
    if rows.empty or not need <= set(rows) or not {"lid-desc", "lid-asc"} <= set(rows["order"]):
        return not_run("The saved order study has no descending- and ascending-LID builds to compare.")
    efs = sorted(int(e) for e in rows["ef_search"].dropna().unique())
    ef = ORDER_EF if ORDER_EF in efs else efs[0]
    at = rows[rows["ef_search"] == ef]
    parts, holds, gaps = [], True, []
    for backend, part in at.groupby("backend", sort=True):
        mean = part.groupby("order")["recall_at_k"].mean()
        if "lid-desc" not in mean or "lid-asc" not in mean:
            continue
        gap = float(mean["lid-desc"] - mean["lid-asc"])
        rand = part[part["order"] == "random"]["recall_at_k"]
        noise = float(rand.max() - rand.min()) if len(rand) > 1 else 0.0
        holds &= gap > max(noise, ORDER_MIN_GAP)
        gaps.append(gap)
        parts.append(f"{backend}: {100 * gap:+.1f} points ({_pct(mean['lid-desc'])} vs {_pct(mean['lid-asc'])}; "
                     f"random orders vary by {100 * noise:.1f})")
    if not gaps:
        return not_run("No backend of the saved order study has both LID orders.")
    status = HOLDS if holds else FAILS
    verb = "beats" if holds else "does not clearly beat"
    sentence = (f"At efSearch {ef}, inserting in descending-LID order {verb} ascending order by more than the "
                f"random orders' own spread: " + "; ".join(parts) + ".")
    return Verdict(status, "; ".join(p.split(" (")[0] for p in parts), sentence, min(gaps),
                   ("order", {"ef": ef}))


def _spearman(a, b) -> float:
    ra, rb = pd.Series(a).rank(), pd.Series(b).rank()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def judge_recall_vs_id(rows: pd.DataFrame, params: dict) -> Verdict:
    """Rank correlation of recall@k with the data's intrinsic dimension at the smallest efSearch, per backend."""
    need = {"true_dim", "ef_search", "recall_at_k", "backend"}
    if rows.empty or not need <= set(rows) or rows["true_dim"].nunique() < 3:
        return not_run("The saved recall-vs-dimension study has fewer than three dimensions.")
    ef = int(rows["ef_search"].min())
    at = rows[rows["ef_search"] == ef]
    rhos, drops, parts = [], [], []
    for backend, part in at.groupby("backend", sort=True):
        by_dim = part.groupby("true_dim")["recall_at_k"].mean().sort_index()
        rho, drop = _spearman(by_dim.index, by_dim.values), float(by_dim.iloc[0] - by_dim.iloc[-1])
        rhos.append(rho)
        drops.append(drop)
        parts.append(f"{backend}: {_pct(by_dim.iloc[0])} at ID {int(by_dim.index[0])} to {_pct(by_dim.iloc[-1])} at "
                     f"ID {int(by_dim.index[-1])} (Spearman {rho:.2f})")
    holds = all(r <= ID_MAX_SPEARMAN for r in rhos) and all(d >= ID_MIN_DROP for d in drops)
    k = int(at["k"].iloc[0]) if "k" in at else 10
    sentence = (f"On synthetic data of known intrinsic dimension, HNSW recall@{k} at efSearch {ef} goes " +
                "; ".join(parts) + ("." if holds else ": not a steady fall."))
    return Verdict(HOLDS if holds else FAILS, parts[0].split(" (")[0], sentence, max(rhos), ("order", {}))


# --------------------------------------------------------------------------------------- Zhang et al.


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["status"] == "ok"] if "status" in rows else rows


def quality_column(rows: pd.DataFrame) -> tuple[str, str]:
    """The task-quality column of a sweep (nDCG@10 where the dataset has judgments, else recall@k)."""
    if "ndcg_at_10" in rows and rows["ndcg_at_10"].notna().any():
        return "ndcg_at_10", "nDCG@10"
    return "recall_at_k", "recall@k"


def _bytes(rows: pd.DataFrame) -> str:
    return "total_bytes_per_vector" if "total_bytes_per_vector" in rows else "bytes_per_vector"


def judge_int8(rows: pd.DataFrame, params: dict) -> Verdict:
    """Post-hoc int8 scalar quantization against exact search: task quality kept, memory saved."""
    ok = _ok(rows)
    if ok.empty or "method" not in ok:
        return not_run("The saved sweep has no rows that ran.")
    flat = ok[ok["method"] == "flat"]
    int8 = ok[(ok["method"] == "sq") & (ok.get("qtype") == "int8")] if "qtype" in ok else ok.iloc[0:0]
    if flat.empty or int8.empty:
        return not_run("The saved sweep has no exact (flat) and int8 rows to compare.")
    col, name = quality_column(ok)
    bcol = _bytes(ok)
    f, q = flat.iloc[0], int8.iloc[0]
    share = float(q[col] / f[col]) if f[col] > 0 else float("nan")
    smaller = float(f[bcol] / q[bcol])
    holds = share >= INT8_MIN_SHARE
    sentence = (f"int8 keeps {name} {q[col]:.3f} against exact search's {f[col]:.3f} ({_pct(share)} of it) in "
                f"{q[bcol]:,.0f} B per vector instead of {f[bcol]:,.0f} B ({smaller:.2f}× less memory, measured).")
    return Verdict(HOLDS if holds else FAILS, f"{_pct(share)} of exact {name} at {smaller:.2f}× less memory",
                   sentence, share, ("compression", {"budget": math.ceil(float(q[bcol]) * 10) / 10}))


def best_under_budgets(rows: pd.DataFrame) -> list[tuple[float, pd.Series | None]]:
    """For each of `BUDGET_FRACTIONS` of float32's bytes: the best configuration (by task quality) that fits."""
    ok = _ok(rows)
    col, _ = quality_column(ok)
    bcol = _bytes(ok)
    if col not in ok or bcol not in ok:
        return []
    ok = ok.dropna(subset=[col, bcol])
    if ok.empty or "d" not in ok:
        return []
    float32 = 4.0 * float(ok["d"].iloc[0])
    out = []
    for fraction in BUDGET_FRACTIONS:
        budget = float32 * fraction
        fit = ok[ok[bcol] <= budget]
        out.append((budget, None if fit.empty else fit.sort_values([col, bcol], ascending=[False, True]).iloc[0]))
    return out


def judge_budget(rows: pd.DataFrame, params: dict) -> Verdict:
    """Does the best method (by task quality) change with the memory budget?"""
    best = [(b, r) for b, r in best_under_budgets(rows) if r is not None]
    if len(best) < 2:
        return not_run("The saved sweep has configurations under fewer than two of the budgets.")
    col, name = quality_column(_ok(rows))
    methods = [str(r["method"]) for _, r in best]
    holds = len(set(methods)) >= 2
    parts = [f"under {b:,.0f} B: {r['label']} ({name} {r[col]:.3f})" for b, r in best]
    sentence = ("The best configuration by task quality " + ("changes" if holds else "stays the same") +
                " with the budget — " + "; ".join(parts) + ".")
    return Verdict(HOLDS if holds else FAILS, f"{len(set(methods))} different methods best under {len(best)} budgets",
                   sentence, float(len(set(methods))), ("compression", {"budget": round(best[1][0], 1)}))


# ---------------------------------------------------------------------------- LeanVec, BEBR (sweep)


def judge_leanvec(rows: pd.DataFrame, params: dict) -> Verdict:
    """PCA-reduced search with a full-precision re-rank against exact search: recall kept, and faster?"""
    ok = _ok(rows)
    if ok.empty or "method" not in ok:
        return not_run("The saved sweep has no rows that ran.")
    flat = ok[ok["method"] == "flat"]
    pca = ok[(ok["method"] == "pca") & (pd.to_numeric(ok.get("rerank"), errors="coerce") > 0)] \
        if "rerank" in ok else ok.iloc[0:0]
    if flat.empty or pca.empty or "qps" not in ok:
        return not_run("The saved sweep has no exact row and no PCA row with a re-rank.")
    f = flat.iloc[0]
    p = pca.sort_values(["recall_at_k", "qps"], ascending=False).iloc[0]
    speed = float(p["qps"] / f["qps"])
    holds = p["recall_at_k"] >= LEANVEC_MIN_RECALL and speed > 1.0
    k = int(p["k"]) if "k" in p else 10
    sentence = (f"{p['label']} reaches recall@{k} {p['recall_at_k']:.3f} at {p['qps']:,.0f} queries/s against exact "
                f"search's {f['qps']:,.0f} ({speed:.2f}×, same process)"
                + ("." if holds else f": {'slower than' if speed <= 1 else 'faster than'} exact search over "
                   f"{int(p['n']) if 'n' in p else 0:,} vectors" + ("" if speed > 1 else
                                                                     ", where exact search is already cheap") + "."))
    return Verdict(HOLDS if holds else FAILS, f"recall {p['recall_at_k']:.3f} at {speed:.2f}× exact's queries/s",
                   sentence, speed, ("compression", {"drill": str(p["label"])}))


def bits_recall(rows: pd.DataFrame) -> pd.Series:
    """Recall@k by bits per dimension of the training-free binary codes: sign bits (1) and BEBR-style
    residual codes (their ``bits``), without re-rank; centred codes preferred where both exist."""
    ok = _ok(rows)
    out: dict[int, float] = {}
    if "method" not in ok:
        return pd.Series(dtype=float)
    sign = ok[ok["method"] == "binary"]
    if "rerank" in sign:
        sign = sign[pd.to_numeric(sign["rerank"], errors="coerce").fillna(0) == 0]
    if not sign.empty:
        if "center" in sign and (sign["center"] == True).any():  # noqa: E712 (an object column)
            sign = sign[sign["center"] == True]  # noqa: E712
        out[1] = float(sign["recall_at_k"].max())
    bebr = ok[ok["method"] == "bebr"]
    if "bits" in bebr:
        for bits, part in bebr.groupby(pd.to_numeric(bebr["bits"], errors="coerce")):
            out[int(bits)] = float(part["recall_at_k"].max())
    return pd.Series(out, dtype=float).sort_index()


def judge_bebr(rows: pd.DataFrame, params: dict) -> Verdict:
    """More bits per dimension (training-free residual binarization) against 1-bit sign codes."""
    by_bits = bits_recall(rows)
    if len(by_bits) < 2 or by_bits.index[0] != 1:
        return not_run("The saved sweep needs 1-bit sign codes and BEBR rows with more bits per dimension.")
    r1, rmax = float(by_bits.iloc[0]), float(by_bits.iloc[-1])
    recovered = (rmax - r1) / (1.0 - r1) if r1 < 1 else 1.0
    rising = bool(np.all(np.diff(by_bits.to_numpy()) > 0))
    holds = rising and recovered >= BEBR_MIN_RECOVERED
    chain = " → ".join(f"{int(b)} bit{'s' if b > 1 else ''} {_pct(r)}" for b, r in by_bits.items())
    sentence = (f"Recall@10 without re-rank: {chain}; the most bits close {_pct(recovered)} of the 1-bit code's "
                "gap to exact search" + ("." if rising else ", but recall does not rise with every added bit."))
    drill = None
    ok = _ok(rows)
    top = ok[(ok["method"] == "bebr") & (pd.to_numeric(ok.get("bits"), errors="coerce") == by_bits.index[-1])] \
        if "bits" in ok else ok.iloc[0:0]
    if not top.empty:
        drill = str(top.iloc[0]["label"])
    return Verdict(HOLDS if holds else FAILS, chain, sentence, recovered,
                   ("compression", {"drill": drill} if drill else {}))


# ------------------------------------------------------------------------------- relevance filtering


def judge_cutoff(rows: pd.DataFrame, params: dict) -> Verdict:
    """The tightest global cut-off that keeps `CUTOFF_KEEP_RELEVANT` of the relevant results: what else passes?"""
    need = {"threshold", "relevant_kept", "other_kept", "relevant_total", "other_total"}
    if rows.empty or not need <= set(rows):
        return not_run("This workspace has no judged queries to filter (the dataset needs queries and qrels).")
    kept = rows["relevant_kept"] / rows["relevant_total"]
    higher_is_closer = str(rows["metric"].iloc[0]) != "l2" if "metric" in rows else True
    ok = rows[kept >= CUTOFF_KEEP_RELEVANT]
    if ok.empty:
        return not_run("No saved cut-off keeps enough of the relevant results.")
    row = ok.sort_values("threshold", ascending=not higher_is_closer).iloc[0]
    other = float(row["other_kept"] / row["other_total"])
    before = float(row["relevant_total"] / (row["relevant_total"] + row["other_total"]))
    after = float(row["relevant_kept"] / max(row["relevant_kept"] + row["other_kept"], 1))
    holds = other >= CUTOFF_BAD_OTHER
    k = int(row["k"]) if "k" in row else 10
    sentence = (f"Over {int(row.get('queries', 0)):,} judged queries' exact top-{k}, the global cut-off "
                f"{'≥' if higher_is_closer else '≤'} {row['threshold']:.3f} keeps "
                f"{_pct(row['relevant_kept'] / row['relevant_total'])} of the relevant results and "
                f"{_pct(other)} of the others: precision goes from {_pct(before)} to {_pct(after)}.")
    view = {"cutoff": float(round(row["threshold"], 3))}
    if "example_query" in row and isinstance(row["example_query"], str):
        view |= {"mode": "query", "query": row["example_query"]}
    return Verdict(HOLDS if holds else FAILS, f"{_pct(other)} of non-relevant results pass", sentence, other,
                   ("query", view))


# --------------------------------------------------------------------------- spaces: convergence, anisotropy


def judge_convergent(rows: pd.DataFrame, params: dict) -> Verdict:
    """Mean neighbour agreement of two encoders against chance and against all."""
    from core.analysis.spaces import chance_agreement

    if rows.empty or "agreement" not in rows or len(rows) < 3:
        return not_run("The saved comparison has no per-item agreement.")
    k = int(params.get("k", 10))
    mean, chance = float(rows["agreement"].mean()), chance_agreement(len(rows), k)
    holds = mean > CONVERGENT_OVER_CHANCE * chance and mean < CONVERGENT_MAX_SHARE
    a, b = params.get("space_a", "A"), params.get("space_b", "B")
    sentence = (f"{a} and {b} share on average {_pct(mean)} of each item's {k} nearest neighbours "
                f"({mean / chance:,.0f}× the {chance:.2%} chance gives)"
                + (", far from all of them." if mean < CONVERGENT_MAX_SHARE else ": nearly all of them."))
    return Verdict(HOLDS if holds else FAILS, f"{_pct(mean)} of neighbours shared", sentence, mean,
                   ("spaces", {"a_encoder": a, "b_encoder": b, "k": k}))


def judge_anisotropy(rows: pd.DataFrame, params: dict) -> Verdict:
    """Mean pairwise cosine of the workspace's space (0 for directions spread evenly)."""
    if rows.empty or "mean_cosine" not in rows:
        return not_run("The saved geometry run has no mean cosine.")
    row = rows.iloc[0]
    cos = float(row["mean_cosine"])
    holds = cos >= ANISOTROPY_MIN_COSINE
    sentence = (f"{row['space']} vectors have a mean pairwise cosine of {cos:.3f} over {int(row['n']):,} items "
                f"(evenly spread directions give about 0); the top principal component holds "
                f"{_pct(row['top1_variance'])} of the variance, the top ten {_pct(row['top10_variance'])}; "
                f"isotropy score (Mu & Viswanath) {row['isotropy']:.2f}, 1 = isotropic.")
    return Verdict(HOLDS if holds else FAILS, f"mean cosine {cos:.3f}", sentence, cos,
                   ("spaces", {"a_encoder": str(row["space"])}))


# ------------------------------------------------------------------------------------------ the claims

_budgets = ", ".join(f"1/{round(1 / f)}" for f in BUDGET_FRACTIONS)
CLAIMS: tuple[Claim, ...] = (
    Claim("order", "Elliott & Clark 2024 (ICTIR)", "The order vectors are inserted in shifts HNSW recall; "
          "descending local intrinsic dimension (LID) is best in most cases.",
          "up to ~12 points of recall@10", f"Holds when descending-LID order beats ascending at efSearch {ORDER_EF} "
          f"by more than {100 * ORDER_MIN_GAP:.1f} points and more than the spread of the random-order builds, on "
          "every backend.", "order", "order", judge_order),
    Claim("recall_vs_id", "Elliott & Clark 2024 (ICTIR)", "HNSW recall falls as the data's intrinsic dimension "
          "rises.", "a trend over synthetic data (no single number)",
          f"Holds when recall@10 at the smallest efSearch has a Spearman correlation ≤ {ID_MAX_SPEARMAN} with the "
          f"intrinsic dimension and is at least {100 * ID_MIN_DROP:.0f} points lower at the highest dimension, on "
          "every backend.", "order-vs-id", "vs_id", judge_recall_vs_id),
    Claim("int8", "Zhang et al. 2024 (PVLDB)", "Post-hoc int8 quantization keeps task quality at 4× less "
          "memory.", "4× less memory than float32", f"Holds when int8 keeps at least {INT8_MIN_SHARE:.0%} of exact "
          "search's task quality (nDCG@10 with judgments, else recall@10).", "sweep", "sweep", judge_int8),
    Claim("budget", "Zhang et al. 2024 (PVLDB)", "The best compression method depends on the memory budget.",
          "qualitative (depends on data and budget)", f"Holds when the best configuration by task quality under "
          f"budgets of {_budgets} of float32's bytes is not the same method at every budget.", "sweep", "sweep",
          judge_budget),
    Claim("leanvec", "LeanVec (Intel, TMLR 2024)", "Searching a PCA-reduced copy and re-ranking with full vectors "
          "keeps recall at a higher throughput.", "up to 3.7× search throughput",
          f"Holds when the best PCA + re-rank row reaches recall@10 ≥ {LEANVEC_MIN_RECALL} and more queries per "
          "second than exact search.", "sweep", "sweep", judge_leanvec),
    Claim("bebr", "BEBR (Tencent)", "More bits per dimension (recurrent binarization) recover the recall that "
          "1-bit codes lose.", "no recall figure we cite; 30–50% index cost saved in production",
          f"Holds when recall@10 rises with every added bit per dimension and the most bits close at least "
          f"{BEBR_MIN_RECOVERED:.0%} of the 1-bit sign code's gap to exact search (training-free codes, no "
          "re-rank).", "sweep", "sweep", judge_bebr),
    Claim("cutoff", "Relevance Filtering for EBR (Walmart)", "One global cosine cut-off filters badly: raw "
          "scores mean different things for different queries.", "qualitative (precision up, small recall loss "
          "with a query-dependent mapping)",
          f"Holds when the global cut-off that keeps {CUTOFF_KEEP_RELEVANT:.0%} of the relevant results in the "
          f"exact top-10 still keeps at least {CUTOFF_BAD_OTHER:.0%} of the non-relevant ones.", "cutoff", "cutoff",
          judge_cutoff),
    Claim("convergent", "Convergent Learning (Li, Yosinski et al. 2015)", "Two networks trained alike share only "
          "part of what they learn: here, two encoders share part of each item's neighbourhood.",
          "qualitative (units match one-to-one only in part)",
          f"Holds when the mean share of shared 10 nearest neighbours is more than {CONVERGENT_OVER_CHANCE:.0f}× "
          f"chance and below {CONVERGENT_MAX_SHARE:.0%}.", "compare", "spaces", judge_convergent),
    Claim("anisotropy", "DefSent+ / All-but-the-top", "Transformer sentence embeddings are anisotropic: they "
          "crowd into a narrow cone instead of spreading in every direction.", "qualitative (no single number)",
          f"Holds when the mean pairwise cosine of the workspace's vectors is at least {ANISOTROPY_MIN_COSINE}.",
          "geometry", "geometry", judge_anisotropy),
)
CLAIMS_BY_KEY = {c.key: c for c in CLAIMS}


# ---------------------------------------------------------------------------------- runs of a workspace


def claim_run(ws, claim: Claim, store=None):
    """The saved run a claim reads for workspace ``ws`` (the newest), or ``None``."""
    from core.experiments.compression import latest_sweep_run
    from core.experiments.evidence import latest_evidence_run
    from core.experiments.insertion_order import latest_order_run
    from core.experiments.recall_vs_id import latest_vs_id_run
    from core.store.runs import RunStore

    store = store or RunStore()
    if claim.kind == "order":
        return latest_order_run(ws, store)
    if claim.kind == "sweep":
        return latest_sweep_run(ws, store)
    if claim.kind == "order-vs-id":
        return latest_vs_id_run(store)
    if claim.kind == "compare":
        for run in store.list_runs(kind="compare", dataset=ws.dataset.name):
            if run.status == "done" and run.params.get("space_a") == ws.encoder_name \
                    and run.params.get("dataset_params", {}) == _asked_params(ws):
                return run
        return None
    return latest_evidence_run(ws, claim.kind, store)


def _asked_params(ws) -> dict:
    from core.experiments.demo import dataset_params

    return dataset_params(ws.dataset)


def judge_run(claim: Claim, run, rows: pd.DataFrame) -> Verdict:
    """``claim`` judged on ``run``'s rows; `NOT_RUN` (saying which run to start) without a run."""
    if run is None:
        return not_run(f"No saved {claim.kind} run on this workspace yet.")
    if claim.kind == "sweep":
        from core.experiments.compression import tidy_rows

        rows = tidy_rows(rows)
    verdict = claim.judge(rows, dict(run.params))
    if verdict.view is not None:
        page, fields = verdict.view
        run_field = {"order": "vsid_run" if claim.kind == "order-vs-id" else "run", "compression": "run"}.get(page)
        if run_field:
            verdict = Verdict(verdict.status, verdict.ours, verdict.sentence, verdict.value,
                              (page, {**fields, run_field: int(run.id)}))
    return verdict


def claim_run_ids(ws, store=None) -> dict[str, int | None]:
    """Each claim's run id on ``ws`` (``None`` when missing): what a cache of the verdicts is keyed by."""
    from core.store.runs import RunStore

    store = store or RunStore()
    return {claim.key: getattr(claim_run(ws, claim, store), "id", None) for claim in CLAIMS}


def check_claims(ws, store=None, run_ids: dict[str, int | None] | None = None
                 ) -> list[tuple[Claim, Verdict, int | None]]:
    """Every claim judged on ``ws``: ``(claim, verdict, run id or None)`` in `CLAIMS` order (``run_ids`` from
    `claim_run_ids`, found here when not given)."""
    from core.store.runs import RunStore

    store = store or RunStore()
    run_ids = claim_run_ids(ws, store) if run_ids is None else run_ids
    out, rows_of = [], {}
    for claim in CLAIMS:
        run = None if run_ids.get(claim.key) is None else store.get_run(int(run_ids[claim.key]))
        if run is not None and run.id not in rows_of:
            rows_of[run.id] = store.rows(run.id)
        out.append((claim, judge_run(claim, run, rows_of.get(run.id) if run else pd.DataFrame()),
                    None if run is None else run.id))
    return out
