"""DS-CNN keyword classifier (Zhang et al., "Hello Edge", 2017), sized for a
one-second 40x101 log-mel input and a few milliseconds of CPU per clip."""
import torch
import torch.nn as nn

from frontend import LogMelExport, LogMelTrain, loudest_window

LABELS = ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "stop", "go"]


class DSBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=1, groups=ch, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.pw = nn.Conv2d(ch, ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.act(self.bn1(self.dw(x)))
        y = self.bn2(self.pw(y))
        return self.act(x + y)


class DSCNN(nn.Module):
    def __init__(self, ch=64, blocks=5, n_classes=len(LABELS)):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        self.stem = nn.Sequential(
            nn.Conv2d(1, ch, (10, 4), stride=(2, 2), padding=(5, 1), bias=False),
            nn.BatchNorm2d(ch), nn.ReLU())
        self.blocks = nn.Sequential(*[DSBlock(ch) for _ in range(blocks)])
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(ch, n_classes)

    def forward(self, feats):
        x = self.stem(self.input_norm(feats))
        x = self.blocks(x)
        x = x.mean(dim=(2, 3))
        return self.head(self.dropout(x))


class TrainModel(nn.Module):
    def __init__(self, channels=64, blocks=5):
        super().__init__()
        self.frontend = LogMelTrain()
        self.net = DSCNN(ch=channels, blocks=blocks)


class ExportModel(nn.Module):
    """input_values [batch, samples] at 16 kHz -> logits [batch, 10], divided
    by the calibration temperature so that softmax scores are calibrated."""

    def __init__(self, trained: TrainModel, temperature: float = 1.0, unknown_bias: float = 0.0):
        super().__init__()
        self.frontend = LogMelExport()
        self.net = trained.net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))
        bias = torch.zeros(len(LABELS))
        bias[LABELS.index("_unknown_")] = unknown_bias
        self.register_buffer("label_bias", bias)

    def forward(self, input_values):
        return self.net(self.frontend(loudest_window(input_values))) * self.inv_temperature + self.label_bias
