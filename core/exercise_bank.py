"""The course's exercises, chapter by chapter (at least four each), in the tutorial's order.

Each answers something the tutorial teaches or a question its readers keep asking: where `fc1`'s
`16 * 5 * 5` comes from, that softmax is already inside `CrossEntropyLoss`, why `Normalize((0.5, 0.5, 0.5),
(0.5, 0.5, 0.5))`, what `num_workers=2` does. The fix-the-bug clinic (core/clinic.py) is chapter 4's too.
"""

from __future__ import annotations

import math
from typing import Any

from .clinic import CLINIC
from .exercises import (
    ChoiceCheck,
    Exercise,
    ExpressionCheck,
    NumberCheck,
    Option,
    PredictCheck,
    TrainCheck,
)
from .messages import N_, Phrase
from .runs import Run
from .walkthrough import Cell, lenet_source

_IMPORTS = Cell(
    "imports",
    N_("Imports"),
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport torch.optim as optim",
)

# --- chapter 1: tensors -------------------------------------------------------------------------------

TENSORS = (
    Exercise(
        "tensor-ones",
        1,
        N_("A tensor of ones"),
        N_("Make a tensor of ones with 3 rows and 2 columns (float32, torch's default)."),
        (
            N_("torch has a factory function for each common filling: zeros, ones, rand, randn …"),
            N_("Factories take the size first: `torch.ones(rows, columns)`."),
        ),
        N_(
            "`torch.ones(3, 2)` makes a 3×2 float32 tensor. The size comes first and in that order: "
            "`torch.ones(2, 3)` has 2 rows. Without `dtype=` a factory gives float32."
        ),
        ExpressionCheck((), "torch.ones(3, 2)"),
    ),
    Exercise(
        "tensor-transpose",
        1,
        N_("Rows become columns"),
        N_("`a` is a 2×3 tensor. Give the 3×2 tensor whose rows are a's columns."),
        (
            N_("This is the transpose of a matrix."),
            N_("Tensors have a method and a short attribute for it: `a.t()` or `a.T`."),
        ),
        N_(
            "`a.t()` (or `a.T`) swaps the two dimensions. It is a view: no values are copied, only the "
            "strides change. `a.view(3, 2)` also has shape (3, 2), but it keeps the order of the values and "
            "only regroups them, so its rows are not a's columns."
        ),
        ExpressionCheck((("a", "torch.arange(6).view(2, 3)"),), "a.t()"),
    ),
    Exercise(
        "tensor-matmul",
        1,
        N_("Matrix product, not element by element"),
        N_("`x` is 2×3 and `w` is 3×4. Compute their matrix product, a 2×4 tensor."),
        (
            N_("`*` multiplies element by element and needs shapes that broadcast; this is something else."),
            N_("Python has an operator for the matrix product: `@` (or `torch.matmul`)."),
        ),
        N_(
            "`x @ w` (the same as `torch.matmul(x, w)` or `x.mm(w)`) multiplies each row of x with each "
            "column of w: the inner sizes (3 and 3) must agree, the result takes the outer ones (2×4). "
            "`x * w` fails because (2, 3) and (3, 4) cannot broadcast."
        ),
        ExpressionCheck(
            (("x", "torch.arange(6.0).view(2, 3)"), ("w", "torch.ones(3, 4)")),
            "x @ w",
        ),
    ),
    Exercise(
        "tensor-float",
        1,
        N_("Whole numbers to floats"),
        N_("`n = torch.tensor([1, 2, 3])` holds int64. Give the same values as a float32 tensor."),
        (
            N_("Integers typed into `torch.tensor` become int64; a network's weights are float32."),
            N_("A tensor method converts the dtype: `.float()`, or `.to(torch.float32)`."),
        ),
        N_(
            "`n.float()` (the same as `n.to(torch.float32)`) makes a float32 copy. Mixing int64 inputs "
            "with float32 weights is a common error, so convert data before it reaches a network."
        ),
        ExpressionCheck((("n", "torch.tensor([1, 2, 3])"),), "n.float()"),
    ),
    Exercise(
        "tensor-view",
        1,
        N_("What -1 means in view"),
        N_("`x = torch.randn(4, 4)` and `y = x.view(-1, 8)`. What is `y.size(0)`?"),
        (
            N_("`view` never changes how many elements there are."),
            N_("x has 16 elements; with 8 per row, how many rows?"),
        ),
        N_(
            "16 elements in rows of 8 make 2 rows: -1 tells `view` to work out that one size from the "
            "others. `y.size()` is `torch.Size([2, 8])`."
        ),
        NumberCheck(
            2,
            mistakes=((-1, N_("-1 is what you pass to view, not what it becomes: view replaces it.")),),
        ),
    ),
    Exercise(
        "tensor-numpy-bridge",
        1,
        N_("The NumPy bridge shares memory"),
        N_("`a = torch.ones(5)`, `b = a.numpy()`, then `a.add_(1)`. What does `b` hold now?"),
        (
            N_("`.numpy()` on a CPU tensor does not copy anything."),
            N_("The trailing underscore of `add_` means the tensor changes in place."),
        ),
        N_(
            "b is `[2. 2. 2. 2. 2.]`: the array and the tensor share one block of memory, so an in-place "
            "change to either shows in both. `a = a + 1` would have made a new tensor and left b alone."
        ),
        ChoiceCheck(
            (
                Option("a", N_("`[1. 1. 1. 1. 1.]`"), N_("That would be a copy; `.numpy()` shares memory.")),
                Option("b", N_("`[2. 2. 2. 2. 2.]`"), N_("Right: they share memory, so b changed with a.")),
                Option(
                    "c",
                    N_("an error: b no longer matches a"),
                    N_("Nothing fails: b is a view of the same memory and simply shows the new values."),
                ),
            ),
            "b",
        ),
    ),
)

