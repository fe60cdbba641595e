"""Hsu et al. 2018's Table 2, split MNIST: every method in the three scenarios.

The setting is the authors' public scripts' (GT-RIPL/Continual-Learning-Benchmark,
scripts/split_MNIST_incremental_{task,domain,class}.sh): five tasks of two digits,
an MLP of two hidden layers of 400 ReLU units on MNIST padded to 32x32 and
standardised (mean 0.1, sd 0.2752), PyTorch's initial weights, batch 128, 4 epochs
a task over all 60,000 training images, Adam at 0.001 (SGD and Adagrad at 0.01),
and each method's coefficient per scenario as the scripts give it. Where this
tool's form of a method differs in a constant factor, the coefficient is converted
and the conversion said here (EWC: this tool's penalty carries lambda / 2, theirs
lambda, so lambda here is twice theirs).

One row runs another protocol: Hsu et al.'s LwF cells in the domain and class scenarios
are van de Ven and Tolias's (2018; GMvandeVen/continual-learning, `--replay=current
--distill`), reprinted. That row, `LwF (van de Ven & Tolias 2018)`, runs their form of
LwF (--lwf-form van-de-ven) in their protocol (their main.py's defaults): 2,000
iterations a task, MNIST at 28x28 in [0, 1], unpadded and unstandardised, the same MLP,
Adam at 0.001, batch 128, T = 2. Their digits are paired at random per seed; this
project's split tasks are the fixed pairs 0/1, 2/3, ..., 8/9 (what their seed 0 gives),
so every seed here runs the standard pairs.
"""

import functools
import math
import statistics

SCENARIOS = ("task", "domain", "class")
TASKS = ("split-01", "split-23", "split-45", "split-67", "split-89")

# The scenario flag's settings (training.config.SCENARIO_PRESET), spelled out so that each
# run's config.json says them.
SCENARIO_SETTINGS = {
    "task": dict(labels="task", head="per-task", loss_classes="all"),
    "domain": dict(labels="task", head="shared", loss_classes="all"),
    "class": dict(labels="global", head="shared", loss_classes="seen"),
}
COMMON = dict(tasks=TASKS, task_epochs=4, batch=128, network=("fc:400", "fc:400", "fc"),
              init="pytorch", dropout=1.0, input_style="grey", image_pad=2,
              normalize=(0.1, 0.2752), mnist_train="all", optimizer="adam",
              learning_rate=0.001, test_frequency=10**6, checkpoint_every=0)
ADAM, SGD = dict(optimizer="adam", learning_rate=0.001), dict(optimizer="sgd", learning_rate=0.01)

HSU = "Hsu et al.'s"  # 4 epochs a task, 32x32 standardised.
VAN_DE_VEN = "van de Ven & Tolias's"  # 2,000 steps a task, 28x28 in [0, 1].
# Van de Ven and Tolias's protocol, over COMMON: their main.py's --iters 2000 a task, their
# MNIST28 (ToTensor: [0, 1], no padding, no standardising), Adam at 0.001, batch 128.
VAN_DE_VEN_PROTOCOL = dict(task_epochs=None, task_time=2000, max_steps=2000 * len(TASKS),
                           image_pad=0, normalize=None, optimizer="adam",
                           learning_rate=0.001, batch=128)
LWF_VAN_DE_VEN = "LwF (van de Ven & Tolias 2018)"


def _ewc(coefficient: float, online: bool = False) -> dict:
    # Their EWC_mnist agents: the Fisher over every training example of the task, at the
    # predicted label; their penalty has no 1/2.
    return dict(ewc_lambda=2 * coefficient, ewc_online=online, ewc_fisher_examples=0,
                ewc_fisher_labels="predicted")


