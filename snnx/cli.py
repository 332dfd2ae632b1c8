"""The ``snnx`` command line: parse arguments and call one public API function each (snnx.api); no logic."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from snnx.errors import SnnxError
from snnx.export.frameworks import FRAMEWORKS


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", type=Path, help="YAML config file (every key has a default)")
    p.add_argument("-o", "--out", type=Path, default=Path("runs/default"), help="run folder (default: runs/default)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, value parsed as YAML (e.g. --set train.epochs=3)")
    p.add_argument("--data-dir", type=Path, help="folder with the dataset files (else $SNNX_DATA_DIR, ./data)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snnx", description="Spiking networks from PyTorch to Loihi 2.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a float SNN; writes checkpoint, metrics, plots")
    _add_config_args(p)
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.json")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in the folder (removes its checkpoints, model.net, sim, deploy)")

    p = sub.add_parser("export", help="export to NIR and quantize to Loihi fixed point (model.net)")
    p.add_argument("run", type=Path, nargs="?", help="run folder with checkpoint.json")
    p.add_argument("--target", default="loihi", choices=["loihi"])
    p.add_argument("--from-nir", type=Path, help="quantize this NIR file instead of a checkpoint")
    p.add_argument("-o", "--out", type=Path, help="run folder to write (with --from-nir)")
    p.add_argument("--scale", choices=["max", "percentile"], help="weight scale rule (default: config)")
    p.add_argument("--percentile", type=float, help="percentile for --scale percentile")
    p.add_argument("--timesteps", type=int, help="input steps per sample; written into model.net, which sim, deploy, report and predict follow")
    p.add_argument("--framework", default="auto", choices=list(FRAMEWORKS),
                   help="whose NIR exporter wrote the graph (its units and conventions; default: recognise it)")
    p.add_argument("--stream-clock", type=int, metavar="N",
                   help="N clock neurons per hidden dense_rec layer silence its last step, so streamed samples "
                        "leak nothing through netx's reset (default: config export.stream_clock)")

    p = sub.add_parser("sim", help="bit-accurate fixed-point simulation vs the float model")
    p.add_argument("run", type=Path)
    p.add_argument("--backend", choices=["fast", "lava", "both"])
    p.add_argument("--samples", type=int, help="first N test images (default: all)")
    p.add_argument("--input", type=Path, help="spikes.npy [samples, T, *input shape] instead of the dataset")
    p.add_argument("--save-spikes", type=Path, help="write every layer's spikes to this .npz")
    p.add_argument("--labels", type=Path, help="labels.npy [samples] for --input: report the accuracy")
    p.add_argument("--data-dir", type=Path)

    p = sub.add_parser("deploy", help="deployment bundle, core map and energy report")
    p.add_argument("run", type=Path)
    p.add_argument("--target", default="loihi2", choices=["loihi2", "nir"])
    p.add_argument("--run", dest="run_hw", action="store_true", help="run on Loihi 2 hardware (needs lava-loihi)")
    p.add_argument("--profile", help="energy profile name or JSON file")
    p.add_argument("--data-dir", type=Path)

    p = sub.add_parser("run", help="train, export, sim and deploy in one go")
    _add_config_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace the run already in the folder")

    p = sub.add_parser("predict", help="classify one image with the float and the fixed-point model")
    p.add_argument("run", type=Path)
    p.add_argument("--image", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, help="save input raster and output spikes to this PNG")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("report", help="write RUN/report.html and the plots")
    p.add_argument("run", type=Path)
    p.add_argument("--data-dir", type=Path)

    p = sub.add_parser("frontier", help="search the accuracy-energy frontier (Optuna NSGA-II, one run per trial)")
    p.add_argument("-c", "--config", type=Path, help="space file: config keys to search (default: snnx's own)")
    p.add_argument("-o", "--out", type=Path, required=True, help="folder for the trials, frontier.json/png")
    p.add_argument("--trials", type=int, required=True, help="complete trials the study should hold")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///OUT/frontier.db)")
    p.add_argument("--study", help="study name in the storage (default: frontier)")
    p.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS",
                   help="a worker silent for twice this long has its trial failed and retried")
    p.add_argument("--data-dir", type=Path)

    p = sub.add_parser("compare", help="train the same architecture as an ANN and compare")
    p.add_argument("run", type=Path)
    p.add_argument("--data-dir", type=Path)
    return parser


def dispatch(args: argparse.Namespace) -> None:
    """Call the public API function of the command (snnx.api), nothing else."""
    import snnx

    cmd = args.command
    if cmd == "train":
        snnx.train(args.out, config=args.config, overrides=args.overrides, data_dir=args.data_dir,
                   resume=args.resume, overwrite=args.overwrite)
    elif cmd == "export":
        snnx.export(args.run, from_nir=args.from_nir, out=args.out, target=args.target, scale=args.scale,
                    percentile=args.percentile, timesteps=args.timesteps, framework=args.framework,
                    stream_clock=args.stream_clock)
    elif cmd == "sim":
        snnx.simulate(args.run, backend=args.backend, samples=args.samples, input=args.input,
                      save_spikes=args.save_spikes, data_dir=args.data_dir, labels=args.labels)
    elif cmd == "deploy":
        snnx.deploy(args.run, target=args.target, run_hw=args.run_hw, profile=args.profile, data_dir=args.data_dir)
    elif cmd == "run":
        snnx.run_pipeline(args.out, config=args.config, overrides=args.overrides, data_dir=args.data_dir,
                          overwrite=args.overwrite)
    elif cmd == "predict":
        snnx.predict(args.run, args.image, as_json=args.json, plot=args.plot, seed=args.seed)
    elif cmd == "report":
        snnx.report(args.run, data_dir=args.data_dir)
    elif cmd == "compare":
        snnx.compare(args.run, data_dir=args.data_dir)
    elif cmd == "frontier":
        snnx.frontier(args.out, space=args.config, trials=args.trials, storage=args.storage, study=args.study,
                      data_dir=args.data_dir, heartbeat_s=args.heartbeat)


def written_folder(args: argparse.Namespace) -> Path | None:
    """The run folder a command writes (locked while it runs), or None for a read-only command."""
    if args.command in ("train", "run"):
        return args.out
    if args.command == "export":
        return args.out if args.from_nir is not None else (args.out or args.run)
    if args.command in ("sim", "deploy", "report", "compare"):
        return args.run
    return None


def dispatch_locked(args: argparse.Namespace) -> None:
    """``dispatch`` while holding the run folder's lock (a concurrent command is refused)."""
    from snnx.io import run_lock
    from snnx.train.distributed import writes_run_folder

    folder = written_folder(args)
    # a new folder: the stage takes the lock once it creates it; under torchrun rank 0 alone
    # writes, so only it locks (the other ranks would be refused by their own rank 0)
    if folder is None or not Path(folder).is_dir() or not writes_run_folder():
        dispatch(args)
        return
    with run_lock(folder, args.command):
        dispatch(args)


_DISK_ERRORS = {errno.ENOSPC: "the disk is full; free some space and run the command again",
                errno.EDQUOT: "the disk quota is exceeded; free some space and run the command again",
                errno.EROFS: "the file system is read-only; write the run to another folder (-o)",
                errno.EACCES: "permission denied; fix the folder's permissions or use another folder (-o)",
                errno.EPERM: "operation not permitted; fix the folder's permissions or use another folder (-o)"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        dispatch_locked(args)
    except SnnxError as exc:
        if args.debug:
            raise
        print(f"snnx: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug or exc.errno not in _DISK_ERRORS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"snnx: error: cannot write{where}: {_DISK_ERRORS[exc.errno]} (earlier results were kept)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snnx: interrupted; finished results were kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
