"""Experiment search through the Python API, on both backends: the embedded
store and a real Chroma server (started by conftest_search)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import conftest_search
import numpy as np
import pytest
from structure_net_data import errors
from structure_net_data.search import (
    ArchitectureEmbedder,
    ChromaConfig,
    ExperimentEmbedder,
    ExperimentSearcher,
    SearchResults,
    embed_architecture,
    embed_experiment,
    embed_hypothesis,
    get_chroma_client,
    reset_chroma_client,
)

chroma_server = conftest_search.chroma_server

_names = itertools.count()


@pytest.fixture(autouse=True)
def _search_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The default store lives in the test's folder; shared clients are forgotten afterwards."""
    home = tmp_path / "chroma-default"
    monkeypatch.setenv("SND_CHROMA_DIR", str(home))
    reset_chroma_client()
    yield home
    reset_chroma_client()


@pytest.fixture(params=["embedded", "chroma"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaConfig:
    """A fresh store of each backend."""
    name = f"exp_{next(_names)}_{request.node.name[:20].strip('[]_-') or 'x'}".replace("[", "_").replace("]", "_")
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("_.-")
    if request.param == "embedded":
        return ChromaConfig(persist_directory=str(tmp_path / "store"), collection_name=name, allow_reset=True)
    server = request.getfixturevalue("chroma_server")
    return ChromaConfig(host=server.host, port=server.port, collection_name=name, allow_reset=True, batch_size=7)


def make_experiment(i: int, rng: np.random.Generator, **over) -> dict:
    widths = [784, int(rng.integers(32, 1024)), int(rng.integers(16, 256)), 10]
    exp = {
        "experiment_id": f"exp_{i:03d}",
        "experiment_type": "training",
        "architecture": widths,
        "final_performance": {"accuracy": round(float(rng.uniform(0.5, 0.99)), 4), "loss": float(rng.uniform(0.01, 2))},
        "config": {"dataset": ["mnist", "cifar10"][i % 2], "epochs": int(rng.integers(5, 50)), "lr": 10.0 ** -(i % 4)},
        "training_history": [{"epoch": e, "val_accuracy": float(rng.uniform(0.3, 0.99))} for e in range(6)],
        "hypothesis_id": f"h{i % 3}",
    }
    exp.update(over)
    return exp


# ---- the guide's snippets, verbatim ------------------------------------------------


def test_guide_verify_installation_snippet(capsys: pytest.CaptureFixture[str]) -> None:
    from data_factory.search import get_chroma_client

    # Verify ChromaDB
    client = get_chroma_client()
    print(f"ChromaDB collections: {client.count()} experiments indexed")
    assert capsys.readouterr().out == "ChromaDB collections: 0 experiments indexed\n"


def test_guide_basic_and_advanced_search_snippets(_search_env: Path) -> None:
    from data_factory.search import ExperimentSearcher

    searcher = ExperimentSearcher()

    # Index a new experiment
    searcher.index_experiment(
        experiment_id="exp_001",
        experiment_data={
            'architecture': [784, 512, 256, 10],
            'final_performance': {'accuracy': 0.95},
            'config': {'dataset': 'mnist', 'epochs': 20}
        }
    )  # fmt: skip

    # Search for similar experiments
    results = searcher.search_similar_experiments(
        query_experiment={'architecture': [784, 500, 250, 10]},
        n_results=5
    )  # fmt: skip

    # Search by performance criteria
    high_performers = searcher.search_by_performance(
        min_accuracy=0.90,
        max_parameters=1_000_000,
        dataset='mnist'
    )  # fmt: skip

    # Search by architecture pattern
    similar_archs = searcher.search_by_architecture(
        architecture=[784, 512, 256, 128, 10],
        n_results=10
    )  # fmt: skip

    # Find experiments for a specific hypothesis
    hypothesis_results = searcher.search_by_hypothesis(
        hypothesis_id="canonical_operators",
        n_results=20
    )  # fmt: skip

    my_experiment = {"architecture": [3072, 512, 10], "config": {"dataset": "cifar10"}}
    # Complex metadata filtering
    filtered_results = searcher.search_similar_experiments(
        query_experiment=my_experiment,
        filters={
            'dataset': 'cifar10',
            'accuracy': {'$gte': 0.85},
            'parameters': {'$lte': 5_000_000}
        }
    )  # fmt: skip

    assert results.ids() == ["exp_001"] and -1 <= results[0]["similarity_score"] <= 1
    assert high_performers.ids() == ["exp_001"]  # 784*512+512+512*256+256+256*10+10 = 535,818 parameters
    assert high_performers[0]["parameters"] == 535_818
    assert similar_archs.ids() == ["exp_001"] and similar_archs[0]["similarity_score"] > 0.95
    assert hypothesis_results == [] and filtered_results == []
    # The store is on disk where the config said, not relative to the working directory.
    assert (_search_env / "structure_net_experiments.sqlite3").exists()


def test_guide_search_strategy_and_troubleshooting_snippets(tmp_path: Path) -> None:
    from data_factory.search import ExperimentSearcher

    @dataclasses.dataclass
    class Result:
        experiment_id: str
        accuracy: float

        def to_dict(self) -> dict:
            return {"final_performance": {"accuracy": self.accuracy}, "architecture": [784, 64, 10]}

    @dataclasses.dataclass
    class Exp:
        id: str
        data: dict

    def run_experiment(*args: object) -> Result:
        return Result("run_1", 0.9)

    searcher = ExperimentSearcher()
    # Index experiments immediately after completion
    result = run_experiment(...)
    searcher.index_experiment(
        experiment_id=result.experiment_id,
        experiment_data=result.to_dict()
    )  # fmt: skip

    # Batch index for efficiency
    experiments = [
        Exp(f"b{i}", {"final_performance": {"accuracy": i / 10}}) for i in range(5)
    ]  # List of completed experiments
    searcher.index_experiments_batch([
        (exp.id, exp.data) for exp in experiments
    ])  # fmt: skip
    assert searcher.count() == 6

    source = """
from data_factory.search import ChromaConfig, reset_chroma_client

# Reset client
reset_chroma_client()

# Use custom configuration
config = ChromaConfig(
    persist_directory="/custom/chroma/path",
    collection_name="my_experiments"
)
searcher = ExperimentSearcher(config)
"""
    scope: dict = {"ExperimentSearcher": ExperimentSearcher}
    exec(source.replace("/custom/chroma/path", str(tmp_path / "custom")), scope)
    custom = scope["searcher"]
    assert custom.count() == 0 and custom.client is not searcher.client
    assert (tmp_path / "custom" / "my_experiments.sqlite3").exists()
    # Verify ChromaDB status
    client = get_chroma_client()
    assert client.count() == 6


# ---- behaviour on both backends ------------------------------------------------------


def test_index_get_reindex_delete(config: ChromaConfig) -> None:
    searcher = ExperimentSearcher(config)
    exp = make_experiment(1, np.random.default_rng(0))
    exp["growth_history"] = [{"growth_occurred": True, "layer": 2}, {"growth_occurred": False}]
    exp["notes"] = "ünïcode ✓"
    searcher.index_experiment("e1", exp, additional_metadata={"tag": "first", "run": {"seed": 3}})
    assert searcher.count() == 1
    # The whole original document comes back, nested values and all.
    assert searcher.get_experiment("e1") == exp
    meta = searcher.get_experiment_metadata("e1")
    assert meta["tag"] == "first" and meta["run.seed"] == 3 and meta["growth_events"] == 2 and meta["has_growth"]
    assert meta["config.lr"] == exp["config"]["lr"] and isinstance(meta["config.lr"], float)
    assert meta["config.epochs"] == exp["config"]["epochs"] and isinstance(meta["config.epochs"], int)
    # Re-indexing replaces (the original silently kept the first version).
    exp2 = dict(exp, final_performance={"accuracy": 0.5})
    searcher.index_experiment("e1", exp2)
    assert searcher.count() == 1
    assert searcher.get_experiment("e1") == exp2
    meta = searcher.get_experiment_metadata("e1")
    assert meta["accuracy"] == 0.5 and "tag" not in meta and "loss" not in meta
    assert searcher.search_by_performance(min_accuracy=0.6).ids() == []
    searcher.delete_experiment("e1")
    searcher.delete_experiment("never-indexed")
    assert searcher.count() == 0 and searcher.get_experiment("e1") is None
    assert searcher.search_by_architecture(exp["architecture"]).ids() == []


def test_search_by_performance_is_the_true_top_n(config: ChromaConfig) -> None:
    rng = np.random.default_rng(1)
    searcher = ExperimentSearcher(config)
    exps = [make_experiment(i, rng) for i in range(60)]
    # Tiny networks with top accuracy: far from the original's synthetic query vector.
    exps[7]["architecture"] = [4, 2]
    exps[7]["final_performance"]["accuracy"] = 0.999
    searcher.index_experiments_batch([(e["experiment_id"], e) for e in exps])
    got = searcher.search_by_performance(min_accuracy=0.6, max_parameters=400_000, dataset="cifar10", n_results=5)

    def params(e: dict) -> int:
        w = e["architecture"]
        return sum(a * b + b for a, b in itertools.pairwise(w))

    matches = [
        e
        for e in exps
        if e["final_performance"]["accuracy"] >= 0.6 and params(e) <= 400_000 and e["config"]["dataset"] == "cifar10"
    ]
    matches.sort(key=lambda e: (-e["final_performance"]["accuracy"], e["experiment_id"]))
    assert got.ids() == [e["experiment_id"] for e in matches[:5]]
    assert got[0]["id"] == "exp_007" and got[0]["similarity_score"] is None
    assert [r["accuracy"] for r in got] == sorted((r["accuracy"] for r in got), reverse=True)
    everything = searcher.search_by_performance(n_results=None)
    assert len(everything) == 60


def test_search_by_hypothesis_returns_all(config: ChromaConfig) -> None:
    rng = np.random.default_rng(2)
    searcher = ExperimentSearcher(config)
    batch = [(f"x{i:03d}", make_experiment(i, rng, hypothesis_id="many")) for i in range(130)]
    batch += [(f"y{i}", make_experiment(i, rng, hypothesis_id="other")) for i in range(5)]
    searcher.index_experiments_batch(batch)
    hits = searcher.search_by_hypothesis("many")
    assert len(hits) == 130  # the original stopped at 100 without a word
    assert {r["hypothesis_id"] for r in hits} == {"many"}
    accs = [r["accuracy"] for r in hits]
    assert accs == sorted(accs, reverse=True)
    assert len(searcher.search_by_hypothesis("many", n_results=20)) == 20
    assert searcher.search_by_hypothesis("none-such") == []


def test_search_by_architecture_uses_architecture_vectors(config: ChromaConfig) -> None:
    searcher = ExperimentSearcher(config)
    archs = {
        "pyramid": [784, 512, 256, 128, 10],
        "narrow": [784, 32, 10],
        "hourglass": [784, 64, 16, 64, 784],
        "wide": [3072, 4096, 4096, 100],
    }
    for name, arch in archs.items():
        # Very different performance: an experiment-vector search would be pulled by it.
        acc = {"pyramid": 0.1, "narrow": 0.99, "hourglass": 0.5, "wide": 0.7}[name]
        searcher.index_experiment(name, {"architecture": arch, "final_performance": {"accuracy": acc}})
    searcher.index_experiment("no_arch", {"final_performance": {"accuracy": 0.8}})
    for name, arch in archs.items():
        hits = searcher.search_by_architecture(arch, n_results=10)
        assert hits[0]["id"] == name and hits[0]["similarity_score"] == pytest.approx(1.0, abs=1e-5)
        assert "no_arch" not in hits.ids() and len(hits) == 4
        expected = ArchitectureEmbedder().embed(arch)
        for h in hits:
            other = ArchitectureEmbedder().embed(archs[h["id"]])
            assert h["similarity_score"] == pytest.approx(float(expected @ other), abs=1e-5)
    # Dict and object forms embed the same way as the list.
    assert searcher.search_by_architecture({"layers": archs["narrow"]})[0]["id"] == "narrow"
    assert searcher.search_by_architecture(type("A", (), {"layers": archs["wide"]})())[0]["id"] == "wide"
    assert searcher.search_by_architecture(archs["narrow"], filters={"accuracy": {"$lt": 0.9}})[0]["id"] != "narrow"
    with pytest.raises(errors.InvalidArgumentError, match="no layers"):
        searcher.search_by_architecture([])


def test_similar_experiments_and_filters(config: ChromaConfig) -> None:
    rng = np.random.default_rng(3)
    searcher = ExperimentSearcher(config)
    exps = [make_experiment(i, rng) for i in range(40)]
    searcher.index_experiments_batch([(e["experiment_id"], e) for e in exps])
    # The guide's multi-key filter is an implicit $and, on both backends.
    flt = {"dataset": "cifar10", "accuracy": {"$gte": 0.7}, "parameters": {"$lte": 500_000}}
    hits = searcher.search_similar_experiments(exps[1], n_results=40, filters=flt)
    assert hits and all(h["dataset"] == "cifar10" and h["accuracy"] >= 0.7 and h["parameters"] <= 500_000 for h in hits)
    expected = {
        e["experiment_id"]
        for e in exps
        if e["config"]["dataset"] == "cifar10"
        and e["final_performance"]["accuracy"] >= 0.7
        and sum(a * b + b for a, b in itertools.pairwise(e["architecture"])) <= 500_000
    }
    assert set(hits.ids()) == expected
    # Nearest first, scores are cosine similarities of the embeddings.
    q = embed_experiment(exps[1])
    scores = [h["similarity_score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    for h in hits:
        e = next(x for x in exps if x["experiment_id"] == h["id"])
        assert h["similarity_score"] == pytest.approx(float(q @ embed_experiment(e)), abs=1e-5)
    if exps[1]["experiment_id"] in expected:
        assert hits[0]["id"] == exps[1]["experiment_id"]
    # Dotted config keys, ints vs floats, $in, $or, where_document.
    assert set(searcher.search_similar_experiments(exps[0], 40, {"config.lr": 0.01}).ids()) == {
        e["experiment_id"] for e in exps if e["config"]["lr"] == 0.01
    }
    assert set(searcher.search_similar_experiments(exps[0], 40, {"config.epochs": {"$gt": 30.5}}).ids()) == {
        e["experiment_id"] for e in exps if e["config"]["epochs"] > 30.5
    }
    assert set(searcher.search_similar_experiments(exps[0], 40, {"hypothesis_id": {"$in": ["h0", "h2"]}}).ids()) == {
        e["experiment_id"] for e in exps if e["hypothesis_id"] in ("h0", "h2")
    }
    either = {"$or": [{"experiment_id": "exp_003"}, {"experiment_id": "exp_004"}]}
    assert set(searcher.search_similar_experiments(exps[0], 40, either).ids()) == {"exp_003", "exp_004"}
    docs = searcher.search_similar_experiments(exps[0], 40, where_document={"$contains": '"dataset":"mnist"'})
    assert set(docs.ids()) == {e["experiment_id"] for e in exps if e["config"]["dataset"] == "mnist"}
    # Results as a DataFrame.
    df = hits.to_pandas()
    assert list(df["id"]) == hits.ids() and {"similarity_score", "accuracy", "config.lr"} <= set(df.columns)
    assert SearchResults().to_pandas().empty


def test_metadata_types_and_bad_values(config: ChromaConfig) -> None:
    searcher = ExperimentSearcher(config)
    exp = {
        "architecture": [10, 5],
        "config": {"dataset": "mnist", "flag": True, "layers": [1, 2], "nested": {"a": {"b": 1.0}}, "none": None},
        "final_performance": {"accuracy": np.float32(0.75), "loss": np.float64(0.5)},
        "model_parameters": np.int64(1234),
    }
    searcher.index_experiment("typed", exp, additional_metadata={"count": np.int32(3), "ratio": 2.0})
    meta = searcher.get_experiment_metadata("typed")
    assert meta["config.flag"] is True and meta["config.layers"] == "[1, 2]" and "config.none" not in meta
    assert meta["config.nested.a.b"] == 1.0 and isinstance(meta["config.nested.a.b"], float)
    assert meta["parameters"] == 1234 and meta["count"] == 3 and isinstance(meta["ratio"], float)
    assert searcher.search_by_performance(max_parameters=1234).ids() == ["typed"]
    assert searcher.search_similar_experiments(exp, 5, {"config.flag": True}).ids() == ["typed"]
    assert searcher.search_similar_experiments(exp, 5, {"config.flag": 1}).ids() == []  # bools are not ints
    assert searcher.search_similar_experiments(exp, 5, {"ratio": 2}).ids() == ["typed"]  # 2 == 2.0
    # NaN/inf never become strings: a clear error names the value.
    with pytest.raises(errors.InvalidArgumentError, match=r"final_performance\.loss"):
        searcher.index_experiment("nan", {"final_performance": {"loss": float("nan")}})
    with pytest.raises(errors.InvalidArgumentError, match="infinity"):
        searcher.index_experiment("inf", {}, additional_metadata={"x": float("inf")})
    with pytest.raises(errors.InvalidArgumentError, match="reserved"):
        searcher.index_experiment("hash", {}, additional_metadata={"#x": 1})
    assert searcher.count() == 1


def test_bad_requests(config: ChromaConfig) -> None:
    searcher = ExperimentSearcher(config)
    searcher.index_experiment("a", {"architecture": [4, 2], "final_performance": {"accuracy": 0.5}})
    q = {"architecture": [4, 2]}
    for flt, msg in [
        ({"accuracy": {"$foo": 1}}, "unknown operator"),
        ({"accuracy": {"$gt": "high"}}, "int or float"),
        ({"$xor": [{"a": 1}]}, "top-level operator"),
        ({"accuracy": {"$in": []}}, "non-empty list"),
        ({"accuracy": {"$in": [[1]]}}, "operand"),
    ]:
        with pytest.raises(errors.InvalidArgumentError, match=msg):
            searcher.search_similar_experiments(q, filters=flt)
    with pytest.raises(errors.InvalidArgumentError, match="n_results"):
        searcher.search_similar_experiments(q, n_results=0)
    with pytest.raises(errors.InvalidArgumentError, match="dict"):
        searcher.search_similar_experiments(q, filters=[("a", 1)])
    with pytest.raises(errors.InvalidArgumentError, match="layer 1"):
        searcher.index_experiment("bad", {"architecture": [784, "conv"]})
    with pytest.raises(errors.InvalidArgumentError, match="experiment_id"):
        searcher.index_experiments_batch([(1, {})])
    with pytest.raises(errors.InvalidArgumentError):
        searcher.index_experiments_batch(["just-an-id"])
    with pytest.raises(errors.InvalidArgumentError, match="empty"):
        searcher.index_experiment("", {})
    with pytest.raises(errors.InvalidArgumentError, match="duplicate ids"):
        searcher.index_experiments_batch([("d", {}), ("e", {}), ("d", {})])
    searcher.index_experiments_batch([])  # an empty batch is a no-op
    assert searcher.count() == 1
    # Odd ids round-trip.
    odd = ["with space", "slash/back\\", "quote\"'", "ünï-✓-😀", "percent%20?&=#", "$eq", ".."]
    searcher.index_experiments_batch([(i, {"architecture": [4, 3], "n": n}) for n, i in enumerate(odd)])
    for n, i in enumerate(odd):
        assert searcher.get_experiment(i) == {"architecture": [4, 3], "n": n}
    assert searcher.count() == 1 + len(odd)
    # Raw vectors: dimension mismatch and duplicates are refused.
    client = searcher.client
    with pytest.raises(errors.InvalidArgumentError, match="expects 384"):
        client.add_experiment("v", np.ones(5))
    with pytest.raises(errors.InvalidArgumentError, match="duplicate"):
        client.add_experiments_batch(["v", "v"], np.ones((2, 384)))
    with pytest.raises(errors.InvalidArgumentError, match="finite"):
        client.add_experiment("v", np.full(384, np.nan))


def test_raw_client_api(config: ChromaConfig) -> None:
    client = get_chroma_client(config)
    rng = np.random.default_rng(4)
    vecs = rng.normal(size=(20, 384)).astype(np.float32)
    ids = [f"r{i}" for i in range(20)]
    client.add_experiments_batch(ids, vecs, [{"i": i, "even": i % 2 == 0, "cfg": {"lr": 0.1}} for i in range(20)])
    assert client.count() == 20
    res = client.search_similar(vecs[3], n_results=3, where={"even": False})
    assert res["ids"][0] == "r3" and res["distances"][0] == pytest.approx(0, abs=1e-5)
    assert all(m["i"] % 2 == 1 and m["cfg.lr"] == 0.1 for m in res["metadatas"])
    rec = client.get_experiment("r5")
    assert rec["metadata"]["i"] == 5 and np.allclose(rec["embedding"], vecs[5], rtol=2e-7, atol=0)
    client.update_experiment("r5", metadata={"note": "x"}, document="five")
    rec = client.get_experiment("r5")
    assert rec["metadata"]["note"] == "x" and rec["metadata"]["i"] == 5 and rec["document"] == "five"
    with pytest.raises(errors.NotFoundError):
        client.update_experiment("nope", metadata={"a": 1})
    assert client.get(ids=["r9", "zz", "r1"])["ids"] == ["r9", "r1"]
    client.delete(where={"i": {"$gte": 10}})
    assert client.count() == 10
    client.reset_collection()
    assert client.count() == 0
    assert client.get_experiment("r1") is None


def test_reset_needs_allow_reset(tmp_path: Path) -> None:
    searcher = ExperimentSearcher(ChromaConfig(persist_directory=str(tmp_path / "s")))
    searcher.index_experiment("a", {})
    with pytest.raises(ValueError, match="allow_reset"):
        searcher.reset()
    assert searcher.count() == 1


# ---- clients, configs, lifecycle --------------------------------------------------------


def test_get_chroma_client_honours_each_config(tmp_path: Path) -> None:
    a = ChromaConfig(persist_directory=str(tmp_path / "a"))
    b = ChromaConfig(persist_directory=str(tmp_path / "b"))
    ca, cb = get_chroma_client(a), get_chroma_client(b)
    assert ca is not cb  # the original returned the first client for every config
    assert get_chroma_client(ChromaConfig(persist_directory=str(tmp_path / "a"))) is ca
    assert get_chroma_client({"persist_directory": str(tmp_path / "a")}) is ca
    ExperimentSearcher(a).index_experiment("only-in-a", {})
    assert ca.count() == 1 and cb.count() == 0
    reset_chroma_client()
    fresh = get_chroma_client(a)
    assert fresh is not ca and fresh.count() == 1
    assert ca.count() == 1  # clients handed out before the reset keep working
    with pytest.raises(errors.InvalidArgumentError, match="unknown ChromaConfig fields"):
        get_chroma_client({"persist_dir": "x"})


def test_default_directory_is_not_cwd_relative(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SND_CHROMA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    client = get_chroma_client()
    assert client.info()["config"]["persist_directory"] == str(tmp_path / "cache" / "structure-net-data" / "chroma")
    assert not (tmp_path / "data").exists()


def test_client_close_is_idempotent(tmp_path: Path) -> None:
    client = get_chroma_client(ChromaConfig(persist_directory=str(tmp_path)))
    client.close()
    client.close()
    with pytest.raises(errors.ClosedError):
        client.count()
    # The shared slot reopens after a close.
    assert get_chroma_client(ChromaConfig(persist_directory=str(tmp_path))).count() == 0


def test_pydantic_and_dataclass_experiments(tmp_path: Path) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Perf(pydantic.BaseModel):
        accuracy: float

    class Exp(pydantic.BaseModel):
        architecture: list[int]
        final_performance: Perf

    @dataclasses.dataclass
    class DExp:
        architecture: list
        final_performance: dict

    searcher = ExperimentSearcher(ChromaConfig(persist_directory=str(tmp_path)))
    searcher.index_experiment("p", Exp(architecture=[8, 4], final_performance=Perf(accuracy=0.8)))
    searcher.index_experiment("d", DExp([8, 4], {"accuracy": 0.7}))
    assert searcher.get_experiment("p") == {"architecture": [8, 4], "final_performance": {"accuracy": 0.8}}
    assert searcher.search_by_performance().ids() == ["p", "d"]


# ---- embedders: the original's verified vectors -------------------------------------------


def test_embedder_golden_vectors() -> None:
    v = ExperimentEmbedder().embed(
        {
            "architecture": [784, 256, 128, 10],
            "config": {"lr": 0.001, "batch_size": 128, "epochs": 50},
            "final_performance": {"accuracy": 0.95, "loss": 0.15},
        }
    )
    want = [0.132685, 0.000078, 0.013268, 0.132685, 0.195378, 0.196175, 0.520124, 0.006634, 0.630253, 0.009951]
    want += [0, 0, 0, 0.331712, 0.331712]
    assert v.dtype == np.float32 and v.shape == (384,)
    np.testing.assert_allclose(v[:15], want, atol=2e-6)
    assert not v[15:].any()
    a = embed_architecture([784, 256, 128, 10])
    np.testing.assert_allclose(
        a[:16],
        [0.130592, 0.192296, 0.19308, 0.51192, 0.00653, 0.051192, 0.00653, 0.196901, 0.113049, 0.051012]
        + [0.326479, 0.106606, 0.213211, 0.652959, 0, 0],
        atol=2e-6,
    )
    assert ArchitectureEmbedder(16).embed([784, 256, 128, 10]).shape == (16,)


def test_embedders_handle_nulls_zero_widths_and_objects() -> None:
    for exp in [{}, {"final_performance": {"accuracy": None}}, {"config": None, "training_history": [None]}]:
        assert np.isfinite(embed_experiment(exp)).all()
    for arch in ([0, 0, 0], [10, 0, 5], [784, 0]):
        assert np.isfinite(embed_architecture(arch)).all()
    assert not embed_architecture([]).any()
    arch_obj = type("Arch", (), {"layers": [784, 256, 10]})()
    assert np.array_equal(embed_architecture(arch_obj), embed_architecture({"layers": [784, 256, 10]}))
    h = embed_hypothesis({"name": "optimal_seeds", "question": "q"})
    obj = type("H", (), {"name": "optimal_seeds", "question": "q"})()
    assert np.array_equal(h, embed_hypothesis(obj)) and h[:32].any() and not h[32:].any()
    with pytest.raises(ValueError):
        ExperimentEmbedder(0)


def test_results_json_keeps_float_types(tmp_path: Path) -> None:
    searcher = ExperimentSearcher(ChromaConfig(persist_directory=str(tmp_path)))
    searcher.index_experiment("f", {"final_performance": {"accuracy": 1.0}}, additional_metadata={"n": 2})
    hit = searcher.search_by_performance()[0]
    assert isinstance(hit["accuracy"], float) and isinstance(hit["metadata"]["n"], int)
    assert json.dumps(hit)  # plain JSON-able values
    assert hit.id == "f" and hit.description.startswith("Experiment f")
    assert not math.isnan(searcher.search_similar_experiments({}, 1)[0]["similarity_score"])


def test_chroma_tenant_database_headers(chroma_server: conftest_search.ChromaServer) -> None:
    base = {"host": chroma_server.host, "port": chroma_server.port, "collection_name": "scoped"}
    scoped = ExperimentSearcher(
        ChromaConfig(**base, tenant="team_a", database="runs_2026", headers={"X-Trace": "1"}, auth_token="s3cret")
    )
    scoped.index_experiment("a", {"architecture": [4, 2]})
    default = ExperimentSearcher(ChromaConfig(**base))
    assert scoped.count() == 1 and default.count() == 0  # a missing tenant and database were created
    info = scoped.client.info()
    assert info["backend"] == "chroma" and info["space"] == "cosine" and info["dimension"] == 384
    assert info["server_version"] == chroma_server.version()
    assert "s3cret" not in json.dumps(info)
