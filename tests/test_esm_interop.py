"""The ESM artifact (registry.esm): round trips, refusals, and interoperability with hfselect.

The unit tests need only numpy and safetensors. The interop tests run the real
``hf-dataset-selector`` (``hfselect``) and torch; they are skipped when those are not
installed, unless ``ESM_REGISTRY_REQUIRE_HFSELECT=1`` (set in CI) turns the skip into a failure.
No test touches the network: the interop tests block every non-loopback connection.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from rank_support import forbid_network

import registry.esm as esm_module
from registry.errors import EsmArtifactError, EsmRegistryError, MetadataError, UsageError
from registry.esm import (
    CONFIG_NAME,
    FORMAT_VERSION,
    LEGACY_FORMAT_VERSION,
    README_NAME,
    WEIGHTS_NAME,
    Esm,
)
from registry.metadata import EsmMetadata, from_config, to_config

D = 8


def _require(module: str) -> ModuleType:
    """Import an optional dependency, or skip (fail when the env demands it)."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        reason = (
            f"{module} is not importable ({exc}); install the interop stack: "
            "pip install torch==2.13.0 'transformers>=4.45' 'datasets>=3.0' pandas numba scipy && "
            "pip install --no-deps hf-dataset-selector==0.2.1"
        )
        if os.environ.get("ESM_REGISTRY_REQUIRE_HFSELECT") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def _metadata(**fields: Any) -> EsmMetadata:
    data: dict[str, Any] = {
        "base_model": "google-bert/bert-base-uncased",
        "task": {"task_id": "stanfordnlp/imdb", "text_column": "text", "label_column": "label"},
        "embedding_dim": D,
        "version": FORMAT_VERSION,
    }
    data.update(fields)
    return EsmMetadata.model_validate(data)


def _random_esm(seed: int = 0, **fields: Any) -> Esm:
    rng = np.random.default_rng(seed)
    return Esm(_metadata(**fields), rng.standard_normal((D, D)), rng.standard_normal(D))


