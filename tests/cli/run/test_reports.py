"""What a broken app's report shows: the project's own frames, never ours or importlib's."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from velocipy_cli.dev.reports import AppFailure


def _import_failure(project: Path, module: str) -> BaseException:
    sys.path.insert(0, str(project))
    try:
        importlib.import_module(module)
    except BaseException as exc:  # the import is expected to fail
        return exc
    finally:
        sys.path.remove(str(project))
        sys.modules.pop(module, None)
    pytest.fail(f"importing {module} did not fail")


def test_syntax_error_report_is_file_line_and_caret_only(tmp_path: Path) -> None:
    (tmp_path / "broken_syntax_app.py").write_text("x = 1\ndef broken(:\n")
    failure = AppFailure.from_exception(
        _import_failure(tmp_path, "broken_syntax_app"), "import", tmp_path
    )
    assert failure.summary.startswith("broken_syntax_app.py, line 2: SyntaxError")
    assert "def broken(:" in failure.detail
    assert "importlib" not in failure.detail
    assert "velocipy_cli" not in failure.detail
    assert "Traceback" not in failure.detail


def test_runtime_error_report_keeps_the_projects_frames(tmp_path: Path) -> None:
    (tmp_path / "raising_app.py").write_text(
        "def boot():\n    raise KeyError('DATABASE_URL')\n\nboot()\n"
    )
    failure = AppFailure.from_exception(
        _import_failure(tmp_path, "raising_app"), "import", tmp_path
    )
    assert failure.summary.startswith("raising_app.py, line 2: KeyError")
    assert failure.detail.count('raising_app.py"') == 2  # the module line and boot()
    assert "importlib" not in failure.detail