# Method (as the paper's table names it) -> scenario -> settings. The coefficients are the
# scripts' --reg_coef for each scenario.
METHODS = {
    "Adam": {s: ADAM for s in SCENARIOS},
    "SGD": {s: SGD for s in SCENARIOS},
    "Adagrad": {s: dict(optimizer="adagrad", learning_rate=0.01) for s in SCENARIOS},
    "L2": {"task": dict(l2_lambda=0.01), "domain": dict(l2_lambda=0.5),
           "class": dict(l2_lambda=100.0)},
    "Naive rehearsal 1100": {s: dict(rehearsal_memory=1100) for s in SCENARIOS},
    "Naive rehearsal 4400": {s: dict(rehearsal_memory=4400) for s in SCENARIOS},
    "EWC": {"task": _ewc(100), "domain": _ewc(100), "class": _ewc(600)},
    "Online EWC": {"task": _ewc(400, True), "domain": _ewc(700, True),
                   "class": _ewc(100, True)},
    "SI": {"task": dict(si_c=300.0), "domain": dict(si_c=3000.0), "class": dict(si_c=600.0)},
    "MAS": {"task": dict(mas_lambda=1.0), "domain": dict(mas_lambda=10000.0),
            "class": dict(mas_lambda=1.0)},
    # Their GEM agent also trains on its memory as naive rehearsal does (GEM.learn_batch
    # calls Naive_Rehearsal's): their GEM is GEM beside rehearsal, with SGD at 0.01 and
    # --reg_coef 0.5, the margin. (Their agent also stores each task's memory twice, two
    # constraints a task; here one.)
    "GEM 1100": {s: dict(SGD, gem_memory=1100, rehearsal_memory=1100, gem_margin=0.5)
                 for s in SCENARIOS},
    "GEM 4400": {s: dict(SGD, gem_memory=4400, rehearsal_memory=4400, gem_margin=0.5)
                 for s in SCENARIOS},
    # Not in the scripts: A-GEM with GEM's optimizer and memories and the A-GEM paper's
    # reference batch of 256.
    "A-GEM 1100": {s: dict(SGD, agem_memory=1100, agem_batch=256) for s in SCENARIOS},
    "A-GEM 4400": {s: dict(SGD, agem_memory=4400, agem_batch=256) for s in SCENARIOS},
    # Not in the scripts: Li and Hoiem's own settings, lambda_o = 1 and T = 2, with the
    # scripts' Adam.
    "LwF": {s: dict(lwf_lambda=1.0, lwf_temperature=2.0) for s in SCENARIOS},
    "Offline": {s: dict(mode="offline") for s in SCENARIOS},
    # Their form in their protocol, in the two scenarios whose published cells are theirs.
    LWF_VAN_DE_VEN: {s: dict(VAN_DE_VEN_PROTOCOL, lwf_lambda=1.0, lwf_temperature=2.0,
                             lwf_form="van-de-ven") for s in ("domain", "class")},
}
# The protocol each row ran (every row not named here: Hsu et al.'s scripts').
PROTOCOLS = {LWF_VAN_DE_VEN: VAN_DE_VEN}
SLUGS = {LWF_VAN_DE_VEN: "lwf-vdv"}


# The authors' own logs of these runs (GT-RIPL/Continual-Learning-Benchmark,
# outputs/split_MNIST_incremental_{task,domain,class}/<method>.log): the final
# "mean: ... std: ..." over their 10 repeats, numpy's population sd. Not the paper's
# Table 2, whose text could not be read here (no internet; the repository shows it as
# an image), and not quite the scripts' setting: every log but SI's prints the learning
# rate dropped to a tenth after the first epoch of the first task, for the rest of the
# run (their MultiStepLR stepped with an epoch argument; the scripts never decay it).
# Methods without a log in a scenario are absent.
AUTHORS_LOGS = {
    "task": {"Adam": (98.04, 1.02), "SGD": (96.49, 0.40), "Adagrad": (98.24, 0.22),
             "Offline": (99.61, 0.04)},
    "domain": {"Adam": (59.58, 0.59), "SGD": (73.33, 0.52), "Adagrad": (63.85, 0.84),
               "L2": (69.63, 0.50), "EWC": (59.99, 0.77), "Online EWC": (63.31, 1.35),
               "SI": (64.42, 2.35), "MAS": (72.75, 7.84), "Offline": (98.49, 0.18)},
    "class": {"Adam": (19.72, 0.03), "SGD": (18.99, 0.06), "Adagrad": (19.52, 0.07),
              "L2": (26.24, 1.34), "EWC": (19.75, 0.02), "Online EWC": (19.73, 0.05),
              "SI": (19.79, 0.22), "MAS": (22.80, 1.07)},
}


def _slug(method: str) -> str:
    return SLUGS.get(method, method.lower().replace(" ", "-"))


def protocol(method: str) -> str:
    """The protocol a row ran: Hsu et al.'s, or van de Ven and Tolias's."""
    return PROTOCOLS.get(method, HSU)


def points(form: str) -> list[dict]:
    """Every (scenario, method) of the table, named scenario-method (a row absent from a
    scenario has no point there)."""
    del form
    return [dict(COMMON, **SCENARIO_SETTINGS[scenario], **by_scenario[scenario],
                 name=f"{scenario}-{_slug(method)}")
            for scenario in SCENARIOS for method, by_scenario in METHODS.items()
            if scenario in by_scenario]


# The authors' logs' learning rate: a tenth of it from the second epoch of the first task
# on. That task, digits 0 and 1, has 5,923 + 6,742 = 12,665 of MNIST's training images.
FIRST_TASK_EXAMPLES = 12665
LOGS_DROP_STEP = math.ceil(FIRST_TASK_EXAMPLES / COMMON["batch"])
# The logs that ran with the drop: every one but SI's (which kept the rate) and offline
# training's (one task of all the data, whose first epoch is another length).
DROPPED_IN_LOGS = {scenario: [m for m in AUTHORS_LOGS[scenario] if m not in ("SI", "Offline")]
                   for scenario in SCENARIOS}


