"""`python -m core.export RUN_ID`: a run's recipe as one standalone training script (torch and torchvision
only), written by core/recipe_code.py's `export_script`.

    python -m core.export RUN_ID > train_cifar.py     (--runs-dir DIR; default BLITZLAB_RUNS_DIR or ./runs)
    python train_cifar.py --epochs 0.5 --data path/to/folder

The script is the program core/recipe_code.py shows beside the run, with a command line: it loads the same
data source (CIFAR-10 through torchvision, the generated demo shapes, or an image folder; any script also
reads a folder given with --data PATH), trains with the run's network and tricks written out, prints the
tutorial's console lines and saves model.pth, a state_dict of the same class and keys as core/models.py
builds, so the app's pages and `core.evaluation.load_weights` open it.
"""

from __future__ import annotations

import sys

from .config import OneLineParser, from_dict
from .paths import runs_dir
from .recipe_code import export_script
from .runs import RunError, RunStore


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(
        prog="python -m core.export", description="Print a run's recipe as a standalone script."
    )
    p.add_argument("run", help="run id (a folder name under --runs-dir)")
    p.add_argument("--runs-dir", default=str(runs_dir()), help="where runs are kept (env BLITZLAB_RUNS_DIR)")
    args = p.parse_args(argv)
    try:
        run = RunStore(args.runs_dir).open(args.run)
        saved = run.config()
        if not saved:
            raise RunError(f"The config of run {run.id} is missing or damaged.")
        script = export_script(from_dict(saved), run.id)
    except (RunError, TypeError, ValueError) as e:
        p.error(str(e))
    sys.stdout.write(script)
    return 0


if __name__ == "__main__":
    sys.exit(main())
