"""Malformed model files (issue 13): each one clear ModelFileError within 5 s and under 500 MB,
before the network is built; model names checked the same way everywhere."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from seeinggan.errors import ModelFileError, ModelNameError, OutputExistsError
from seeinggan.models import UNetGenerator, load_model, save_model
from seeinggan.models.io import model_paths, read_metadata
from seeinggan.names import check_inside, check_name

ROOT = Path(__file__).resolve().parents[2]


def _tiny(folder: Path, name="tiny") -> Path:
    torch.manual_seed(0)
    return save_model(folder / name, UNetGenerator(base_channels=4, n_down=2, n_res=1))


def _edit_json(weights: Path, change) -> Path:
    _, json_path = model_paths(weights)
    document = json.loads(json_path.read_text())
    change(document)
    json_path.write_text(json.dumps(document))
    return weights


CASES = {
    "base_channels 3000": lambda d: d["architecture"].update(base_channels=3000),
    "n_res 1e7": lambda d: d["architecture"].update(n_res=10_000_000),
    "base_channels 1e6 (float)": lambda d: d["architecture"].update(base_channels=1e6),
    "base_channels 500 (in bounds, wrong count)": lambda d: d["architecture"].update(base_channels=500),
    "pixel scale NaN": lambda d: d.update(pixel_scale_arcsec=float("nan")),
    "pixel scale inf": lambda d: d.update(input_pixel_scale_arcsec=float("inf")),
    "pixel scale 1e-6": lambda d: d.update(pixel_scale_arcsec=1e-6),
    "softening 0": lambda d: d.update(intensity_transform={"kind": "noise_scaled_asinh", "softening": 0}),
    "unknown transform kind": lambda d: d.update(intensity_transform={"kind": "log10"}),
}


@pytest.mark.timing
def test_each_malformed_model_is_one_clear_error_within_5_s_and_500_mb(tmp_path):
    """All cases in one fresh process: wall time per case, and the peak memory above the
    baseline after imports (ru_maxrss)."""
    folder = tmp_path / "models"
    for index, change in enumerate(CASES.values()):
        _edit_json(_tiny(folder, f"case{index}"), change)
    deep = _tiny(folder, "deep")
    model_paths(deep)[1].write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    nan = folder / "nan"
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1)
    save_model(nan, generator)
    tensors_path = model_paths(nan)[0]
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tensors_path))
    first = sorted(tensors)[0]
    tensors[first][...] = float("nan")
    save_file(tensors, str(tensors_path))
    labels = [*CASES, "JSON 1e5 deep", "NaN weights"]
    paths = [folder / f"case{i}" for i in range(len(CASES))] + [deep, nan]
    script = textwrap.dedent(f"""
        import json, resource, sys, time
        sys.path[:0] = [{str(ROOT / 'src_core')!r}]
        from seeinggan.errors import ModelFileError
        from seeinggan.models import load_model
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = []
        for path in {[str(p) for p in paths]!r}:
            start = time.perf_counter()
            try:
                load_model(path)
                kind, message = "loaded", ""
            except ModelFileError as error:
                kind, message = "ModelFileError", str(error)
            except BaseException as error:
                kind, message = type(error).__name__, str(error)[:300]
            out.append([kind, message, time.perf_counter() - start])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"cases": out, "extra_mb": (peak - base) / 1024}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for label, (kind, message, seconds) in zip(labels, report["cases"], strict=True):
        assert kind == "ModelFileError", (label, kind, message)
        assert "\n" not in message and str(folder) in message, (label, message)
        assert seconds < 5.0, (label, seconds)
    assert report["extra_mb"] < 500, report["extra_mb"]
    messages = dict(zip(labels, (m for _, m, _ in report["cases"]), strict=True))
    assert "base_channels' = 3000 is outside 1..512" in messages["base_channels 3000"]
    assert "n_res' = 10000000 is outside 0..64" in messages["n_res 1e7"]
    assert "parameters stored" in messages["base_channels 500 (in bounds, wrong count)"]
    assert "NaN or infinite" in messages["NaN weights"]
    assert "nested 100000 levels deep" in messages["JSON 1e5 deep"]
    assert "pixel scale between" in messages["pixel scale 1e-6"]
    assert "softening" in messages["softening 0"]
    assert "unknown intensity transform kind 'log10'" in messages["unknown transform kind"]


def test_truncated_or_foreign_safetensors_are_refused_before_reading(tmp_path):
    weights = _tiny(tmp_path)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="lie outside the file|does not fit"):
        load_model(weights)
    weights.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ModelFileError, match="header length"):
        load_model(weights)


def test_save_model_does_not_overwrite_unless_asked(tmp_path):
    path = _tiny(tmp_path, "mine")
    first = read_metadata(path)
    with pytest.raises(OutputExistsError, match="a model of this name exists"):
        _tiny(tmp_path, "mine")
    torch.manual_seed(3)
    save_model(tmp_path / "mine", UNetGenerator(base_channels=4, n_down=2, n_res=2), overwrite=True)
    assert read_metadata(path)["architecture"]["n_res"] == 2 != first["architecture"]["n_res"]
    assert load_model(path)[0].n_res == 2
    # An orphan .safetensors (a save killed before its JSON) does not block a new save.
    orphan, orphan_json = model_paths(tmp_path / "orphan")
    orphan.write_bytes(b"partial")
    _tiny(tmp_path, "orphan")
    assert orphan_json.exists() and load_model(orphan)[0].n_res == 1


def test_two_saves_of_one_name_at_once_one_wins(tmp_path):
    import threading

    results = []
    barrier = threading.Barrier(4)

    def save(seed):
        torch.manual_seed(seed)
        generator = UNetGenerator(base_channels=4, n_down=2, n_res=1)
        barrier.wait()
        try:
            save_model(tmp_path / "race", generator)
            results.append("saved")
        except OutputExistsError:
            results.append("refused")

    threads = [threading.Thread(target=save, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused", "refused", "refused", "saved"]
    load_model(tmp_path / "race")  # whole and consistent


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "CON", "nul.txt", "Lpt1", "a.json",
                                  "m.safetensors", ".hidden", "x" * 65, "", "  ", "bad\tname",
                                  "dot."])
def test_names_refused_everywhere_the_same_way(name):
    with pytest.raises(ModelNameError):
        check_name(name, kind="run")


def test_shipped_names_only_refused_for_user_models():
    with pytest.raises(ModelNameError, match="shipped model"):
        check_name("Default", kind="model")
    assert check_name("default", kind="run") == "default"
    assert check_name(" my field v2 ", kind="model") == "my field v2"
    with pytest.raises(ModelNameError, match="outside"):
        check_inside(Path("/tmp/a/../../etc/x"), "/tmp/a")


def test_save_model_in_the_user_folder_refuses_a_shipped_name(tmp_path, monkeypatch):
    from seeinggan.models.io import user_models_dir

    with pytest.raises(ModelNameError, match="shipped model"):
        _tiny(user_models_dir(), "default")
    assert not (user_models_dir() / "default.json").exists()
