"""What tools/train.py and tools/test.py check before they build anything: config, overrides, data paths.

Each problem raises `ConfigError` (or `FileNotFoundError` for a path) with a one-line message that
names the config key or file, so the tools can stop with that line instead of a traceback from deep
inside a build, minutes later.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, Sequence

from mmengine.config import Config

NEW_KEY_MARK = "+"  # `--cfg-options +key=value` adds a key the config does not have (Hydra's convention)


class ConfigError(ValueError):
    """A config or command-line override that cannot be right."""


def load_config(path: str, options: Mapping | None = None) -> Config:
    """The config at `path` with `--cfg-options` applied; every overridden key must exist (or be marked new)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config file not found: {path}")
    cfg = Config.fromfile(path)
    if options:
        overrides = {}
        for key, value in options.items():
            new = key.startswith(NEW_KEY_MARK)
            key = key.removeprefix(NEW_KEY_MARK)
            _check_key(cfg, key, new)
            overrides[key] = value
        cfg.merge_from_dict(overrides)
    return cfg


def _check_key(cfg: Config, key: str, new: bool) -> None:
    """Raise `ConfigError` unless every part of the dotted `key` names an entry (the last one may be `new`)."""
    node, walked = cfg.to_dict(), []
    parts = key.split(".")
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if not isinstance(node, Mapping | list | tuple):
            raise ConfigError(f"--cfg-options {key}: {'.'.join(walked)} is a {type(node).__name__}, not a dict or list")
        where = ".".join(walked) or "the config"
        if isinstance(node, list | tuple):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--cfg-options {key}: {where} is a list of {len(node)}, it has no entry {part!r}")
        elif part not in node:
            if last and new:
                return
            close = difflib.get_close_matches(part, [str(child) for child in node], n=1)
            hint = f" (did you mean {'.'.join([*walked, close[0]])!r}?)" if close else ""
            addition = f"; mark a key to add with '{NEW_KEY_MARK}' ({NEW_KEY_MARK}{key}=...)" if last else ""
            raise ConfigError(f"--cfg-options {key}: {where} has no key {part!r}{hint}{addition}")
        node = node[part] if isinstance(node, Mapping) else node[int(part)]
        walked.append(part)


def _datasets(node, where: str) -> Iterator[tuple[dict, str]]:
    """Each dataset config (with its key path) in a dataset config and the datasets it wraps."""
    if not isinstance(node, Mapping):
        return
    if "ann_file" in node:
        yield node, where
    if isinstance(node.get("dataset"), Mapping):
        yield from _datasets(node["dataset"], f"{where}.dataset")
    for index, inner in enumerate(node.get("datasets") or []):
        yield from _datasets(inner, f"{where}.datasets.{index}")


def _require(path: str, what: str, where: str, remedy: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path} ({where}); {remedy}")


def check_data_paths(cfg: Config, loaders: Sequence[str], evaluators: Sequence[str]) -> None:
    """Every data root, info file and GT database the named dataloaders and evaluators read exists."""
    prepare = "prepare the data as the README's 'Data' section says, or set the path with --cfg-options"
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        for dataset, where in _datasets(cfg[loader].get("dataset"), f"{loader}.dataset"):
            root = dataset.get("data_root") or ""
            if root:
                _require(root, "data root", f"{where}.data_root", prepare)
            info = os.path.join(root, dataset["ann_file"])
            remedy = f"write it with tools/create_data.py nuscenes --root-path {root}"
            _require(info, "info file", f"{where}.ann_file", remedy)
            for index, step in enumerate(dataset.get("pipeline") or []):
                if isinstance(step, Mapping) and step.get("type") == "ObjectSample":
                    database = os.path.join(step.get("data_root", ""), step["db_info_path"])
                    where_db = f"{where}.pipeline.{index}.db_info_path"
                    _require(database, "GT database", where_db, "tools/create_data.py writes it")
    for evaluator in evaluators:
        metrics = cfg.get(evaluator)
        for index, metric in enumerate(metrics if isinstance(metrics, list) else [metrics]):
            if isinstance(metric, Mapping) and metric.get("data_root"):
                where = f"{evaluator}{f'.{index}' if isinstance(metrics, list) else ''}.data_root"
                _require(metric["data_root"], "data root", where, prepare)