# --- chapter 2: autograd ------------------------------------------------------------------------------

_ACCUMULATE = Cell(
    "accumulate",
    N_("backward() twice on a fresh graph"),
    "x = torch.tensor(2.0, requires_grad=True)\n"
    "for call in range(2):\n"
    "    y = x * 3  # a new graph each time: backward() frees the previous one\n"
    "    y.backward()\n"
    "    print(call + 1, x.grad)",
)

AUTOGRAD = (
    Exercise(
        "autograd-square",
        2,
        N_("A gradient by hand"),
        N_(
            "`x = torch.tensor(3.0, requires_grad=True)`, `y = x ** 2 + "
            "2 * x`, `y.backward()`. What is `x.grad`?"
        ),
        (
            N_("x.grad holds dy/dx at x = 3."),
            N_("The derivative of x² + 2x is 2x + 2."),
        ),
        N_("dy/dx = 2x + 2, which is 8 at x = 3; autograd computes exactly this and stores it in `x.grad`."),
        NumberCheck(
            8,
            mistakes=(
                (15, N_("15 is y itself (9 + 6); x.grad holds the derivative dy/dx.")),
                (6, N_("6 is the derivative of x² alone; the 2x term adds 2.")),
            ),
        ),
    ),
    Exercise(
        "autograd-mean",
        2,
        N_("The tutorial's 4.5"),
        N_(
            "`x = torch.ones(2, 2, requires_grad=True)`, `out = (3 * "
            "(x + 2) ** 2).mean()`, `out.backward()`. "
            "What is each element of `x.grad`?"
        ),
        (
            N_("out is the mean of four values z = 3(x + 2)², so each x counts for a quarter."),
            N_("dz/dx = 6(x + 2) = 18 at x = 1; then divide by 4."),
        ),
        N_(
            "out = ¼ Σ 3(xᵢ + 2)², so ∂out/∂xᵢ = 6(xᵢ + 2) / 4 = 18 / 4 = 4.5 at xᵢ = 1. The mean's 1/4 is "
            "part of the graph: autograd multiplies it in on the way back."
        ),
        NumberCheck(
            4.5,
            mistakes=((18, N_("18 is dz/dx for one element; the mean over four elements divides it by 4.")),),
        ),
    ),
    Exercise(
        "autograd-accumulate",
        2,
        N_("Gradients add up"),
        N_(
            "Predict, then run: `backward()` is called twice on `y = x "
            "* 3` (rebuilt each time). What is x.grad?"
        ),
        (
            N_("Does `backward()` write the gradient into `.grad`, or add it to what is there?"),
            N_(
                "The training loop calls `optimizer.zero_grad()` before "
                "every `backward()`: why would it need to?"
            ),
        ),
        N_(
            "backward() adds into .grad: 3 after the first call, 6 after the second. That is why every "
            "training loop zeroes the gradients before each backward()."
        ),
        PredictCheck(
            (
                Option("a", N_("3 after both calls"), N_("It would be 3 if backward() overwrote .grad.")),
                Option(
                    "b",
                    N_("3, then 6"),
                    N_(
                        "backward() adds each new gradient to .grad: 3 after "
                        "the first call, 6 after the second."
                    ),
                ),
                Option(
                    "c", N_("an error on the second call"), N_("The graph is rebuilt each time, so no error.")
                ),
            ),
            (_IMPORTS, _ACCUMULATE),
            lambda ns: "b" if float(ns["x"].grad) == 6.0 else "a",
            "b",
        ),
    ),
    Exercise(
        "autograd-no-grad",
        2,
        N_("Inside torch.no_grad()"),
        N_("`x` has `requires_grad=True`. Inside `with torch.no_grad():`, what is `(x ** 2).requires_grad`?"),
        (
            N_("no_grad() is what evaluation code wraps around the network."),
            N_("Its purpose is to record no graph at all."),
        ),
        N_(
            "False: under no_grad() nothing is recorded, so results have no grad_fn and cannot be "
            "backpropagated. Evaluation uses it to save memory and time; x itself still requires grad."
        ),
        ChoiceCheck(
            (
                Option(
                    "a", N_("True"), N_("Outside no_grad() it would be True; inside, nothing is recorded.")
                ),
                Option("b", N_("False"), N_("Right: no graph is recorded inside no_grad().")),
            ),
            "b",
        ),
    ),
    Exercise(
        "autograd-vector",
        2,
        N_("backward() on a vector"),
        N_("`y` has 3 elements. What does `y.backward()` with no argument do?"),
        (
            N_("A gradient is defined for a single number; y is three numbers."),
            N_("The `gradient` argument gives the vector v in the vector-Jacobian product vᵀ·J."),
        ),
        N_(
            "It raises `RuntimeError: grad can be implicitly created only for scalar outputs`. Pass a "
            "tensor of y's shape, `y.backward(v)`: autograd then computes vᵀ·J, the gradient of (v·y)."
        ),
        ChoiceCheck(
            (
                Option(
                    "a",
                    N_("it sums y first and backpropagates the sum"),
                    N_("That is what `y.sum().backward()` does, but only because you asked for the sum."),
                ),
                Option(
                    "b",
                    N_("it raises an error: a non-scalar needs a `gradient` argument"),
                    N_("Right: only a scalar can start backward() without a `gradient`."),
                ),
                Option(
                    "c",
                    N_("it computes the full Jacobian"),
                    N_("autograd never builds a Jacobian; it computes vector-Jacobian products."),
                ),
            ),
            "b",
        ),
    ),
)

