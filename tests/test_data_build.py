"""Rebuilding the task suite: byte for byte from the same input, clear outcomes otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from registry.data import build, build_wordnet, suite
from registry.data.inputs import InputIdentity, InputMissingError, identify, installed_version
from registry.data.sources import SOURCES
from registry.data.suite import BuildError, CheckResult, Status


@pytest.mark.parametrize("source", [s.name for s in SOURCES])
def test_rebuild_is_byte_identical(source: str) -> None:
    (result,) = suite.check([source])
    if result.status in (Status.INPUT_MISSING, Status.OTHER_INPUT):
        pytest.skip(result.detail)  # no input to compare with: says which and why
    assert result.status is Status.SAME, result.detail


def copy_package(tmp_path: Path) -> Path:
    """The index and shipped files, where a test may damage them."""
    target = tmp_path / "package"
    shutil.copytree(suite.PACKAGE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def test_check_reports_other_files_from_the_same_input(tmp_path: Path) -> None:
    source = next(s for s in SOURCES if s.name == "jargon")
    try:
        identify(source.package, source.input_dir, source.input_files)
    except InputMissingError as exc:
        pytest.skip(str(exc))
    package = copy_package(tmp_path)
    (package / "jargon" / "part-of-speech" / "train.jsonl.gz").write_bytes(b"damaged")
    args = ["--check", "--source", "jargon", "--output-dir", str(package)]
    code = build.main(args)
    if code == 4:
        pytest.skip("another dict-jargon is installed")
    assert code == 1


def fake_identity(sha256: str | None) -> object:
    def identity(package: str, input_dir: Path, files: tuple[str, ...]) -> InputIdentity:
        if sha256 is None:
            raise InputMissingError(f"install the Debian package {package}")
        return InputIdentity(package, "0.0-1", sha256)

    return identity


def test_check_exit_codes_without_the_recorded_input(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(suite, "identify", fake_identity(None))
    assert build.main(["--check", "--source", "vera"]) == 3
    assert "not checked" in caplog.text and "dict-vera" in caplog.text
    monkeypatch.setattr(suite, "identify", fake_identity("0" * 64))
    caplog.clear()
    assert build.main(["--check", "--source", "vera", "--source", "jargon"]) == 4
    assert "this machine has 0.0-1" in caplog.text and "cannot be compared" in caplog.text
    (result,) = suite.check(["vera"])
    assert result.status is Status.OTHER_INPUT


def test_worst_outcome_decides_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [Status.SAME, Status.INPUT_MISSING, Status.DIFFERS, Status.OTHER_INPUT]
    monkeypatch.setattr(
        build, "check", lambda *a, **k: [CheckResult(str(s), s, "x") for s in outcomes]
    )
    assert build.main(["--check"]) == 1
    monkeypatch.setattr(build, "check", lambda *a, **k: [])
    assert build.main(["--check"]) == 0


def test_a_build_without_the_package_exits_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(suite, "identify", fake_identity(None))
    assert build.main(["--source", "jargon", "--output-dir", str(copy_package(tmp_path))]) == 3


def test_the_wordnet_command_still_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = {}

    def check(names: list[str], *, package_dir: Path, input_dir: Path | None) -> list[object]:
        seen.update(names=names, package_dir=package_dir, input_dir=input_dir)
        return [CheckResult("wordnet", Status.SAME, "same")]

    monkeypatch.setattr(build, "check", check)
    assert build_wordnet.main(["--check", "--wordnet-dir", str(tmp_path)]) == 0
    assert seen == {"names": ["wordnet"], "package_dir": suite.PACKAGE_DIR, "input_dir": tmp_path}
    assert Path("/usr/share/wordnet") == build_wordnet.DEFAULT_WORDNET_DIR


def test_input_dir_needs_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build.main(["--check", "--input-dir", "/tmp"])
    assert "exactly one --source" in capsys.readouterr().err


def test_shared_texts_fail_the_build() -> None:
    suite._check_disjoint({"a/t": {"train": ["One two three"]}, "b/i": {"train": ["x y z"]}})
    with pytest.raises(BuildError, match="shared between tasks"):
        suite._check_disjoint(
            {"a/t": {"train": ["One two three"]}, "b/i": {"train": ["one  two THREE"]}}
        )
    with pytest.raises(BuildError, match=r"a/t \(train\) and in a/t \(test\)"):
        suite._check_disjoint({"a/t": {"train": ["One two three"], "test": ["One two three"]}})


def test_installed_version_reads_the_dpkg_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text(
        "Package: dict-vera\nStatus: deinstall ok config-files\nVersion: 1:1.23-1\n\n"
        "Package: dict-jargon\nStatus: install ok installed\nVersion: 4.4.7-3.1\n"
        "Description: x\n multi-line: not a field\n",
        encoding="utf-8",
    )
    assert installed_version("dict-jargon", status) == "4.4.7-3.1"
    assert installed_version("dict-vera", status) == "unknown"
    assert installed_version("dict-jargon", tmp_path / "absent") == "unknown"


def test_identity_names_the_missing_package(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError, match="apt-get install dict-vera"):
        identify("dict-vera", tmp_path, ("vera.index",))
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    first = identify("p", tmp_path, ("a", "b"))
    (tmp_path / "b").write_bytes(b"3")
    assert identify("p", tmp_path, ("a", "b")).sha256 != first.sha256