def logs_rate_points(form: str) -> list[dict]:
    """The cells the authors' logs ran with the dropped rate, run with it too: the test of
    whether the drop explains where our table and their logs differ."""
    return [dict(point, learning_rate_drops=(LOGS_DROP_STEP,), name=f"{point['name']}-lr-drop")
            for point in points(form) for scenario, method in [_cell(point["name"])]
            if method in DROPPED_IN_LOGS[scenario]]


def logs_rate_quick_points(form: str) -> list[dict]:
    return [dict(point, task_epochs=1, test_examples=500) for point in logs_rate_points(form)]


def _cell(name: str) -> tuple[str, str]:
    """(scenario, method) of a point's name."""
    scenario, slug = name.split("-", 1)
    return scenario, next(m for m in METHODS if _slug(m) == slug)


def quick_points(form: str) -> list[dict]:
    """The grid with one epoch a task, evaluated on 500 test images a task."""
    return [dict(point, task_epochs=1, test_examples=500) for point in points(form)]


def table(summaries: dict[str, list[dict]], suffix: str = "") -> dict:
    """{scenario: {method: {"mean", "sd", "seeds"}}}, accuracies in percent: the average
    over the five tasks after the last, mean and sample sd over seeds (None for one seed;
    the authors' logs give numpy's population sd, sqrt(9/10) of it for ten); `summaries` maps
    a point's name (scenario-method, and `suffix`) to its seeds' summary.json contents."""
    result = {scenario: {} for scenario in SCENARIOS}
    for scenario in SCENARIOS:
        for method in METHODS:
            runs = summaries.get(f"{scenario}-{_slug(method)}{suffix}", [])
            values = [100 * run["final_test_accuracy_all"] for run in runs]
            if values:
                result[scenario][method] = {
                    "mean": statistics.fmean(values),
                    "sd": statistics.stdev(values) if len(values) > 1 else None,
                    "seeds": len(values)}
    return result


def format_table(table: dict) -> str:
    """The table as text, methods down, scenarios across: mean +- sd (seeds), and beside
    each cell the authors' logs' mean and our mean's difference from it; last, the
    protocol the row ran."""
    width, name = 36, max(len(m) for m in METHODS) + 2
    lines = [f"{'method':{name}}" + "".join(f"{s + '-incremental':>{width}}" for s in SCENARIOS)
             + "   protocol",
             f"{'':{name}}" + "".join(f"{'ours (seeds) | logs: diff':>{width}}"
                                      for _ in SCENARIOS)]
    for method in METHODS:
        cells = []
        for scenario in SCENARIOS:
            cell, logged = table[scenario].get(method), AUTHORS_LOGS[scenario].get(method)
            sd = "—" if cell is None or cell["sd"] is None else f"{cell['sd']:z.2f}"
            text = "—" if cell is None else f"{cell['mean']:z.2f} ± {sd} ({cell['seeds']})"
            if cell is not None and logged is not None:
                text += f" | {logged[0]:z.2f}: {cell['mean'] - logged[0]:+z.2f}"
            cells.append(text)
        lines.append(f"{method:{name}}" + "".join(f"{c:>{width}}" for c in cells)
                     + f"   {protocol(method)}")
    return "\n".join(lines)


def markdown_table(table: dict) -> str:
    """The table as markdown for docs/results.md: each scenario's mean ± sd (seeds), the
    authors' logs' mean ± sd beside it and the difference, and the protocol the row ran
    ("not run yet": a cell of the grid without runs; "—": not in the grid)."""
    lines = ["| method | " + " | ".join(f"{s}-incremental: ours | their logs | diff"
                                         for s in SCENARIOS) + " | protocol |",
             "|---|" + "---|---|---|" * len(SCENARIOS) + "---|"]
    for method in METHODS:
        cells = []
        for scenario in SCENARIOS:
            cell, logged = table[scenario].get(method), AUTHORS_LOGS[scenario].get(method)
            unrun = "not run yet" if scenario in METHODS[method] else "—"
            ours = unrun if cell is None else (
                f"{cell['mean']:z.2f} ± {cell['sd']:z.2f} ({cell['seeds']})"
                if cell["sd"] is not None else f"{cell['mean']:z.2f} ({cell['seeds']})")
            theirs = "—" if logged is None else f"{logged[0]:z.2f} ± {logged[1]:z.2f}"
            diff = ("—" if cell is None or logged is None
                    else f"{cell['mean'] - logged[0]:+z.2f}")
            cells += [ours, theirs, diff]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {protocol(method)} |")
    return "\n".join(lines)


logs_rate_table = functools.partial(table, suffix="-lr-drop")