# --- chapter 3: neural networks -----------------------------------------------------------------------

_LENET = Cell("class", N_("The tutorial's LeNet"), lenet_source("en"))
_BIAS_GRAD = Cell(
    "bias-grad",
    N_("conv1.bias.grad of a new network"),
    "torch.manual_seed(0)\nnet = Net()\nnet.zero_grad()\nprint(net.conv1.bias.grad)",
)
_ZERO_GRAD = Cell(
    "zero-grad",
    N_("50 steps with and without zero_grad()"),
    """def fit(zero_grad):
    torch.manual_seed(0)
    net = Net()
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    losses = []
    for step in range(50):
        if zero_grad:
            optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


curves = {zero_grad: fit(zero_grad) for zero_grad in (True, False)}
for zero_grad, losses in curves.items():
    every_10th = " ".join(f"{loss:.3f}" for loss in losses[::10])
    print(f"zero_grad={zero_grad!s:5}  {every_10th}  final {losses[-1]:.4f}")""",
)


def _zero_grad_outcome(ns: dict[str, Any]) -> str:
    kept, piled = ns["curves"][True], ns["curves"][False]
    if all(abs(a - b) < 1e-6 for a, b in zip(kept, piled)):
        return "a"
    # bounces: after its lowest point the piled-up run climbs back above twice that low
    low = min(range(len(piled)), key=piled.__getitem__)
    bounced = max(piled[low:]) > 2 * piled[low] or piled[-1] > kept[-1]
    return "b" if bounced else "c"


