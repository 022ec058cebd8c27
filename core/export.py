"""`python -m core.export RUN_ID`: a run's recipe as one standalone training script (torch and torchvision
only), written by core/recipe_code.py's `export_script`.

    python -m core.export RUN_ID > train_cifar.py     (--runs-dir DIR; default BLITZLAB_RUNS_DIR or ./runs)
    python train_cifar.py --epochs 0.5 --data path/to/folder

A run of the tutorial's recipe on real images gets the tutorial's own program (core/tutorial_script.py:
torchvision's CIFAR10, a DataLoader, its loop), to diff against the tutorial; `--engine` gives the engine's.
Any other run's script is the program core/recipe_code.py shows beside the run, with a command line: it
loads the same data source (CIFAR-10 through torchvision, the generated demo shapes, or an image folder;
any script also reads a folder given with --data PATH), trains with the run's network and tricks written
out, prints the tutorial's console lines and saves model.pth, a state_dict of the same class and keys as
core/models.py builds, so the app's pages and `core.evaluation.load_weights` open it.
"""

from __future__ import annotations

import sys

from .config import OneLineParser, from_dict
from .messages import N_
from .paths import runs_dir
from .recipe_code import export_script
from .runs import RunError, RunStore
from .tutorial_script import tutorial_script, written_as_tutorial


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(
        prog="python -m core.export", description="Print a run's recipe as a standalone script."
    )
    p.add_argument("run", help="run id (a folder name under --runs-dir)")
    p.add_argument("--runs-dir", default=str(runs_dir()), help="where runs are kept (env BLITZLAB_RUNS_DIR)")
    p.add_argument(
        "--engine",
        action="store_true",
        help="for a run of the tutorial's recipe: the engine's program, not the tutorial's own structure",
    )
    args = p.parse_args(argv)
    try:
        run = RunStore(args.runs_dir).open(args.run)
        if (problem := run.config_problem()) is not None:  # `{}`, unknown keys, bad values: one line
            raise RunError(N_("The config of run {run} is damaged: {problem}"), run=run.id, problem=problem)
        cfg = from_dict(run.config())
        tutorial = written_as_tutorial(cfg) and not args.engine
        script = tutorial_script(cfg) if tutorial else export_script(cfg, run.id)
    except (RunError, TypeError, ValueError) as e:
        p.error(str(e))
    sys.stdout.write(script)
    return 0


if __name__ == "__main__":
    sys.exit(main())
