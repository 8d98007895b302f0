"""Checks train.py's recipe aliases resolve to the runs they name, without training:
`--recipe v13` (and no --recipe: the shipped v13) must give exactly the arguments and module
settings of `--recipe v7 --blocks 9 --channels-last --epochs 28` (the run the card's rule judged),
and `--recipe v7` alone must still give v7's (5 blocks, default layout, 32 epochs).

    /usr/bin/python3 scripts/kws/test_recipes.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402


def resolved(argv):
    args, name = T.parse_args(argv)
    return name, dict(vars(args)), (T.RECIPE, T.BLOCKS, T.CHANNELS_LAST, T.CODEC, T.ARCH, T.TC_MULT)


def main():
    name13, args13, set13 = resolved(["--recipe", "v13"])
    _, args_long, set_long = resolved(["--recipe", "v7", "--blocks", "9", "--channels-last", "--epochs", "28"])
    name_default, args_default, set_default = resolved([])
    assert name13 == "v13" and name_default == "v13", (name13, name_default)
    assert args13 == args_long and set13 == set_long, (args13, args_long, set13, set_long)
    assert args_default == args13 and set_default == set13, (args_default, set_default)
    _, args7, set7 = resolved(["--recipe", "v7"])
    assert set7 == ("v7", 5, False, 0.0, "dscnn", 1.0) and args7["epochs"] == 32, (set7, args7["epochs"])
    # An explicit option still wins over v13's defaults.
    _, args13e, set13e = resolved(["--recipe", "v13", "--epochs", "3", "--blocks", "5"])
    assert args13e["epochs"] == 3 and set13e[1] == 5 and set13e[2] is True, (args13e["epochs"], set13e)
    print("recipes ok: v13 (default) = v7 --blocks 9 --channels-last --epochs 28; v7 unchanged")


if __name__ == "__main__":
    main()
