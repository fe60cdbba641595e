"""The DER paper's MNIST table (Buzzega et al. 2020, NeurIPS): Sequential, Permuted and Rotated
MNIST and MNIST-360, under the protocol of its code (aimagelab/mammoth; docs/der-mnist.md
gives each choice and its source): its grid and its table; no report section until its
runs are in results/.

Mammoth's MNISTMLP (784-100-100-10, ReLU, Glorot-uniform weights, zero biases) on MNIST
in [0, 1] (unpadded, unstandardised), all 60,000 training images, plain SGD, one epoch a
task; each method's learning rate, batch and coefficients from Mammoth's best_args
(BEST_ARGS, from der_mnist_best_args.json) at each buffer size. Sequential MNIST is one 10-way head
trained on every output (Mammoth's class-IL loss), its class-IL and task-IL accuracies
read from the same run (--task-masked-accuracy); Permuted and Rotated MNIST are 20 tasks,
every one transformed (rotrand-k: an angle drawn in [0, 180)); MNIST-360 is the task-free
stream. The grid holds the cells the runner's methods can fill (ROWS): ER, DER and DER++
on every benchmark (MNIST-360 too: they need no task boundaries), iCaRL on Sequential
MNIST as the paper; PNN, MER, FDR, GSS, HAL and A-GEM-R are rows to add as their methods
land (their best args are here).
"""

import json
import os
import statistics

from experiments.grid import Experiment
from experiments.studies.base import Section, Table

SPLITS = ("split-01", "split-23", "split-45", "split-67", "split-89")
BENCHMARKS = {
    "seq-mnist": dict(tasks=SPLITS, labels="global", head="shared", loss_classes="all",
                      task_masked_accuracy=True, task_epochs=1),
    "perm-mnist": dict(tasks=tuple(f"pixperm-{k}" for k in range(1, 21)), task_epochs=1),
    "rot-mnist": dict(tasks=tuple(f"rotrand-{k}" for k in range(1, 21)), task_epochs=1),
    "mnist-360": dict(tasks=("mnist-360",)),
}
COMMON = dict(network=("fc:100", "fc:100", "fc"), init="xavier", dropout=1.0,
              input_style="grey", mnist_train="all", optimizer="sgd",
              test_frequency=10**6, checkpoint_every=0)
# The table's columns: (benchmark, summary field); Sequential MNIST's two from one run.
COLUMNS = {
    "seq-mnist-class": ("seq-mnist", "final_test_accuracy_all"),
    "seq-mnist-task": ("seq-mnist", "final_test_accuracy_task_masked_all"),
    "perm-mnist": ("perm-mnist", "final_test_accuracy_all"),
    "rot-mnist": ("rot-mnist", "final_test_accuracy_all"),
    "mnist-360": ("mnist-360", "final_test_accuracy_all"),
}
BUFFERS = {"seq-mnist": (200, 500, 5120), "perm-mnist": (200, 500, 5120),
           "rot-mnist": (200, 500, 5120), "mnist-360": (200, 500, 1000)}
NONE = -1  # best_args's key of a method without a buffer.


# Mammoth's utils/best_args.py for the MNIST benchmarks, every method of the paper's MNIST
# table that it holds, in its own names (lr, batch_size, minibatch_size: the buffer's
# batch, and each method's own): der_mnist_best_args.json, which names its source
# (docs/der-mnist.md renders it). {benchmark: {method: {buffer (NONE: none): args}}}.
def _best_args() -> dict:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "der_mnist_best_args.json")) as f:
        table = json.load(f)["best_args"]
    return {benchmark: {method: {NONE if key == "none" else int(key): args
                                 for key, args in by_buffer.items()}
                        for method, by_buffer in methods.items()}
            for benchmark, methods in table.items()}


BEST_ARGS = _best_args()


def _sgd(args: dict, buffer: int) -> dict:
    del buffer
    return dict(learning_rate=args["lr"], batch=args["batch_size"])


def _joint(args: dict, buffer: int) -> dict:
    # Mammoth's JOINT (models/joint.py, joint_gcl.py): a fresh network trained on every task's
    # training set as one shuffled set, one epoch, SGD at the run's lr and batch; best_args has
    # no JOINT entry, so SGD's lr and batch (docs/der-mnist.md).
    return dict(_sgd(args, buffer), mode="offline", task_epochs=1)


def _oewc(args: dict, buffer: int) -> dict:
    # Mammoth's penalty is e_lambda * sum F (theta - theta*)^2, this tool's (lambda / 2) * ...:
    # lambda here is 2 e_lambda. Its gamma 1 is this tool's online sum; the Fisher over every
    # training example of the task.
    assert args["gamma"] == 1.0, args
    return dict(_sgd(args, buffer), ewc_lambda=2.0 * args["e_lambda"], ewc_online=True,
                ewc_fisher_examples=0)