NEURAL_NETWORKS = (
    Exercise(
        "net-fc1-in",
        3,
        N_("fc1's in_features"),
        N_(
            "The tutorial's LeNet takes a 1×32×32 image: conv1 (5×5) → max-pool 2 → conv2 (16 channels, "
            "5×5) → max-pool 2 → flatten → fc1. How many inputs does fc1 need (`in_features`)?"
        ),
        (
            N_(
                "A 5×5 convolution without padding takes 4 pixels off each side length; a 2×2 pool halves it."
            ),
            N_("32 → 28 → 14 → 10 → 5: the last feature map is 16 channels of 5×5."),
        ),
        N_(
            "32 −4 = 28 (conv1), /2 = 14 (pool), −4 = 10 (conv2), /2 = 5 (pool): 16 channels × 5 × 5 = 400 "
            "numbers per image after flatten, so `nn.Linear(16 * 5 * 5, 120)`. The 5 × 5 is the image "
            "size at that point, not the kernel size."
        ),
        NumberCheck(
            400,
            mistakes=(
                (16, N_("16 is the channels alone; each channel is still a 5×5 map after the second pool.")),
                (1600, N_("1600 = 16 × 10 × 10 forgets the second max-pool, which halves 10 to 5.")),
                (576, N_("576 = 16 × 6 × 6 is what a 36×36 input would give.")),
                (
                    1024,
                    N_(
                        "1024 = 16 × 8 × 8 halves 32 twice but forgets that "
                        "each 5×5 convolution (no padding) "
                        "first takes 4 pixels off."
                    ),
                ),
            ),
        ),
    ),
    Exercise(
        "net-fc1-in-40",
        3,
        N_("The same network on a larger image"),
        N_("Feed the same LeNet 1×40×40 images. What must fc1's `in_features` become?"),
        (
            N_("Follow the size through the layers as for 32×32: −4, /2, −4, /2."),
            N_("40 → 36 → 18 → 14 → 7."),
        ),
        N_(
            "40 → 36 → 18 → 14 → 7, so 16 × 7 × 7 = 784. With 400 you get torch's `mat1 and mat2 shapes "
            "cannot be multiplied (1x784 and 400x120)`: the flattened size depends on the input's size."
        ),
        NumberCheck(
            784,
            mistakes=(
                (400, N_("400 is right for 32×32; a 40×40 input leaves a larger map after the pools.")),
                (1296, N_("1296 = 16 × 9 × 9 leaves out the second convolution's −4 (18 → 14).")),
            ),
        ),
    ),
    Exercise(
        "net-conv1-params",
        3,
        N_("Counting parameters"),
        N_("How many learnable numbers does LeNet's `conv1 = nn.Conv2d(1, 6, 5)` hold (weight and bias)?"),
        (
            N_(
                "The weight has shape (out_channels, in_channels, kH, "
                "kW); there is one bias per output channel."
            ),
            N_("6 × 1 × 5 × 5 weights plus 6 biases."),
        ),
        N_(
            "6 × 1 × 5 × 5 = 150 weights and 6 biases: 156. `params[0].size()` prints "
            "`torch.Size([6, 1, 5, 5])`, the weight."
        ),
        NumberCheck(
            156, mistakes=((150, N_("150 counts the weights; each of the 6 filters also has a bias.")),)
        ),
    ),
    Exercise(
        "net-bias-grad",
        3,
        N_("Gradients before backward()"),
        N_(
            "Predict, then run: a new LeNet, `net.zero_grad()`, then "
            "`print(net.conv1.bias.grad)`. What prints?"
        ),
        (
            N_("No backward() has run yet, so no gradient has been computed."),
            N_("Since PyTorch 2.0, `zero_grad()` sets gradients to None instead of filling them with zeros."),
        ),
        N_(
            "`None`: no gradient exists before the first backward(), and `zero_grad()` (set_to_none=True "
            "since PyTorch 2.0) resets to None rather than to zeros. Older versions printed six zeros."
        ),
        PredictCheck(
            (
                Option("a", N_("`None`"), N_("None: there is no gradient before the first backward().")),
                Option(
                    "b",
                    N_("`tensor([0., 0., 0., 0., 0., 0.])`"),
                    N_("Six zeros is what PyTorch before 2.0 printed; zero_grad() now sets None."),
                ),
                Option("c", N_("six random numbers"), N_("Gradients are never random; none exists yet.")),
            ),
            (_IMPORTS, _LENET, _BIAS_GRAD),
            lambda ns: "a" if ns["net"].conv1.bias.grad is None else "b",
            "a",
        ),
    ),
    Exercise(
        "net-zero-grad",
        3,
        N_("Forgetting zero_grad()"),
        N_(
            "Predict, then run: LeNet fits one random target for 50 SGD steps (lr 0.01), once with "
            "`optimizer.zero_grad()` and once without. Without it, the loss …"
        ),
        (
            N_("Without zeroing, each step's .grad is the sum of every gradient so far."),
            N_("Ever larger sums mean ever larger steps: at first that helps, then it overshoots."),
        ),
        N_(
            "Without zero_grad() each step uses the sum of all gradients so far, a step that keeps growing: "
            "the loss falls faster at first, then overshoots and bounces, ending above the correct loop's."
        ),
        PredictCheck(
            (
                Option("a", N_("falls exactly as with zero_grad()"), N_("The two curves are identical.")),
                Option(
                    "b",
                    N_("falls faster at first, then bounces back up"),
                    N_("The piled-up gradients make ever larger steps: faster at first, then it overshoots."),
                ),
                Option("c", N_("does not move"), N_("The loss still falls; the optimizer still steps.")),
            ),
            (_IMPORTS, _LENET, _ZERO_GRAD),
            _zero_grad_outcome,
            "b",
        ),
    ),
    Exercise(
        "net-softmax",
        3,
        N_("What goes into CrossEntropyLoss"),
        N_("Your network ends with `fc3` (10 raw scores). What should go into `nn.CrossEntropyLoss`?"),
        (
            N_("Look up what CrossEntropyLoss computes: it is two operations in one."),
            N_("CrossEntropyLoss = LogSoftmax followed by NLLLoss."),
        ),
        N_(
            "The raw scores (logits). CrossEntropyLoss applies log-softmax itself; adding softmax before it "
            "squashes the scores twice, so gradients shrink and "
            "training crawls (see the clinic in chapter 4)."
        ),
        ChoiceCheck(
            (
                Option("a", N_("the raw scores (logits)"), N_("Right: the loss applies log-softmax itself.")),
                Option(
                    "b",
                    N_("`F.softmax(scores, dim=1)`"),
                    N_("That applies softmax twice: the loss already has log-softmax inside."),
                ),
                Option(
                    "c",
                    N_("`scores.argmax(dim=1)`"),
                    N_("argmax throws the scores away and has no gradient: nothing could be learned."),
                ),
            ),
            "a",
        ),
    ),
)