def _inputs(shape: tuple[int, ...] = (5, D), seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _write_dir(
    path: Path, tensors: dict[str, np.ndarray], config: dict[str, Any] | None = None
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    safetensors.numpy.save_file(tensors, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
    (path / CONFIG_NAME).write_text(json.dumps(config or to_config(_metadata())))
    return path


def _write_bf16_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write BF16 tensors by hand (numpy has no bfloat16): the top 16 bits of float32."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        bits = (np.asarray(array, dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
        blob = bits.tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


# --- round trips ------------------------------------------------------------------------------


def test_save_then_load_round_trips_weights_and_metadata(tmp_path: Path) -> None:
    esm = _random_esm(language=["en"], developers="Jane Doe", extra={"transformers_version": "x"})
    path = esm.save(tmp_path / "esm")

    assert sorted(p.name for p in path.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = Esm.load(path)
    assert loaded.metadata == esm.metadata
    assert loaded.layout == "current"
    np.testing.assert_array_equal(loaded.weight, esm.weight)
    np.testing.assert_array_equal(loaded.bias, esm.bias)


def test_saved_files_are_what_hfselect_reads(tmp_path: Path) -> None:
    esm = _random_esm()
    path = esm.save(tmp_path / "esm")

    config_text = (path / CONFIG_NAME).read_text(encoding="utf-8")
    assert list(json.loads(config_text)) == list(to_config(esm.metadata))  # key order kept
    assert config_text.startswith('{\n  "base_model_name"')  # indent=2
    with safetensors.safe_open(str(path / WEIGHTS_NAME), framework="np") as handle:
        assert handle.metadata() == {"format": "pt"}
        assert sorted(handle.keys()) == ["model.bias", "model.weight"]
        for name in ("model.bias", "model.weight"):
            tensor = handle.get_tensor(name)
            assert tensor.dtype == np.float32
            assert tensor.flags.c_contiguous


def test_from_files_reads_files_with_any_names(tmp_path: Path) -> None:
    esm = _random_esm()
    safetensors.numpy.save_file(esm.tensors(), str(tmp_path / "weights.safetensors"))
    (tmp_path / "meta.json").write_text(json.dumps(to_config(esm.metadata)))

    loaded = Esm.from_files(tmp_path / "meta.json", tmp_path / "weights.safetensors")
    np.testing.assert_array_equal(loaded.weight, esm.weight)


def test_embedding_dim_is_inferred_and_written_when_missing(tmp_path: Path) -> None:
    metadata = _metadata(embedding_dim=None)
    esm = Esm(metadata, np.eye(D), np.zeros(D))

    assert esm.metadata.embedding_dim == D
    assert metadata.embedding_dim is None  # the caller's object is not modified
    config = json.loads((esm.save(tmp_path / "esm") / CONFIG_NAME).read_text())
    assert config["esm_embedding_dim"] == D
    assert config["esm_architecture"] == "linear"


def test_embedding_dim_is_inferred_when_loading(tmp_path: Path) -> None:
    config = to_config(_metadata(embedding_dim=None))
    path = _write_dir(tmp_path / "esm", Esm(_metadata(), np.eye(D), np.ones(D)).tensors(), config)

    assert Esm.load(path).metadata.embedding_dim == D


def test_legacy_layout_loads(tmp_path: Path) -> None:
    esm = _random_esm()
    legacy = {"sequential.0.weight": esm.weight, "sequential.0.bias": esm.bias}
    config = to_config(_metadata(version=LEGACY_FORMAT_VERSION))
    path = _write_dir(tmp_path / "legacy", legacy, config)

    loaded = Esm.load(path)
    assert loaded.layout == "legacy"
    assert loaded.metadata.version == LEGACY_FORMAT_VERSION
    x = _inputs()
    np.testing.assert_array_equal(loaded.apply(x), esm.apply(x))


def test_saving_a_legacy_esm_writes_the_current_version(tmp_path: Path) -> None:
    esm = _random_esm(version=LEGACY_FORMAT_VERSION)
    path = esm.save(tmp_path / "esm")

    assert json.loads((path / CONFIG_NAME).read_text())["version"] == FORMAT_VERSION
    with safetensors.safe_open(str(path / WEIGHTS_NAME), framework="np") as handle:
        assert sorted(handle.keys()) == ["model.bias", "model.weight"]


def test_layout_version_mismatch_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What hfselect 0.2.1 writes when it saves an ESM it loaded in the legacy layout.
    config = to_config(_metadata(version=LEGACY_FORMAT_VERSION))
    path = _write_dir(tmp_path / "esm", _random_esm().tensors(), config)

    with caplog.at_level(logging.WARNING, logger="registry.esm"):
        Esm.load(path)
    assert "randomly initialised" in caplog.text
    assert "version '0.1.0'" in caplog.text


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_floating_dtypes_are_read_as_float32(tmp_path: Path, dtype: str) -> None:
    esm = _random_esm()
    tensors = {k: v.astype(dtype) for k, v in esm.tensors().items()}
    loaded = Esm.load(_write_dir(tmp_path / "esm", tensors))

    assert loaded.weight.dtype == np.float32
    np.testing.assert_array_equal(loaded.weight, tensors["model.weight"].astype(np.float32))


def test_bfloat16_is_read_as_float32(tmp_path: Path) -> None:
    esm = _random_esm()
    path = _write_dir(tmp_path / "esm", esm.tensors())
    _write_bf16_safetensors(path / WEIGHTS_NAME, esm.tensors())

    loaded = Esm.load(path)
    assert loaded.weight.dtype == np.float32
    np.testing.assert_allclose(loaded.weight, esm.weight, rtol=2**-7)  # bf16: 8 mantissa bits
    np.testing.assert_allclose(loaded.bias, esm.bias, rtol=2**-7)


def test_bfloat16_matches_torch(tmp_path: Path) -> None:
    torch = _require("torch")
    import safetensors.torch

    weight, bias = torch.randn(D, D, dtype=torch.bfloat16), torch.randn(D, dtype=torch.bfloat16)
    path = _write_dir(tmp_path / "esm", _random_esm().tensors())
    safetensors.torch.save_file({"model.weight": weight, "model.bias": bias}, path / WEIGHTS_NAME)

    loaded = Esm.load(path)
    np.testing.assert_array_equal(loaded.weight, weight.float().numpy())
    np.testing.assert_array_equal(loaded.bias, bias.float().numpy())


def test_arrays_are_read_only_copies() -> None:
    weight = np.eye(D)
    esm = Esm(_metadata(), weight, np.zeros(D))
    weight[0, 0] = 5.0

    assert esm.weight[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        esm.weight[0, 0] = 2.0


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("model.weight", (D, D + 1), (D, D)),
        ("model.weight", (D * D,), (D, D)),
        ("model.bias", (D - 1,), (D,)),
    ],
)
def test_wrong_shapes_are_refused_with_file_tensor_and_shapes(
    tmp_path: Path, name: str, shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    tensors = {"model.weight": np.eye(D, dtype=np.float32), "model.bias": np.zeros(D, np.float32)}
    tensors[name] = np.zeros(shape, dtype=np.float32)
    path = _write_dir(tmp_path / "esm", tensors)

    with pytest.raises(EsmArtifactError) as info:
        Esm.load(path)
    message = str(info.value)
    assert str(path / WEIGHTS_NAME) in message
    assert repr(name) in message
    assert str(shape) in message
    assert str(expected) in message


def test_shape_disagreeing_with_config_dim_is_refused(tmp_path: Path) -> None:
    path = _write_dir(
        tmp_path / "esm",
        {"model.weight": np.eye(4, dtype=np.float32), "model.bias": np.zeros(4, np.float32)},
        to_config(_metadata(embedding_dim=D)),
    )
    with pytest.raises(EsmArtifactError, match=r"esm_embedding_dim.*8"):
        Esm.load(path)


def test_shape_errors_for_in_memory_arrays() -> None:
    with pytest.raises(EsmArtifactError, match=r"'model.bias' has shape \(3,\); expected \(8,\)"):
        Esm(_metadata(embedding_dim=None), np.eye(D), np.zeros(3))
    with pytest.raises(EsmArtifactError, match=r"expected \(D, D\)"):
        Esm(_metadata(embedding_dim=None), np.zeros(D), np.zeros(D))


@pytest.mark.parametrize("dtype", ["int64", "int8", "bool", "uint8"])
def test_non_floating_dtypes_are_refused(tmp_path: Path, dtype: str) -> None:
    tensors = {"model.weight": np.eye(D).astype(dtype), "model.bias": np.zeros(D, np.float32)}
    path = _write_dir(tmp_path / "esm", tensors)

    with pytest.raises(EsmArtifactError, match=r"'model.weight' has dtype .*expected a floating"):
        Esm.load(path)
    with pytest.raises(EsmArtifactError, match="expected a floating dtype"):
        Esm(_metadata(), np.eye(D).astype(dtype), np.zeros(D))


@pytest.mark.parametrize(
    ("value", "dtype"), [(np.nan, "float32"), (np.inf, "float32"), (1e300, "float64")]
)
def test_non_finite_values_are_refused(tmp_path: Path, value: float, dtype: str) -> None:
    weight = np.eye(D, dtype=dtype)
    weight[2, 3] = value
    path = _write_dir(tmp_path / "esm", {"model.weight": weight, "model.bias": np.zeros(D, dtype)})

    with pytest.raises(EsmArtifactError, match=r"'model.weight' has 1 non-finite .*\(2, 3\)"):
        Esm.load(path)


@pytest.mark.parametrize(
    "names",
    [
        ["weight", "bias"],
        ["model.weight"],
        ["model.weight", "model.bias", "model.extra"],
        ["model.weight", "sequential.0.bias"],
    ],
)
def test_unknown_tensor_names_are_listed(tmp_path: Path, names: list[str]) -> None:
    tensors = {name: np.zeros(D, dtype=np.float32) for name in names}
    path = _write_dir(tmp_path / "esm", tensors)

    with pytest.raises(EsmArtifactError) as info:
        Esm.load(path)
    message = str(info.value)
    assert f"found tensors {sorted(names)}" in message
    assert "sequential.0.weight" in message  # the accepted legacy names are mentioned


def test_unknown_architecture_is_refused() -> None:
    metadata = _metadata().model_copy(update={"architecture": "mlp"})
    with pytest.raises(EsmArtifactError, match="unknown ESM architecture 'mlp'"):
        Esm(metadata, np.eye(D), np.zeros(D))


def test_missing_directory_and_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such ESM directory"):
        Esm.load(tmp_path / "nope")

    path = _write_dir(tmp_path / "esm", _random_esm().tensors())
    (path / CONFIG_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=f"no {CONFIG_NAME}"):
        Esm.load(path)

    path = _write_dir(tmp_path / "esm2", _random_esm().tensors())
    (path / WEIGHTS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=f"no {WEIGHTS_NAME}"):
        Esm.load(path)

    with pytest.raises(FileNotFoundError, match="no such weights file"):
        Esm.from_files(path / CONFIG_NAME, tmp_path / "missing.safetensors")


def test_invalid_config_is_a_metadata_error(tmp_path: Path) -> None:
    path = _write_dir(tmp_path / "esm", _random_esm().tensors(), {"base_model_name": None})
    with pytest.raises(MetadataError, match="base_model_name"):
        Esm.load(path)


class _Payload:
    """Unpickling this creates a directory: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def test_pickled_checkpoint_alone_is_refused_and_never_opened(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "esm"
    path.mkdir()
    (path / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    (path / CONFIG_NAME).write_text(json.dumps(to_config(_metadata())))

    with pytest.raises(EsmArtifactError) as info:
        Esm.load(path)
    assert "pytorch_model.bin" in str(info.value)
    assert "never loaded" in str(info.value)
    assert not marker.exists()


def test_pickle_renamed_to_safetensors_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = _write_dir(tmp_path / "esm", _random_esm().tensors())
    (path / WEIGHTS_NAME).write_bytes(pickle.dumps(_Payload(marker)))

    with pytest.raises(EsmArtifactError, match="not a readable safetensors file"):
        Esm.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage", struct.pack("<Q", 10**9) + b"{}"])
def test_corrupt_safetensors_are_refused(tmp_path: Path, content: bytes) -> None:
    path = _write_dir(tmp_path / "esm", _random_esm().tensors())
    (path / WEIGHTS_NAME).write_bytes(content)

    with pytest.raises(EsmArtifactError, match=r"model\.safetensors is not a readable"):
        Esm.load(path)


def test_config_keys_hfselect_would_pass_to_its_constructor_are_refused(tmp_path: Path) -> None:
    esm = _random_esm(extra={"embedding_dim": 3})
    with pytest.raises(EsmArtifactError, match="'embedding_dim'"):
        esm.save(tmp_path / "esm")
    assert not (tmp_path / "esm").exists()


def test_errors_subclass_value_error() -> None:
    assert issubclass(EsmArtifactError, EsmRegistryError)
    assert issubclass(EsmArtifactError, ValueError)


# --- atomic save ----------------------------------------------------------------------------


def _fail_writing_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while config.json is written, after the weights were written."""
    real_write_bytes = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if self.name == "config.json":
            real_write_bytes(self, data[:10])
            raise OSError("disk full")
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_failed_save_leaves_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_writing_config(monkeypatch)

    with pytest.raises(OSError, match="disk full"):
        _random_esm().save(tmp_path / "esm")
    assert list(tmp_path.iterdir()) == []  # neither the ESM nor the staging folder


def test_failed_save_leaves_an_existing_esm_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _random_esm(seed=1).save(tmp_path / "esm", readme="old card")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    _fail_writing_config(monkeypatch)

    with pytest.raises(OSError, match="disk full"):
        _random_esm(seed=2).save(path, readme="new card")
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["esm"]


def test_save_into_existing_directory_replaces_only_its_files(tmp_path: Path) -> None:
    path = _random_esm(seed=1).save(tmp_path / "esm", readme="old card")
    (path / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    new = _random_esm(seed=2, developers="Someone Else")

    assert new.save(path) == path.absolute()
    assert (path / README_NAME).read_text() == "old card"  # no readme given: kept
    assert (path / ".gitattributes").exists()
    loaded = Esm.load(path)
    np.testing.assert_array_equal(loaded.weight, new.weight)
    assert loaded.metadata.developers == "Someone Else"

    new.save(path, readme="new card")
    assert (path / README_NAME).read_text(encoding="utf-8") == "new card"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esm"]


def test_save_creates_parents_and_refuses_a_file_target(tmp_path: Path) -> None:
    path = _random_esm().save(tmp_path / "a" / "b" / "esm")
    assert (path / WEIGHTS_NAME).is_file()

    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        _random_esm().save(tmp_path / "file")


# --- apply ------------------------------------------------------------------------------------


def test_apply_numpy_two_and_one_dimensional() -> None:
    esm = _random_esm()
    x = _inputs()
    expected = x.astype(np.float64) @ esm.weight.T.astype(np.float64) + esm.bias

    out = esm.apply(x)
    assert out.shape == (5, D)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(esm(x[0]), out[0], rtol=1e-6, atol=1e-6)  # __call__, 1-D
    assert esm.apply(x.astype(np.float64)).dtype == np.float64
    assert esm.apply(np.ones((2, 3, D), dtype=np.int64)).shape == (2, 3, D)
    np.testing.assert_allclose(esm.apply(x.tolist()), out, atol=1e-5)  # float64 path


@pytest.mark.parametrize("shape", [(5, D + 1), (D - 1,), ()])
def test_apply_rejects_the_wrong_dimension(shape: tuple[int, ...]) -> None:
    with pytest.raises(UsageError, match=f"embedding dimension {D}"):
        _random_esm().apply(np.zeros(shape, dtype=np.float32))


def test_apply_rejects_non_numeric_input() -> None:
    with pytest.raises(TypeError, match="numeric"):
        _random_esm().apply(np.array(["a"] * D))


def test_apply_torch_matches_nn_linear() -> None:
    torch = _require("torch")
    esm = _random_esm()
    linear = torch.nn.Linear(D, D)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(esm.weight.copy()))
        linear.bias.copy_(torch.from_numpy(esm.bias.copy()))
    x = torch.from_numpy(_inputs())

    with torch.no_grad():
        expected = linear(x)
    out = esm.apply(x)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(esm(x[0]), expected[0])
    np.testing.assert_allclose(out.numpy(), esm.apply(x.numpy()), rtol=1e-6, atol=1e-6)

    out64 = esm.apply(x.double())
    assert out64.dtype == torch.float64
    assert out64.device == x.device
    torch.testing.assert_close(out64.float(), expected)
    assert esm.apply(torch.ones(2, D, dtype=torch.int64)).dtype == torch.get_default_dtype()
    with pytest.raises(UsageError):
        esm.apply(torch.zeros(2, D + 1))


def test_public_api() -> None:
    public = {name for name in vars(esm_module) if not name.startswith("_")}
    for name in esm_module.__all__:
        assert name in public
    assert set(esm_module.__all__) == {
        "CONFIG_NAME",
        "FORMAT_VERSION",
        "LEGACY_FORMAT_VERSION",
        "MAX_HEADER_BYTES",
        "README_NAME",
        "WEIGHTS_NAME",
        "Esm",
    }


# --- interoperability with hfselect -----------------------------------------------------------


@pytest.fixture(scope="module")
def hfselect(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """hfselect, imported so that its import-time side effects stay out of the work tree.

    Importing it opens ``hfselect_logs.log`` in the current directory and turns on
    ``logging.captureWarnings`` for the whole process; both are undone here.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("hfselect-cwd"))
        module = _require("hfselect")
    _require("scipy")  # hfselect's LogME runs numba's linear algebra, which calls scipy
    logging.captureWarnings(False)
    return module


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub offline mode on, and any connection that leaves the machine is an error."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    forbid_network(monkeypatch)


def _hfselect_config(hfselect: ModuleType, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "base_model_name": "google-bert/bert-base-uncased",
        "task_id": "stanfordnlp/imdb",
        "task_subset": None,
        "text_column": "text",
        "label_column": "label",
        "task_split": "train",
        "num_examples": 1000,
        "seed": 42,
        "language": "en",
        "esm_architecture": "linear",
        "esm_embedding_dim": D,
        "esm_num_epochs": 10,
        "esm_learning_rate": 0.001,
        "developers": "hfselect test",
    }
    values.update(fields)
    return hfselect.ESMConfig(**values)


def _hfselect_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        result: np.ndarray = model(torch.from_numpy(x)).numpy()
    return result


@pytest.mark.usefixtures("offline")
def test_hfselect_current_layout_loads_here(hfselect: ModuleType, tmp_path: Path) -> None:
    torch = _require("torch")
    torch.manual_seed(0)
    theirs = hfselect.ESM(architecture="linear", embedding_dim=D, config=_hfselect_config(hfselect))
    theirs.save_pretrained(tmp_path / "esm")

    ours = Esm.load(tmp_path / "esm")
    assert ours.layout == "current"
    assert ours.metadata.base_model == "google-bert/bert-base-uncased"
    assert ours.metadata.task.task_id == "stanfordnlp/imdb"
    assert ours.metadata.embedding_dim == D
    assert ours.metadata.version == hfselect.__version__
    assert "transformers_version" in ours.metadata.extra  # hfselect's extra keys survive
    x = _inputs()
    np.testing.assert_allclose(ours.apply(x), _hfselect_outputs(theirs, x), atol=1e-6)


@pytest.mark.usefixtures("offline")
def test_hfselect_legacy_layout_loads_here(hfselect: ModuleType, tmp_path: Path) -> None:
    """hfselect 0.1.0 kept the layer in ``self.sequential`` and saved its state dict as is.

    hfselect 0.2.1 still builds that module for ``version == "0.1.0"`` (and converts it
    before saving), so the legacy files are written here from that module's state dict,
    as 0.1.0's ``PyTorchModelHubMixin.save_pretrained`` did.
    """
    torch = _require("torch")
    import safetensors.torch

    torch.manual_seed(1)
    config = _hfselect_config(hfselect, version=LEGACY_FORMAT_VERSION)
    theirs = hfselect.ESM(config=config)
    assert theirs.is_legacy_model
    state = theirs.state_dict()
    assert sorted(state) == ["sequential.0.bias", "sequential.0.weight"]
    path = tmp_path / "legacy"
    path.mkdir()
    safetensors.torch.save_file(state, str(path / WEIGHTS_NAME))
    (path / CONFIG_NAME).write_text(json.dumps(config.to_dict(), sort_keys=True, indent=2))

    x = _inputs()
    expected = _hfselect_outputs(hfselect.ESM.from_pretrained(path), x)  # the fixture is real
    np.testing.assert_allclose(_hfselect_outputs(theirs, x), expected, atol=1e-6)
    ours = Esm.load(path)
    assert ours.layout == "legacy"
    np.testing.assert_allclose(ours.apply(x), expected, atol=1e-6)

    # Re-published by us, it loads in hfselect as the current layout with the same outputs.
    republished = ours.save(tmp_path / "republished")
    again = hfselect.ESM.from_pretrained(republished)
    assert not again.is_legacy_model
    np.testing.assert_allclose(_hfselect_outputs(again, x), expected, atol=1e-6)


@pytest.mark.usefixtures("offline")
def test_legacy_esm_resaved_by_hfselect_loads_here(
    hfselect: ModuleType, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """hfselect 0.2.1 saves a legacy ESM as ``model.*`` but keeps ``version: 0.1.0``."""
    torch = _require("torch")
    torch.manual_seed(2)
    theirs = hfselect.ESM(config=_hfselect_config(hfselect, version=LEGACY_FORMAT_VERSION))
    x = _inputs()
    expected = _hfselect_outputs(theirs, x)
    theirs.save_pretrained(tmp_path / "esm")

    with caplog.at_level(logging.WARNING, logger="registry.esm"):
        ours = Esm.load(tmp_path / "esm")
    assert ours.layout == "current"
    assert ours.metadata.version == LEGACY_FORMAT_VERSION
    assert "randomly initialised" in caplog.text
    np.testing.assert_allclose(ours.apply(x), expected, atol=1e-6)

    fixed = ours.save(tmp_path / "fixed")
    np.testing.assert_allclose(
        _hfselect_outputs(hfselect.ESM.from_pretrained(fixed), x), expected, atol=1e-6
    )


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"version": None},
        {"version": LEGACY_FORMAT_VERSION},
        {"embedding_dim": None, "language": ["en", "de"], "developers": "Jane Doe"},
        {"task": {"task_id": "glue", "subset": "mnli", "text_column": ["premise", "hypothesis"]}},
    ],
    ids=["current", "no-version", "legacy-version", "inferred-dim", "two-text-columns"],
)
def test_esm_saved_here_loads_in_hfselect(
    hfselect: ModuleType, tmp_path: Path, fields: dict[str, Any]
) -> None:
    torch = _require("torch")
    import safetensors.torch

    esm = _random_esm(**fields)
    path = esm.save(tmp_path / "esm", readme="# card\n")

    theirs = hfselect.ESM.from_pretrained(path)
    assert not theirs.is_legacy_model
    assert isinstance(theirs.model, torch.nn.Linear)
    assert theirs.model.in_features == D
    # PyTorchModelHubMixin passes config.json's content as the ``config`` kwarg, a dict.
    assert theirs.config == json.loads((path / CONFIG_NAME).read_text())
    # It loads with strict=False, so also check that no tensor was left out or ignored.
    missing, unexpected = safetensors.torch.load_model(
        theirs, str(path / WEIGHTS_NAME), strict=False
    )
    assert not missing
    assert not unexpected
    x = _inputs()
    np.testing.assert_allclose(_hfselect_outputs(theirs, x), esm.apply(x), atol=1e-6)

    # hfselect's own config class (used by ESM.publish) accepts our config.json too.
    config = hfselect.ESMConfig(**theirs.config)
    assert config.is_valid
    assert config.esm_embedding_dim == D
    assert from_config(json.loads(config.to_json_string())).task == esm.metadata.task