def _si(args: dict, buffer: int) -> dict:
    return dict(_sgd(args, buffer), si_c=args["c"], si_damping=args["xi"])


def _lwf(args: dict, buffer: int) -> dict:
    # Mammoth's LwF trains on the classes seen so far (its mask) and distils the ended
    # tasks' classes at T; its head warm-up and wd_reg are not this tool's (docs/der-mnist.md).
    return dict(_sgd(args, buffer), lwf_lambda=float(args["alpha"]),
                lwf_temperature=args["softmax_temp"], loss_classes="seen")


def _agem(args: dict, buffer: int) -> dict:
    return dict(_sgd(args, buffer), agem_memory=buffer, agem_batch=args["minibatch_size"])


def _gem(args: dict, buffer: int) -> dict:
    return dict(_sgd(args, buffer), gem_memory=buffer, gem_margin=args["gamma"])


def _er(args: dict, buffer: int) -> dict:
    # Mammoth's ER, DER and DER++ (models/er.py, der.py, derpp.py): a reservoir buffer of
    # buffer_size, minibatch_size examples drawn from it each step (DER++: two draws).
    return dict(_sgd(args, buffer), er_buffer=buffer, er_batch=args["minibatch_size"])


def _der(args: dict, buffer: int) -> dict:
    return dict(_sgd(args, buffer), der_buffer=buffer, der_batch=args["minibatch_size"],
                der_alpha=float(args["alpha"]))


def _derpp(args: dict, buffer: int) -> dict:
    return dict(_sgd(args, buffer), derpp_buffer=buffer, derpp_batch=args["minibatch_size"],
                derpp_alpha=float(args["alpha"]), derpp_beta=float(args["beta"]))


def _icarl(args: dict, buffer: int) -> dict:
    # Mammoth's iCaRL (models/icarl.py, aimagelab 0d727a7): the buffer joins the next task's
    # training set (its minibatch_size is unused), wd_reg its weight decay, and its class
    # means averaged by halves over batches of batch_size (docs/der-mnist.md).
    return dict(_sgd(args, buffer), icarl_memory=buffer,
                icarl_weight_decay=float(args["wd_reg"]), icarl_class_mean="batch-halving")


# The rows the runner's methods fill: (row as the paper names it, best_args's key, its
# settings from best args). JOINT takes SGD's best args.
ROWS = (("JOINT", "sgd", _joint), ("SGD", "sgd", _sgd), ("oEWC", "ewc_on", _oewc),
        ("SI", "si", _si), ("LwF", "lwf", _lwf), ("ER", "er", _er), ("GEM", "gem", _gem),
        ("A-GEM", "agem", _agem), ("iCaRL", "icarl", _icarl), ("DER", "der", _der),
        ("DER++", "derpp", _derpp))
# The paper's rows, in its order; those not in ROWS are not runnable yet.
PAPER_ROWS = ("JOINT", "SGD", "oEWC", "SI", "LwF", "PNN", "ER", "MER", "GEM", "A-GEM", "iCaRL",
              "FDR", "GSS", "HAL", "DER", "DER++")
SLUGS = {"JOINT": "joint", "SGD": "sgd", "oEWC": "oewc", "SI": "si", "LwF": "lwf",
         "ER": "er", "GEM": "gem", "A-GEM": "agem", "iCaRL": "icarl", "DER": "der",
         "DER++": "derpp"}


def _buffer_name(buffer: int) -> str:
    return "none" if buffer == NONE else str(buffer)


def point_name(benchmark: str, buffer: int, row: str) -> str:
    return f"{benchmark}-{_buffer_name(buffer)}-{SLUGS[row]}"


def points(form: str) -> list[dict]:
    """Every cell of the table the runner can fill: each benchmark, each runnable method at
    each of its best_args's buffers, named benchmark-buffer-method."""
    del form
    grid = []
    for benchmark, settings in BENCHMARKS.items():
        for row, key, settings_of in ROWS:
            for buffer, args in BEST_ARGS[benchmark].get(key, {}).items():
                grid.append({**COMMON, **settings, **settings_of(args, buffer),
                             "name": point_name(benchmark, buffer, row)})
    return grid


def quick_points(form: str) -> list[dict]:
    """The grid with 30 steps a task in place of an epoch (MNIST-360: its whole stream),
    evaluated on 500 test images a task."""
    shrunk = []
    for point in points(form):
        if point.get("task_epochs"):
            tasks = len(point["tasks"])
            point = dict(point, task_epochs=None, task_time=30, max_steps=30 * tasks)
        shrunk.append(dict(point, test_examples=500))
    return shrunk


