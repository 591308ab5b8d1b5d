"""`datasets`, `encode` and `prepare`: what is available, encoding a workspace, the one-time demo set-up."""

from __future__ import annotations

import argparse
import sys
import time

from core import config
from core.cli.common import WARMERS, add_ray_args, add_workspace_args, bar, command, open_workspace


def _encode_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    add_ray_args(p)
    p.add_argument("--actors", type=int, default=1, help="Ray encoder actors (with --ray)")


# -- commands --------------------------------------------------------------------
def _datasets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoders", action="store_true", help="also list the encoders")


@command("datasets", "list the built-in datasets with their sizes", _datasets_args)
def cmd_datasets(args: argparse.Namespace) -> int:
    from core.data.builtin import list_datasets

    for info in list_datasets():
        print(f"{info.name:<16} {info.kind:<8} ~{info.approx_n:>9,} items  {info.description}")
    if args.encoders:
        from core.encode.registry import list_encoders

        print()
        for enc in list_encoders():
            print(f"{enc['name']:<16} {enc['description']}")
    return 0


@command("encode", "encode a dataset with an encoder and cache the embeddings", _encode_args)
def cmd_encode(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    if ws.dataset.kind == "vectors":
        x = ws.embeddings()
        print(f"{ws.dataset.name}: vector dataset, {x.shape[0]:,} x {x.shape[1]} used as given; nothing to encode")
        return 0
    if ws.has_embeddings():
        t0 = time.perf_counter()
        update, close = bar(f"encode {ws.dataset.name} with {ws.encoder_name}")
        try:
            x = ws.embeddings(progress=update)
        finally:
            close()
        notices = ws.cache.take_notices()
        for notice in notices:
            print(notice.replace("deleted and recomputed", "re-encoded"), file=sys.stderr)
        verb = "re-encoded" if notices else "cached: loaded"
        print(f"{verb} {x.shape[0]:,} x {x.shape[1]} in {time.perf_counter() - t0:.2f} s "
              f"({ws.embeddings_path()})")
        return 0
    use_ray = args.ray or args.ray_address
    where = "on Ray" if use_ray else "in-process"
    update, close = bar(f"encode {ws.dataset.name} with {ws.encoder_name} ({where})")
    t0 = time.perf_counter()
    try:
        if use_ray:
            from core.scale.encode import encode_with_ray

            x = encode_with_ray(ws, address=args.ray_address, actors=args.actors, progress=update)
        else:
            x = ws.embeddings(progress=update)
    finally:
        close()
    seconds = time.perf_counter() - t0
    print(f"encoded {x.shape[0]:,} passages to {x.shape[1]}-d in {seconds:.1f} s "
          f"({x.shape[0] / seconds:.1f} passages/s) -> {ws.embeddings_path()}")
    return 0


def _prepare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--skip-encode", action="store_true", help="only build the dataset, do not encode it")
    p.add_argument("--skip-demo", action="store_true",
                   help="do not compute the demo's map, ID estimates, order study and quick sweep")


@command("prepare", "one-time set-up: build the demo corpus, encode it, warm compiled caches", _prepare_args)
def cmd_prepare(args: argparse.Namespace) -> int:
    from core.data.builtin import DEFAULT_DATASET
    from core.workspace import Workspace

    t0 = time.perf_counter()
    ws = Workspace.open(DEFAULT_DATASET)
    print(f"demo corpus {ws.dataset.name}: {ws.dataset.n:,} passages, {ws.dataset.n_labels} categories, "
          f"{0 if ws.dataset.queries is None else len(ws.dataset.queries):,} queries "
          f"({time.perf_counter() - t0:.1f} s)")
    if not args.skip_encode:
        if ws.has_embeddings():
            print(f"embeddings ({ws.encoder_name}) already cached at {ws.embeddings_path()}")
        else:
            update, close = bar(f"encode {ws.dataset.name} with {ws.encoder_name} (one time)")
            try:
                ws.embeddings(progress=update)
                ws.query_embeddings(progress=update)
            finally:
                close()
            print(f"embeddings cached at {ws.embeddings_path()}")
    for warm in WARMERS:
        warm()
    if not args.skip_encode and not args.skip_demo:
        from core.experiments.demo import prepare_demo

        print("saving the demo's results, so every page opens on one (once):")
        prepare_demo(ws, bar=bar)
    print(f"ready in {time.perf_counter() - t0:.1f} s; data under {config.home()}")
    return 0
