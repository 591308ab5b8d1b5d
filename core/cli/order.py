"""`order`: the HNSW insertion-order study of a workspace, saved as a run."""

from __future__ import annotations

import argparse
import time

import pandas as pd

from core.cli.common import UserError, add_workspace_args, bar, command, open_workspace


def _int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise UserError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise UserError(f"{what} is empty")
    return values


def _order_args(p: argparse.ArgumentParser) -> None:
    from core.analysis.insertion_order import AUTO_PARALLEL_MIN_INSERTS, DEFAULT_ORDERS, ORDERS

    add_workspace_args(p)
    p.add_argument("--backend", choices=["faiss", "hnswlib", "both"], default=None,
                   help="HNSW library (default both; faiss with --rank-encoders)")
    p.add_argument("--orders", default=",".join(DEFAULT_ORDERS),
                   help=f"comma-separated, from {', '.join(ORDERS)} (default {','.join(DEFAULT_ORDERS)})")
    p.add_argument("--custom-order", default=None,
                   help="file with one column of dataset row ids 0..n-1 (.csv/.txt/.npy) for the custom order")
    p.add_argument("--seeds", type=int, default=3, help="builds per seeded order (random, category): seeds 0..N-1")
    p.add_argument("--M", type=int, default=16, help="HNSW M (default 16)")
    p.add_argument("--efc", type=int, default=128, help="efConstruction (default 128)")
    p.add_argument("--efs", default=None,
                   help="efSearch values, comma-separated (default 10,20,40,80,160; 10,40 with --rank-encoders)")
    p.add_argument("--k", type=int, default=10, help="recall@k (default 10)")
    p.add_argument("--queries", type=int, default=None,
                   help="number of queries (default: the dataset's, or 10%% held out, at most 1,000)")
    p.add_argument("--lid-k", type=int, default=100, help="neighbours per item for LID (default 100)")
    p.add_argument("--jobs", type=int, default=None,
                   help="builds at once, each in its own worker process on one thread (default: every core "
                        f"when the study inserts {AUTO_PARALLEL_MIN_INSERTS:,}+ vectors in all, else 1; "
                        "1 = one after another in this process)")
    p.add_argument("--out", default=None, help="write the rows to .csv, .parquet or .json")
    p.add_argument("--vs-id", action="store_true",
                   help="instead of a workspace: recall against intrinsic dimension on synthetic data "
                        "(Elliott & Clark), the dimensions given by --ks")
    p.add_argument("--ks", default="2,4,8,16,32,64,128,256", help="--vs-id: intrinsic dimensions to sweep")
    p.add_argument("--n", type=int, default=2000, help="--vs-id: points per set (default 2000)")
    p.add_argument("--dim", type=int, default=1024, help="--vs-id: ambient dimension (default 1024)")
    p.add_argument("--rank-encoders", action="store_true",
                   help="instead of the order study: rank encoders by nDCG@10 / MRR@10 with exact search and with "
                        "HNSW (M=16, efConstruction=128, efSearch 10 and 40 unless set), as Elliott & Clark did")
    p.add_argument("--encoders", default=None, metavar="A,B,...",
                   help="--rank-encoders: the spaces to rank, as on Compare spaces, separated by ';' or ',' "
                        "(e.g. 'minilm;minilm(pooling=cls);tfidf-svd'; default: minilm, its CLS, truncated and "
                        "all-but-the-top variants, tfidf-svd, glove-avg)")


@command("order", "HNSW insertion-order study: recall@k per order, backend and efSearch", _order_args)
def cmd_order(args: argparse.Namespace) -> int:
    from core.experiments.insertion_order import (
        OrderStudyParams,
        check_order_inputs,
        gap_sentence,
        order_gaps,
        order_run_params,
        order_study_for_workspace,
        prepare_order_study,
        read_order_column,
        sort_order_rows,
        study_workers,
    )
    from core.store.runs import RunStore, export_rows

    if args.vs_id:
        return _vs_id(args)
    if args.rank_encoders:
        return _rank_encoders(args)
    orders = tuple(o.strip() for o in args.orders.split(",") if o.strip())
    custom = read_order_column(args.custom_order) if args.custom_order else None
    if custom is not None and "custom" not in orders:
        orders = (*orders, "custom")
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    params = OrderStudyParams(
        backends=_backends(args.backend or "both"),
        orders=orders, seeds=tuple(range(args.seeds)), M=args.M, ef_construction=args.efc,
        ef_search=_int_list(args.efs or "10,20,40,80,160", "--efs"), k=args.k, n_queries=args.queries,
        lid_k=args.lid_k,
    )
    ws = open_workspace(args)
    check_order_inputs(ws, params, custom)  # fail before encoding or building anything
    update, close = bar(f"insertion order on {ws.dataset.name}")
    t0 = time.perf_counter()
    rows = []
    try:
        inputs = prepare_order_study(ws, params, custom_order=custom, progress=update)
        with RunStore().recording("order", ws.dataset.name, ws.encoder_name,
                                  order_run_params(ws, params, inputs)) as rec:
            for row in order_study_for_workspace(ws, params, update, rec, inputs=inputs, jobs=args.jobs):
                rows.append(row)
    finally:
        close()
    df = sort_order_rows(pd.DataFrame(rows), params)
    reused = int(df["reused"].sum()) // len(params.ef_search)
    built = len(params.configurations()) - reused
    workers = study_workers(params, inputs.n_base, args.jobs, n_builds=built)
    print(f"{ws.label}: {inputs.n_base:,} base vectors, {inputs.xq.shape[0]:,} queries ({inputs.source}); "
          f"{len(params.configurations())} builds"
          + (f" ({reused} reused from cache)" if reused else "")
          + (f", {workers} at a time" if workers > 1 else "")
          + f"; run #{rec.run_id} ({time.perf_counter() - t0:.1f} s)")
    table = df.pivot_table(index=["backend", "order"], columns="ef_search", values="recall_at_k", aggfunc="mean")
    print(f"mean recall@{params.k} over seeds:")
    print(table.map(lambda v: f"{v:.3f}").to_string())
    gaps = order_gaps(df)
    for backend in params.backends:
        sentence = gap_sentence(gaps, backend)
        if sentence:
            print(sentence)
    for note in sorted({n for n in df["note"] if n}):
        print(f"note: {note}")
    if args.out:
        path = export_rows(df, args.out)
        print(f"wrote {len(df)} rows to {path}")
    return 0