def table(summaries: dict[str, list[dict]]) -> dict:
    """{column: {buffer: {method: {"mean", "sd", "seeds"}}}}, accuracies in percent: the
    average over the tasks after the last (MNIST-360: over its test set), mean and sample sd
    over seeds (None for one); `summaries` maps a point's name to its seeds' summary.json
    contents. Every buffer of a column is present, empty where no run filled it."""
    result = {}
    for column, (benchmark, field) in COLUMNS.items():
        cells = {_buffer_name(b): {} for b in (NONE, *BUFFERS[benchmark])}
        for row, _, _ in ROWS:
            for buffer in (NONE, *BUFFERS[benchmark]):
                runs = summaries.get(point_name(benchmark, buffer, row), [])
                values = [100 * run[field] for run in runs if field in run]
                if values:
                    cells[_buffer_name(buffer)][row] = {
                        "mean": statistics.fmean(values),
                        "sd": statistics.stdev(values) if len(values) > 1 else None,
                        "seeds": len(values)}
        result[column] = cells
    return result


def _cell(cell: dict | None) -> str:
    if cell is None:
        return "—"
    sd = "—" if cell["sd"] is None else f"{cell['sd']:z.2f}"
    return f"{cell['mean']:z.2f} ± {sd} ({cell['seeds']})"


def format_table(table: dict) -> str:
    """The table as text, one block a column: methods down, buffers across."""
    width = 22
    blocks = []
    for column, cells in table.items():
        lines = [f"{column:10}" + "".join(f"{'buffer ' + b:>{width}}" for b in cells)]
        for row in PAPER_ROWS:
            if any(row in by_row for by_row in cells.values()):
                lines.append(f"{row:10}" + "".join(f"{_cell(by_row.get(row)):>{width}}"
                                                   for by_row in cells.values()))
        blocks.append("\n".join(lines))
    pending = [row for row in PAPER_ROWS if row not in SLUGS]
    return "\n\n".join(blocks) + f"\n\nnot in this runner yet: {', '.join(pending)}"


# best_args's names of the paper's rows, in the paper's order (A-GEM-R: A-GEM with a
# reservoir buffer, MNIST-360's).
BEST_ARGS_ROWS = (("SGD", "sgd"), ("oEWC", "ewc_on"), ("SI", "si"), ("LwF", "lwf"),
                  ("PNN", "pnn"), ("ER", "er"), ("MER", "mer"), ("GEM", "gem"),
                  ("A-GEM", "agem"), ("A-GEM-R", "agem_r"), ("iCaRL", "icarl"), ("FDR", "fdr"),
                  ("GSS", "gss"), ("HAL", "hal"), ("DER", "der"), ("DER++", "derpp"))


def best_args_markdown(benchmark: str) -> str:
    """A benchmark's best arguments as docs/der-mnist.md shows them: a method a row, a
    buffer a column (lr, bs: batch_size, mb: minibatch_size, then the method's own)."""
    short = {"lr": "lr", "batch_size": "bs", "minibatch_size": "mb"}

    def cell(args: dict | None) -> str:
        if args is None:
            return "—"
        first = [f"{short[key]} {args[key]}" for key in short if key in args]
        return ", ".join(first + [f"{k} {v}" for k, v in args.items() if k not in short])

    buffers = (NONE, *BUFFERS[benchmark])
    lines = ["| method | no buffer | " + " | ".join(f"buffer {b}" for b in buffers[1:]) + " |",
             "|---|" + "---|" * len(buffers)]
    for row, key in BEST_ARGS_ROWS:
        if key in BEST_ARGS[benchmark]:
            by_buffer = BEST_ARGS[benchmark][key]
            lines.append(f"| {row} (`{key}`) | "
                         + " | ".join(cell(by_buffer.get(b)) for b in buffers) + " |")
    return "\n".join(lines)


EXPERIMENTS = {
    "der-mnist": Experiment(
        "the DER paper's MNIST table (Buzzega et al. 2020): Sequential (class- and task-IL), "
        "Permuted and Rotated MNIST and MNIST-360 under Mammoth's protocol, every method this "
        "runner has at Mammoth's best args for each buffer", None, points, forms=("mnist",),
        quick_points=quick_points, table=table, format_table=format_table,
        runs_per_process=20),
}
# Where its runs go once committed (python -m experiments tabulate results/der-mnist): its
# table reads their summaries alone.
TABLES = (Table("der-mnist", "none", "der-mnist", "mnist"),)


def sections(results: str, report_dir: str) -> list[Section]:
    """None until the grid's runs are committed under results/der-mnist (not run yet)."""
    del results, report_dir
    return []
