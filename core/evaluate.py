"""`python -m core.evaluate RUN_ID [--runs-dir DIR] [--device D]`: the report of a run's saved model on its
test split (DIR defaults to BLITZLAB_RUNS_DIR or ./runs, as in the app). The scoring is core/evaluation.py.
"""

from __future__ import annotations

import argparse
import sys

from .data import DataError
from .devices import DeviceError, resolve_device
from .evaluation import CheckpointError, Report, evaluate_run
from .paths import runs_dir
from .runs import RunError, RunStore


def format_report(report: Report) -> str:
    lines = [
        f"test accuracy: {report.accuracy:.2%}   (chance: {1 / len(report.classes):.0%})",
        "",
        f"{'class':<14}{'accuracy':>9}{'precision':>10}{'f1':>7}{'support':>9}",
    ]
    for row in sorted(report.table(), key=lambda r: -r["accuracy"]):
        lines.append(
            f"{row['class']:<14}{row['accuracy']:>9.1%}{row['precision']:>10.1%}"
            f"{row['f1']:>7.2f}{row['support']:>9}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.evaluate", description="Report on a run's saved model."
    )
    parser.add_argument("run", help="run id (a folder name under --runs-dir)")
    parser.add_argument(
        "--runs-dir",
        default=str(runs_dir()),
        help="where runs are kept (default: $BLITZLAB_RUNS_DIR or runs)",
    )
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
        run = RunStore(args.runs_dir).open(args.run)
        report, ds = evaluate_run(run, device)
    except DeviceError as e:
        parser.error(str(e))
    except (RunError, CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"run {run.id}: {run.config()['model']} on {ds.describe()}")
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
