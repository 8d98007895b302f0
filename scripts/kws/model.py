"""Keyword classifiers for a one-second 40x101 log-mel input, a few milliseconds of CPU per clip:
the DS-CNN (Zhang et al., "Hello Edge", 2017; the shipped model) and a temporal-convolution
ResNet (after Choi et al., "Temporal Convolution for Real-time Keyword Spotting on Mobile
Devices", 2019: the 40 mel bands are the channels of 1-D convolutions over time, so a layer
sees the whole spectrum of each frame and is far cheaper to train on a CPU)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from frontend import LogMelExport, LogMelTrain, loudest_window, set_level

LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "stop", "go"]


class DSBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=1, groups=ch, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.pw = nn.Conv2d(ch, ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        # In place (same floats, same gradients): on this machine's PyTorch 9 blocks in channels_last
        # take 370-373 ms a step against 392-398 ms out of place (session 21, same run).
        y = F.relu(self.bn1(self.dw(x)), inplace=True)
        y = self.bn2(self.pw(y))
        return F.relu(y.add_(x), inplace=True)


UNKNOWN_INDEX = LABELS.index("_unknown_")


def fold_near(logits):
    """[B, 10 + k] -> [B, 10]: the k near-word classes folded into `_unknown_` (log-sum-exp with it), so
    that softmax over the result gives `_unknown_` the summed probability and every other label its own."""
    n = len(LABELS)
    unknown = torch.logsumexp(torch.cat([logits[:, UNKNOWN_INDEX:UNKNOWN_INDEX + 1], logits[:, n:]], 1), 1, keepdim=True)
    return torch.cat([logits[:, :UNKNOWN_INDEX], unknown, logits[:, UNKNOWN_INDEX + 1:n]], 1)


class DSCNN(nn.Module):
    """`near` > 0 (recipe v14): that many extra training-only classes, one per command, for the
    synthetic words that share its sounds ("stock", "shop" beside "stop"); forward() folds them into
    `_unknown_`, so the exported graph keeps the ten labels. train_logits() gives all of them."""

    def __init__(self, ch=64, blocks=5, n_classes=len(LABELS), near=0, phones=0):
        super().__init__()
        self.near = near
        self.input_norm = nn.BatchNorm2d(1)
        self.stem = nn.Sequential(
            nn.Conv2d(1, ch, (10, 4), stride=(2, 2), padding=(5, 1), bias=False),
            nn.BatchNorm2d(ch), nn.ReLU())
        self.blocks = nn.Sequential(*[DSBlock(ch) for _ in range(blocks)])
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(ch, n_classes + near)
        # `phones` > 0 (recipe v15): a training-only head that reads each of the blocks' time frames
        # (averaged over frequency) as one of `phones` phonemes or CTC's blank; forward() never uses it,
        # so the exported graph is the same as without it.
        self.phone_head = nn.Linear(ch, phones + 1) if phones else None

    def maps(self, feats):
        return self.blocks(self.stem(self.input_norm(feats)))

    def classify(self, maps):
        return self.head(self.dropout(maps.mean(dim=(2, 3))))

    def train_logits(self, feats):
        return self.classify(self.maps(feats))

    def train_outputs(self, feats):
        """(logits with any near classes, phoneme-head frames [B, T, phones + 1]); training only."""
        x = self.maps(feats)
        return self.classify(x), self.phone_head(x.mean(dim=2).transpose(1, 2))

    def forward(self, feats):
        logits = self.train_logits(feats)
        return fold_near(logits) if self.near else logits


class TCBlock(nn.Module):
    """Two 1-D convolutions over time (kernel 9) with a residual path, 1x1-projected when the
    width or the stride changes."""

    def __init__(self, cin, cout, stride, kernel=9):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv1d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm1d(cout))
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + (x if self.proj is None else self.proj(x)))


class TCResNet(nn.Module):
    """[B, 1, n_mels, T] log-mel -> logits. Stages of `per_stage` blocks, the first of each with
    stride 2 in time; widths scaled by `mult` (stem 16, stages 24/32/48 at mult 1)."""

    def __init__(self, mult=1.0, per_stage=2, n_mels=40, n_classes=len(LABELS), stem=16, stages=(24, 32, 48)):
        super().__init__()
        width = [max(1, round(c * mult)) for c in (stem,) + tuple(stages)]
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.stem = nn.Sequential(nn.Conv1d(n_mels, width[0], 3, padding=1, bias=False),
                                  nn.BatchNorm1d(width[0]), nn.ReLU())
        layers, cin = [], width[0]
        for cout in width[1:]:
            for j in range(per_stage):
                layers.append(TCBlock(cin, cout, 2 if j == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, feats):
        x = self.stem(self.input_norm(feats.squeeze(1)))
        x = self.blocks(x)
        return self.head(self.dropout(x.mean(dim=2)))


class TrainModel(nn.Module):
    """arch "dscnn" (channels x blocks, `near` training-only near-word classes, a `phones`-symbol
    training-only phoneme head) or "tc" (TCResNet,
    `mult` x `blocks` per stage). `level` (recipe v16): trained on clips set to the training level."""

    def __init__(self, channels=64, blocks=5, arch="dscnn", mult=1.0, near=0, phones=0, level=False):
        super().__init__()
        self.frontend = LogMelTrain(level=level)
        if (near or phones) and arch != "dscnn":
            raise ValueError("near-word classes and the phoneme head are built for the DS-CNN only")
        self.net = DSCNN(ch=channels, blocks=blocks, near=near, phones=phones) if arch == "dscnn" else TCResNet(mult=mult, per_stage=blocks)


class ExportModel(nn.Module):
    """input_values [batch, samples] at 16 kHz -> logits [batch, 10], divided
    by the calibration temperature so that softmax scores are calibrated."""

    def __init__(self, trained: TrainModel, temperature: float = 1.0, unknown_bias: float = 0.0, level: bool = False):
        super().__init__()
        self.level = level  # recipe v13.1: the window set to the training level (frontend.set_level)
        self.frontend = LogMelExport()
        self.net = trained.net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))
        bias = torch.zeros(len(LABELS))
        bias[LABELS.index("_unknown_")] = unknown_bias
        self.register_buffer("label_bias", bias)

    def forward(self, input_values):
        window = loudest_window(input_values)
        if self.level:
            window = set_level(window)
        return self.net(self.frontend(window)) * self.inv_temperature + self.label_bias