# --- chapter 4: training a classifier -----------------------------------------------------------------


def _divergence(run: Run) -> Phrase:
    return Phrase(
        N_("Run {run} diverged at lr {lr:g}: its loss became inf or nan, and the engine stopped it."),
        run=run.id,
        lr=run.config().get("lr", math.nan),
    )


def _diverged(run: Run) -> Phrase | None:
    config, summary = run.config(), run.summary()
    if config.get("model") != "tutorial" or config.get("optimizer") != "sgd":
        return Phrase(
            N_("This run does not use the tutorial's recipe: choose the tutorial preset (Net, SGD).")
        )
    if summary.get("status") in ("running", "paused", "stalled"):
        return Phrase(N_("This run is still going: check it when it has ended."))
    if summary.get("status") != "failed" or "diverged" not in str(summary.get("reason", "")):
        return Phrase(
            N_("This run did not diverge (lr {lr:g}): its loss stayed a number. Try a much larger rate."),
            lr=config.get("lr", math.nan),
        )
    return None


TRAINING = (
    Exercise(
        "train-chance",
        4,
        N_("Better than guessing?"),
        N_(
            "CIFAR-10 has 10 classes with the same number of test images "
            "each. What accuracy (%) does guessing give?"
        ),
        (
            N_("Each guess is right with probability one in the number of classes."),
            N_("1 / 10, as a percentage."),
        ),
        N_(
            "10 %: so the tutorial's 54 % is far above chance, but a network that reports 10 % has learned "
            "nothing. Every accuracy is worth reading beside this line."
        ),
        NumberCheck(10, mistakes=((0.1, N_("0.1 is the probability; the question asks for a percentage.")),)),
    ),
    Exercise(
        "train-normalize",
        4,
        N_("Why Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))"),
        N_(
            "`ToTensor()` gives pixels in [0, 1]; then `Normalize(mean=0.5, std=0.5)` computes "
            "(x − mean) / std per channel. What does a black pixel (0.0) become?"
        ),
        (
            N_("Put x = 0 into (x − 0.5) / 0.5."),
            N_("And a white pixel (1.0) becomes (1 − 0.5) / 0.5 = 1."),
        ),
        N_(
            "(0 − 0.5) / 0.5 = −1, and white becomes 1: the inputs are centred on 0 in [−1, 1], which suits "
            "weights initialised around zero. 0.5 is not CIFAR-10's real mean; it is a simple choice that "
            "works well (the fast recipes use the measured per-channel statistics)."
        ),
        NumberCheck(
            -1,
            mistakes=(
                (0, N_("0 would need mean 0; the mean 0.5 is subtracted first.")),
                (-0.5, N_("(0 − 0.5) is −0.5: now divide by the std, 0.5.")),
            ),
        ),
    ),
    Exercise(
        "train-iterations",
        4,
        N_("How many lines the tutorial prints"),
        N_(
            "The tutorial trains on 50,000 images with `batch_size=4` and prints every 2,000 mini-batches. "
            "How many loss lines does one epoch print?"
        ),
        (
            N_("First: how many mini-batches make one epoch?"),
            N_("50,000 / 4 = 12,500 mini-batches; a line at 2,000, 4,000, …"),
        ),
        N_(
            "12,500 mini-batches per epoch, a line after each 2,000: at 2,000, 4,000, … 12,000, so 6 lines "
            "(`[1,  2000]` … `[1, 12000]`); the last 500 batches print nothing."
        ),
        NumberCheck(
            6,
            mistakes=(
                (12500, N_("12,500 is the number of mini-batches; a line is printed every 2,000 of them.")),
                (
                    6.25,
                    N_(
                        "12,500 / 2,000 = 6.25, but a line comes only after a "
                        "full 2,000 mini-batches: round down."
                    ),
                ),
                (25, N_("25 would be with a line per 2,000 images; it is per 2,000 mini-batches of 4.")),
            ),
        ),
    ),
    Exercise(
        "train-num-workers",
        4,
        N_("What num_workers=2 does"),
        N_(
            "`DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)`: what does `num_workers=2` do?"
        ),
        (
            N_("It is about loading data, not about training on two cores."),
            N_("The workers are separate processes; on Windows and macOS they start a fresh Python."),
        ),
        N_(
            "Two worker processes load and transform the next batches while the main process trains. On "
            "Windows (and macOS), workers start a new Python that re-imports your script, so the training "
            "code must sit under `if __name__ == '__main__':`, or it fails. `num_workers=0` loads in the "
            "main process."
        ),
        ChoiceCheck(
            (
                Option(
                    "a",
                    N_("trains on two CPU cores"),
                    N_("The training step runs in the main process; workers only prepare batches."),
                ),
                Option(
                    "b",
                    N_("two processes prepare batches in the background"),
                    N_("Right: they load and transform the next batches while the network trains."),
                ),
                Option(
                    "c",
                    N_("splits each batch of 4 into two halves"),
                    N_("The batch size stays 4; the worker processes hand out whole batches."),
                ),
            ),
            "b",
        ),
    ),
    Exercise(
        "train-diverge",
        4,
        N_("Make training diverge"),
        N_(
            "Find a learning rate at which the tutorial's recipe (its Net, SGD with momentum 0.9) diverges: "
            "train it on the Train page or the command line, then answer with the run's id."
        ),
        (
            N_("The tutorial uses lr = 0.001. Diverging means the loss becomes inf or nan."),
            N_("Try orders of magnitude: 0.1, 1, 10. The demo data and one epoch are enough."),
        ),
        N_(
            "Far too large a rate makes every step overshoot: the "
            "weights grow, the loss becomes nan, and the "
            "engine stops the run and says so. On the demo data lr 10 diverges within the first steps, while "
            "lr 1 only trains badly. Between that and 0.001 lies the range worth trying; the fast recipes "
            "climb to their top rate slowly (warm-up) for this reason."
        ),
        TrainCheck(
            _diverged,
            _divergence,
            (("preset", "tutorial"), ("data", "synthetic"), ("lr", 10.0), ("epochs", 1)),
        ),
    ),
)