def _vs_id(args: argparse.Namespace) -> int:
    from core.experiments.recall_vs_id import (
        VS_ID_KIND,
        RecallVsIDParams,
        recall_vs_id_study,
        vs_id_sentence,
        vs_id_table,
    )
    from core.store.runs import RunStore, export_rows

    params = RecallVsIDParams(
        ks=_int_list(args.ks, "--ks"), n=args.n, dim=args.dim, n_queries=args.queries or 200,
        backends=_backends(args.backend or "both"), M=args.M,
        ef_construction=args.efc, ef_search=_int_list(args.efs or "10,20,40,80,160", "--efs"), k=args.k,
    )
    update, close = bar("recall against intrinsic dimension")
    t0 = time.perf_counter()
    try:
        with RunStore().recording(VS_ID_KIND, "synthetic", "given-vectors", params.as_dict()) as rec:
            rows = pd.DataFrame(list(recall_vs_id_study(params, update, rec)))
    finally:
        close()
    print(f"{len(params.ks)} intrinsic dimensions x {len(params.backends)} backend(s), {params.n:,} points in "
          f"{params.dim} dims each, {params.n_queries} queries; run #{rec.run_id} ({time.perf_counter() - t0:.1f} s)")
    print(vs_id_table(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(vs_id_sentence(rows))
    if args.out:
        path = export_rows(rows, args.out)
        print(f"wrote {len(rows)} rows to {path}")
    return 0


def _backends(choice: str) -> tuple[str, ...]:
    return ("faiss", "hnswlib") if choice == "both" else (choice,)


def _rank_encoders(args: argparse.Namespace) -> int:
    from core.experiments.encoder_ranking import (
        DEFAULT_SPACES,
        KIND,
        RankingParams,
        check_ranking_inputs,
        rank_encoders,
        ranking_run_params,
        ranking_sentences,
        ranking_table,
        split_spaces,
    )
    from core.store.runs import RunStore, export_rows

    spaces = split_spaces(args.encoders) if args.encoders is not None else list(DEFAULT_SPACES)
    if args.encoder:
        raise UserError("--rank-encoders takes its spaces from --encoders A,B,... (not --encoder)")
    params = RankingParams(spaces=tuple(spaces), backends=_backends(args.backend or "faiss"), M=args.M,
                           ef_construction=args.efc, ef_search=_int_list(args.efs or "10,40", "--efs"))
    ws = check_ranking_inputs(open_workspace(args).dataset, params)  # fail before encoding anything
    update, close = bar(f"ranking {len(params.spaces)} spaces on {ws.dataset.name}")
    t0 = time.perf_counter()
    try:
        with RunStore().recording(KIND, ws.dataset.name, ", ".join(params.spaces),
                                  ranking_run_params(ws, params)) as rec:
            df = pd.DataFrame(list(rank_encoders(ws.dataset, params, progress=update, recorder=rec)))
    finally:
        close()
    print(f"{ws.dataset.name}: {len(params.spaces)} spaces, {int(df['n_queries'].iloc[0]):,} judged queries, "
          f"HNSW M={params.M} efConstruction={params.ef_construction}; run #{rec.run_id} "
          f"({time.perf_counter() - t0:.1f} s)")
    for metric, name in (("ndcg_at_10", "nDCG@10"), ("mrr_at_10", "MRR@10")):
        table = ranking_table(df, metric)
        print(f"\nranked by {name}:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for sentence in ranking_sentences(df, metric):
            print(sentence)
    if args.out:
        path = export_rows(df, args.out)
        print(f"wrote {len(df)} rows to {path}")
    return 0
