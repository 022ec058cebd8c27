"""The `tutorial` recipe written the way the tutorial writes it: torchvision's CIFAR10 with `ToTensor` and
`Normalize`, a `DataLoader(batch_size=4, shuffle=True, num_workers=2)`, its `Net`, its loop and its prints.

What the Train page shows first for a tutorial run and what `python -m core.export` writes for one, so a
learner can diff it against the tutorial. The engine trains the same recipe differently (tensors prepared
once, batches cut from one tensor, fused SGD: core/recipe_code.py writes that program). Comments follow the
learner's language; the printed lines are the tutorial's (tests hold them to core/console.py's formats).
It also reads an image folder given on its command line (`python train.py path/to/folder`).
"""

from __future__ import annotations

import inspect

from .catalogs import translations
from .config import TrainConfig
from .data import TUTORIAL_MEAN, TUTORIAL_STD
from .messages import N_
from .models import Net

COMMENTS = {
    "data": N_(
        "1. The data: CIFAR-10 through torchvision; ToTensor gives [0, 1], Normalize maps it to [-1, 1]"
    ),
    "folder": N_("or your own images: python this_script.py path/to/folder (with train/ and test/ inside)"),
    "workers": N_(
        "num_workers=2: two processes prepare batches; on Windows and macOS keep the __main__ guard"
    ),
    "net": N_("2. The network: chapter 3's LeNet with 3 input channels, for colour images"),
    "flatten": N_("keep the batch dimension, flatten the rest"),
    "loss": N_("3. The loss function and the optimizer"),
    "train": N_("4. Training: every epoch goes once through the training images"),
    "epoch": N_("one pass over the training images"),
    "zero": N_("clear the gradients left from the previous step"),
    "step": N_("forward, backward, update the weights"),
    "print": N_("every 2000 mini-batches, print their mean loss"),
    "save": N_("save the trained weights"),
    "test": N_("5. Testing on images the network has not seen"),
    "no_grad": N_("testing needs no gradients"),
}
CLASSES = "('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')"


def _net_source(comment: str) -> str:
    source = inspect.getsource(Net).replace("num_classes: int = 10", "num_classes=10")
    lines = [line for line in source.splitlines() if not line.strip().startswith('"""')]
    return "\n".join(lines).replace("# flatten all dimensions except batch", f"# {comment}")


# what the tutorial's program can express: its Net, plain SGD, a constant rate, no tricks, whole epochs
TUTORIAL_VALUES = dict(
    model="tutorial", optimizer="sgd", weight_decay=0.0, schedule="constant", label_smoothing=0.0, flip=False,
    crop_pad=0, tta=False, amp="off", channels_last=False, norm_bias_lr_scale=1.0,
)  # fmt: skip


def written_as_tutorial(cfg: TrainConfig) -> bool:
    """Whether `cfg` is a recipe the tutorial's own program trains: its settings and real images (the
    generated demo shapes have no torchvision dataset)."""
    same = all(getattr(cfg, k) == v for k, v in TUTORIAL_VALUES.items())
    return same and float(cfg.epochs).is_integer() and cfg.data != "synthetic"


def tutorial_script(cfg: TrainConfig, lang: str = "en") -> str:
    """The tutorial's chapter 4 program with `cfg`'s epochs, batch size, learning rate, momentum and
    normalisation (call it where `written_as_tutorial(cfg)`)."""
    c = {k: translations(lang).gettext(v) for k, v in COMMENTS.items()}
    mean, std = tuple(cfg.mean or TUTORIAL_MEAN), tuple(cfg.std or TUTORIAL_STD)
    return f"""import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms

# {c["data"]}
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize({mean}, {std})])
batch_size = {cfg.batch_size}


{_net_source(c["flatten"])}


def main():
    if len(sys.argv) > 1:
        # {c["folder"]}
        resized = transforms.Compose([transforms.Resize((32, 32)), transform])
        trainset = torchvision.datasets.ImageFolder(sys.argv[1] + "/train", transform=resized)
        testset = torchvision.datasets.ImageFolder(sys.argv[1] + "/test", transform=resized)
        classes = tuple(trainset.classes)
    else:
        trainset = torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=transform)
        testset = torchvision.datasets.CIFAR10(root="./data", train=False, download=True, transform=transform)
        classes = {CLASSES}
    # {c["workers"]}
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True, num_workers=2)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=2)

    # {c["net"]}
    net = Net(len(classes))

    # {c["loss"]}
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr={cfg.lr:g}, momentum={cfg.momentum:g})

    # {c["train"]}
    for epoch in range({int(cfg.epochs)}):  # {c["epoch"]}
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            # {c["zero"]}
            optimizer.zero_grad()
            # {c["step"]}
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            # {c["print"]}
            running_loss += loss.item()
            if i % 2000 == 1999:
                print(f"[{{epoch + 1}}, {{i + 1:5d}}] loss: {{running_loss / 2000:.3f}}")
                running_loss = 0.0
    print("Finished Training")

    # {c["save"]}
    torch.save(net.state_dict(), "./cifar_net.pth")

    # {c["test"]}
    correct, total = 0, 0
    correct_pred = {{name: 0 for name in classes}}
    total_pred = {{name: 0 for name in classes}}
    with torch.no_grad():  # {c["no_grad"]}
        for images, labels in testloader:
            outputs = net(images)
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
            for label, prediction in zip(labels, predicted):
                correct_pred[classes[label]] += int(label == prediction)
                total_pred[classes[label]] += 1
    print(f"Accuracy of the network on the {{total}} test images: {{100 * correct // total}} %")
    for name, right in correct_pred.items():
        print(f"Accuracy for class: {{name:5s}} is {{100 * right / total_pred[name]:.1f}} %")


if __name__ == "__main__":
    main()
"""