# --- chapter 5: training on a GPU ---------------------------------------------------------------------

_TO_SAME = Cell(
    "to-same",
    N_("to() when nothing needs to change"),
    "x = torch.ones(3)\ny = x.to('cpu')\nprint(y is x)",
)

GPU = (
    Exercise(
        "gpu-device",
        5,
        N_("Which device?"),
        N_(
            "On a laptop without an NVIDIA GPU, what is "
            "`torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')`?"
        ),
        (N_("What does `torch.cuda.is_available()` return without a CUDA GPU?"), N_("It returns False.")),
        N_(
            "`device(type='cpu')`: the same script runs on either machine, and every `.to(device)` becomes "
            "a no-op on the CPU."
        ),
        ChoiceCheck(
            (
                Option("a", N_("`device(type='cpu')`"), N_("Right: is_available() is False, so 'cpu'.")),
                Option("b", N_("`device(type='cuda', index=0)`"), N_("Only where is_available() is True.")),
                Option(
                    "c",
                    N_("an error"),
                    N_("Naming a device is fine; only using a missing CUDA device fails."),
                ),
            ),
            "a",
        ),
    ),
    Exercise(
        "gpu-to-returns",
        5,
        N_("to() returns"),
        N_("Predict, then run: `x` is on the CPU. `y = x.to('cpu')`: is `y` the same tensor object as `x`?"),
        (
            N_("to() makes a copy only when something (device or dtype) has to change."),
            N_("Here nothing changes."),
        ),
        N_(
            "Yes: when the tensor is already on that device with that dtype, `.to()` returns it as it is. "
            "When it must move, it returns a new tensor and leaves x where it was: that is why the tutorial "
            "writes `inputs, labels = data[0].to(device), data[1].to(device)`, assigning the result. "
            "(A module's `net.to(device)` moves its parameters in place.)"
        ),
        PredictCheck(
            (
                Option("a", N_("yes, the same object"), N_("`y is x` is True: nothing had to change.")),
                Option("b", N_("no, a copy"), N_("A copy is made only when the device or dtype changes.")),
            ),
            (_IMPORTS, _TO_SAME),
            lambda ns: "a" if ns["y"] is ns["x"] else "b",
            "a",
        ),
    ),
    Exercise(
        "gpu-to-double",
        5,
        N_("Device and dtype in one call"),
        N_("`x = torch.ones(2, 2)`. With one call of `.to`, give x as float64 on the CPU."),
        (
            N_("`.to` takes a device, a dtype, or both."),
            N_("`x.to('cpu', torch.float64)` (or `torch.double`)."),
        ),
        N_(
            "`x.to('cpu', torch.float64)` or `x.to(torch.double)`: one call converts what needs converting. "
            "Float64 is twice the memory and, on GPUs, usually much slower than float32."
        ),
        ExpressionCheck((("x", "torch.ones(2, 2)"),), "x.to('cpu', torch.float64)", once="to"),
    ),
    Exercise(
        "gpu-same-device",
        5,
        N_("Network on the GPU, data on the CPU"),
        N_("`net.to('cuda')` but the inputs stay on the CPU. What happens at `net(inputs)`?"),
        (N_("Can one operation read tensors from two devices?"), N_("torch does not move data for you.")),
        N_(
            "A RuntimeError saying all tensors were expected on the same device: each batch must be moved "
            "with `.to(device)` too. torch never copies between devices behind your back."
        ),
        ChoiceCheck(
            (
                Option(
                    "a", N_("torch copies the inputs to the GPU"), N_("torch never moves data implicitly.")
                ),
                Option(
                    "b",
                    N_("a RuntimeError: tensors on different devices"),
                    N_("Right: move each batch with `.to(device)`."),
                ),
                Option("c", N_("it runs on the CPU instead"), N_("The weights are on the GPU: it cannot.")),
            ),
            "b",
        ),
    ),
    Exercise(
        "gpu-small-net",
        5,
        N_("Why a small network barely speeds up"),
        N_("The tutorial's Net trains little faster on a GPU than on a CPU. Why?"),
        (
            N_("Think of what a GPU does well: many multiplications at once."),
            N_(
                "With batch 4 and a tiny network a step is over in moments; launching its kernels and "
                "copying its batch cost more than the arithmetic."
            ),
        ),
        N_(
            "Each step does so little work that launching kernels and copying each batch cost more than the "
            "arithmetic. Widen the network or enlarge the batch (the race on the GPU page has a width "
            "multiplier) and the GPU pulls ahead."
        ),
        ChoiceCheck(
            (
                Option(
                    "a",
                    N_("too little work per step to keep the GPU busy"),
                    N_("Right: overheads dominate; more work per step lets the GPU win."),
                ),
                Option("b", N_("GPUs are slower at convolutions"), N_("GPUs are much faster at them.")),
                Option(
                    "c",
                    N_("the tutorial forgot to move the network"),
                    N_("It moves both the network and each batch; the network is just small."),
                ),
            ),
            "a",
        ),
    ),
)

EXERCISES: tuple[Exercise, ...] = TENSORS + AUTOGRAD + NEURAL_NETWORKS + TRAINING + CLINIC + GPU
BY_ID = {e.id: e for e in EXERCISES}


def for_chapter(chapter: int) -> tuple[Exercise, ...]:
    """A chapter's exercises in the order they are shown (chapter 4: the clinic's cases last)."""
    return tuple(e for e in EXERCISES if e.chapter == chapter)
